#include "checkpoint/file_system.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "checkpoint/file_io.h"
#include "runtime/error.h"

namespace myriad::checkpoint {
namespace {

constexpr size_t kPage = 4096;

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(File file, uint64_t offset, bool direct)
      : file_(std::move(file)), offset_(offset), direct_(direct) {}

  void append(const void* data, size_t bytes) override {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t done = 0; done < bytes;) {
      const size_t n = bytes - done;
      ssize_t w = ::pwrite(file_.fd(), p + done, n, static_cast<off_t>(offset_));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) raise_errno(errno, fmt::format("write {} at offset {}", file_.path(), offset_));
      if (direct_ && static_cast<size_t>(w) != n && (w == 0 || w % kPage != 0)) {
        // A regular file takes fewer bytes than asked only when its file
        // system (or a size limit) has no room for more.
        raise(ErrorCode::Io, "write {} at offset {}: {} of {} bytes written: No space left on device",
              file_.path(), offset_, w, n);
      }
      // A short aligned write goes on: the next one names the cause (ENOSPC).
      done += static_cast<size_t>(w);
      offset_ += static_cast<uint64_t>(w);
    }
  }
  void sync() override { file_.sync(); }
  void close() override { file_.close(); }
  bool direct() const override { return direct_; }
  const std::string& path() const override { return file_.path(); }

 private:
  File file_;
  uint64_t offset_;
  bool direct_;
};

class PosixFileSystem : public FileSystem {
 public:
  std::unique_ptr<WritableFile> create(const std::string& path, const CreateOptions& options) override {
    if (options.direct) {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
      if (fd >= 0) return std::make_unique<PosixWritableFile>(File(fd, path), 0, true);
      // EINVAL: this file system does not do O_DIRECT; write through the cache.
      if (errno != EINVAL) raise_errno(errno, "create " + path);
    }
    return std::make_unique<PosixWritableFile>(File::create(path), 0, false);
  }

  std::unique_ptr<WritableFile> open_append(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) raise_errno(errno, "open " + path);
    File file(fd, path);
    const uint64_t end = file.size();
    return std::make_unique<PosixWritableFile>(std::move(file), end, false);
  }

  void rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) raise_errno(errno, "rename " + from + " to " + to);
  }
  void exchange(const std::string& a, const std::string& b) override { exchange_paths(a, b); }
  void remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) raise_errno(errno, "remove " + path);
  }
  void remove_tree(const std::string& path) override { checkpoint::remove_tree(path); }
  bool make_dir(const std::string& path) override { return checkpoint::make_dir(path); }
  void sync_dir(const std::string& path) override { checkpoint::sync_dir(path); }
  std::vector<std::string> list_dir(const std::string& path) override { return checkpoint::list_dir(path); }
  std::string read_file(const std::string& path) override { return read_text_file(path); }
  bool exists(const std::string& path) override { return path_exists(path); }
  bool is_directory(const std::string& path) override { return checkpoint::is_directory(path); }
};

}  // namespace

FileSystem& posix_file_system() {
  // Never destroyed: a persist thread may still use it while statics are
  // torn down at exit.
  static auto* fs = new PosixFileSystem();
  return *fs;
}

}  // namespace myriad::checkpoint
