// FaultFileSystem: a checkpoint FileSystem for tests that does every
// operation on the real disk (through posix_file_system()) and records each
// one that changes what is under its root — create, open for append,
// append, fsync, rename, exchange, removal, mkdir, fsync of a directory —
// in the order they happened. tests/checkpoint/power_loss.h replays such a
// log to build what a power loss after any operation would leave.
//
// Reads (list, read, exists) and operations outside the root pass through
// unrecorded. An operation that fails is not recorded (a failed rename
// changed nothing; the tests make none fail).
//
// Several processes (the ranks of a world) each use their own instance over
// the same root; for one order across them, give every instance the same
// counter in shared memory (`clock`): each operation takes its number from
// it after the real operation returned, so an operation that happened
// before another (through a collective) has the smaller number. Each
// instance tags the files it opens with its `source` (the rank), so that
// merged logs keep the processes' files apart.
//
// Thread-safe: one mutex orders the operations of a process (the caller's
// and the persist thread's) and their records.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "checkpoint/file_system.h"

namespace myriad::test {

struct FileOp {
  enum class Kind : uint8_t {
    Create,      // path; created or truncated; `handle` names the open file
    OpenAppend,  // path, handle
    Append,      // handle, data (after what the handle wrote)
    SyncFile,    // handle
    Rename,      // path -> path2
    Exchange,    // path <-> path2
    RemoveFile,  // path
    RemoveTree,  // path
    MakeDir,     // path
    SyncDir,     // path
  };
  Kind kind = Kind::Create;
  uint64_t seq = 0;     // order among every instance sharing the clock
  uint64_t handle = 0;  // source << 32 | the instance's count of opened files
  std::string path{};   // relative to the root ("" is the root itself)
  std::string path2{};
  std::string data{};

  bool is_sync() const { return kind == Kind::SyncFile || kind == Kind::SyncDir; }
  // "fsync <path>", "rename a -> b", "append 4096 bytes to <path>", ...
  std::string describe() const;
};

class FaultFileSystem : public checkpoint::FileSystem {
 public:
  // Records what happens under `root` (an existing directory). `clock`, when
  // given, must outlive this object.
  explicit FaultFileSystem(std::string root, uint32_t source = 0, std::atomic<uint64_t>* clock = nullptr);

  const std::string& root() const { return root_; }
  // The operations so far, in order (a copy).
  std::vector<FileOp> log() const;

  std::unique_ptr<checkpoint::WritableFile> create(const std::string& path,
                                                   const checkpoint::CreateOptions& options) override;
  std::unique_ptr<checkpoint::WritableFile> open_append(const std::string& path) override;
  void rename(const std::string& from, const std::string& to) override;
  void exchange(const std::string& a, const std::string& b) override;
  void remove_file(const std::string& path) override;
  void remove_tree(const std::string& path) override;
  bool make_dir(const std::string& path) override;
  void sync_dir(const std::string& path) override;
  std::vector<std::string> list_dir(const std::string& path) override;
  std::string read_file(const std::string& path) override;
  bool exists(const std::string& path) override;
  bool is_directory(const std::string& path) override;

 private:
  friend class FaultWritableFile;
  // `path` relative to the root, or false when it lies outside.
  bool relative(const std::string& path, std::string& out) const;
  // Appends `op` (numbered now) to the log; the caller holds mutex_.
  void record(FileOp op);

  std::string root_;
  uint32_t source_;
  std::atomic<uint64_t>* clock_;
  mutable std::mutex mutex_;
  uint64_t local_clock_ = 0;
  uint64_t opened_ = 0;
  std::vector<FileOp> log_;
  checkpoint::FileSystem& real_;
};

// A log as bytes and back, for a rank to hand its log to the parent.
void write_log(const std::string& path, const std::vector<FileOp>& log);
std::vector<FileOp> read_log(const std::string& path);

}  // namespace myriad::test
