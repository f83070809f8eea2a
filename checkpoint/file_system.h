// FileSystem: the file operations a checkpoint save is made of — create,
// append, fsync, rename, remove, mkdir, fsync of a directory, list, read —
// behind one narrow interface, so that a test can put a layer of its own
// under a save (tests/checkpoint/fault_file_system.h records every
// operation and simulates a power loss after any of them).
//
// posix_file_system() is the real one and the default everywhere
// (CheckpointerOptions::file_system left null). A Checkpointer uses the one
// it was given for every write, rename, removal and fsync of its saves, and
// for the names it looks up while committing (leftovers, retention); loads
// read data files through File (checkpoint/file_io.h) directly, because a
// power loss is simulated by writing the surviving files out as a real
// directory and reading that with the normal reader.
//
// Paths are absolute or relative to the working directory, as the caller
// gives them. Every method throws Error(Io) naming the operation and the
// path (and the offset of a failed write) with the operating system's
// reason, and nothing else; after a failure nothing is retried or undone
// (a half-written file stays, a failed rename changed nothing).
//
// Thread-safety: a FileSystem is shared by the threads of a process (the
// caller's and the persist thread): every method must be safe to call
// concurrently. A WritableFile is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace myriad::checkpoint {

// A file open for writing, positioned after the bytes written through it.
// The destructor closes it without reporting (an error-free close is
// close()'s job).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all `bytes` after the ones written so far (retrying short writes).
  // On a file opened with CreateOptions::direct, `data` and `bytes` must be
  // multiples of 4096 (direct() says whether the file is direct).
  virtual void append(const void* data, size_t bytes) = 0;
  // fsync: what was written before survives a power loss (the file's name
  // needs the fsync of its directory as well).
  virtual void sync() = 0;
  // Closes, reporting the error a deferred write may return from close().
  virtual void close() = 0;
  // True when the writes bypass the page cache (O_DIRECT).
  virtual bool direct() const = 0;
  virtual const std::string& path() const = 0;
};

struct CreateOptions {
  // Ask for O_DIRECT; a file system that refuses it (tmpfs) gives an
  // ordinary file, and WritableFile::direct() says which it is.
  bool direct = false;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Creates `path`, or truncates it if it exists (mode 0644).
  virtual std::unique_ptr<WritableFile> create(const std::string& path, const CreateOptions& options) = 0;
  // Opens an existing file for writing after its last byte.
  virtual std::unique_ptr<WritableFile> open_append(const std::string& path) = 0;
  // rename(2): atomically replaces `to` (a file, or an empty directory).
  virtual void rename(const std::string& from, const std::string& to) = 0;
  // Swaps two existing paths atomically (renameat2 RENAME_EXCHANGE): each
  // names the other's former content at every instant.
  virtual void exchange(const std::string& a, const std::string& b) = 0;
  // Removes a file; a missing one is not an error.
  virtual void remove_file(const std::string& path) = 0;
  // Removes a file or a directory tree; a missing path is not an error.
  virtual void remove_tree(const std::string& path) = 0;
  // mkdir (mode 0755) that accepts an existing directory; true when it
  // created one (whose name then needs the fsync of its parent).
  virtual bool make_dir(const std::string& path) = 0;
  // fsync of a directory: makes the names created, renamed or removed in it
  // durable.
  virtual void sync_dir(const std::string& path) = 0;
  // The names in a directory ("." and ".." left out), sorted.
  virtual std::vector<std::string> list_dir(const std::string& path) = 0;
  // The whole content of a (small) file.
  virtual std::string read_file(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual bool is_directory(const std::string& path) = 0;
};

// The operating system's file system; one instance for the process, never
// destroyed.
FileSystem& posix_file_system();

}  // namespace myriad::checkpoint
