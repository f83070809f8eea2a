// Durable file operations for the checkpoint service: whole writes, exact
// positioned reads, fsync of files and directories, atomic replacement.
//
// File is the POSIX descriptor owner (reads of data files, and the real
// FileSystem's writes). The durable writes come in two forms: over a
// FileSystem (checkpoint/file_system.h), which is what a save uses, so that
// a test layer sees every step; and without one, over the POSIX layer.
// The other free functions are the POSIX operations themselves.
//
// Every function throws Error(Io) naming the path (and offset, where there is
// one) with the operating system's reason; nothing else is thrown. All are
// thread-safe (they share no state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/unique_fd.h"

namespace myriad::checkpoint {

class FileSystem;

// An open file and its path (for errors); closed by the destructor.
// Move-only.
class File {
 public:
  File() = default;
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  // O_RDONLY.
  static File open_read(const std::string& path);
  // O_WRONLY | O_CREAT | O_TRUNC, mode 0644.
  static File create(const std::string& path);

  int fd() const { return fd_.fd(); }
  const std::string& path() const { return path_; }
  uint64_t size() const;
  // Writes all bytes at the current position (retrying short writes).
  void write_all(const void* data, size_t bytes);
  // Reads up to `bytes` at `offset`; returns how many were read (fewer only
  // at the end of the file).
  size_t pread_some(void* data, size_t bytes, uint64_t offset) const;
  void sync();
  // Closes, reporting the error a deferred write may return from close().
  void close();

 private:
  UniqueFd fd_;
  std::string path_;
};

// fsync of a directory: makes the names created, renamed or removed in it durable.
void sync_dir(const std::string& path);
// Writes `bytes` at `data` to `path` (created or truncated) and fsyncs it.
// When `data` is page-aligned the page-aligned body is written with O_DIRECT
// (no copy into the page cache, so no write-back storm at the fsync) and the
// tail through the page cache; a file system that refuses O_DIRECT (tmpfs)
// gets an ordinary write. A `bytes_per_second` above 0 paces the writes to
// that rate (a persist that leaves the disk or the shared file system to
// the training's own I/O); 0 writes as fast as the disk takes them.
void write_file_durably(FileSystem& fs, const std::string& path, const unsigned char* data, size_t bytes,
                        uint64_t bytes_per_second = 0);
void write_file_durably(const std::string& path, const unsigned char* data, size_t bytes,
                        uint64_t bytes_per_second = 0);
// Writes `text` to `path` (created or truncated) and fsyncs it.
void write_file_durably(FileSystem& fs, const std::string& path, const std::string& text);
void write_file_durably(const std::string& path, const std::string& text);
// Writes `text` to `tmp_path`, fsyncs it, renames it over `path` and fsyncs
// the directory: a reader sees the old or the new content, never a mix.
void replace_file_atomically(FileSystem& fs, const std::string& path, const std::string& tmp_path,
                             const std::string& text);
void replace_file_atomically(const std::string& path, const std::string& tmp_path, const std::string& text);
// The directory that holds `path` ("." for a bare name).
std::string parent_dir(const std::string& path);
// The whole content of a (small) file.
std::string read_text_file(const std::string& path);
// mkdir that accepts an existing directory; true when it created one.
bool make_dir(const std::string& path);
// Removes a file or a directory tree; a missing path is not an error.
void remove_tree(const std::string& path);
// The names in a directory ("." and ".." left out), sorted.
std::vector<std::string> list_dir(const std::string& path);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
// renameat2(RENAME_EXCHANGE) of two existing paths.
void exchange_paths(const std::string& a, const std::string& b);

}  // namespace myriad::checkpoint
