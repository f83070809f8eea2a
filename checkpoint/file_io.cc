#include "checkpoint/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>

#include "checkpoint/file_system.h"
#include "runtime/error.h"

namespace myriad::checkpoint {

File File::open_read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) raise_errno(errno, "open " + path);
  return File(fd, path);
}

File File::create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) raise_errno(errno, "create " + path);
  return File(fd, path);
}

uint64_t File::size() const {
  struct stat st {};
  if (::fstat(fd_.fd(), &st) != 0) raise_errno(errno, "stat " + path_);
  return static_cast<uint64_t>(st.st_size);
}

void File::write_all(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = ::write(fd_.fd(), p + done, bytes - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      raise_errno(errno, fmt::format("write {} at offset {}", path_, done));
    }
    done += static_cast<size_t>(n);
  }
}

size_t File::pread_some(void* data, size_t bytes, uint64_t offset) const {
  char* p = static_cast<char*>(data);
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = ::pread(fd_.fd(), p + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      raise_errno(errno, fmt::format("read {} at offset {}", path_, offset + done));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

void File::sync() {
  if (::fsync(fd_.fd()) != 0) raise_errno(errno, "fsync " + path_);
}

void File::close() {
  if (int err = fd_.close(); err != 0) raise_errno(err, "close " + path_);
}

void sync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) raise_errno(errno, "open directory " + path);
  File dir(fd, path);
  dir.sync();
}

namespace {

// Holds the writes of one file to a rate: after each piece, sleeps until the
// bytes written so far are due.
class Pacer {
 public:
  explicit Pacer(uint64_t bytes_per_second)
      : rate_(bytes_per_second), start_(std::chrono::steady_clock::now()) {}
  // The largest piece to write before the next pause: a tenth of a second's bytes.
  size_t piece(size_t limit) const {
    if (rate_ == 0) return limit;
    constexpr size_t kPage = 4096;
    return std::clamp<size_t>(rate_ / 10 / kPage * kPage, kPage, limit);
  }
  void wrote(size_t bytes) {
    if (rate_ == 0) return;
    written_ += bytes;
    std::this_thread::sleep_until(
        start_ + std::chrono::nanoseconds(
                     static_cast<int64_t>(static_cast<double>(written_) / static_cast<double>(rate_) * 1e9)));
  }

 private:
  uint64_t rate_;
  std::chrono::steady_clock::time_point start_;
  uint64_t written_ = 0;
};

}  // namespace

void write_file_durably(FileSystem& fs, const std::string& path, const unsigned char* data, size_t bytes,
                        uint64_t bytes_per_second) {
  constexpr size_t kPage = 4096;
  constexpr size_t kDirectPiece = 64u << 20;  // bounded pieces: a short O_DIRECT write stays aligned
  Pacer pacer(bytes_per_second);
  const size_t body = bytes / kPage * kPage;
  const bool aligned = reinterpret_cast<uintptr_t>(data) % kPage == 0 && body > 0;
  std::unique_ptr<WritableFile> file = fs.create(path, CreateOptions{.direct = aligned});
  size_t at = 0;
  if (file->direct()) {
    for (; at < body;) {
      const size_t n = std::min(pacer.piece(kDirectPiece), body - at);
      file->append(data + at, n);
      at += n;
      pacer.wrote(n);
    }
    // O_DIRECT takes whole pages only: the tail goes through the page cache
    // of a second descriptor (the fsync below covers both: it is per file).
    file->close();
    file = fs.open_append(path);
  }
  while (at < bytes) {
    const size_t n = std::min(pacer.piece(bytes), bytes - at);
    file->append(data + at, n);
    at += n;
    pacer.wrote(n);
  }
  file->sync();
  file->close();
}

void write_file_durably(const std::string& path, const unsigned char* data, size_t bytes,
                        uint64_t bytes_per_second) {
  write_file_durably(posix_file_system(), path, data, bytes, bytes_per_second);
}

void write_file_durably(FileSystem& fs, const std::string& path, const std::string& text) {
  std::unique_ptr<WritableFile> file = fs.create(path, CreateOptions{});
  file->append(text.data(), text.size());
  file->sync();
  file->close();
}

void write_file_durably(const std::string& path, const std::string& text) {
  write_file_durably(posix_file_system(), path, text);
}

void replace_file_atomically(FileSystem& fs, const std::string& path, const std::string& tmp_path,
                             const std::string& text) {
  // The content must be durable before the rename makes it visible, or a
  // crash could leave `path` naming an empty file.
  write_file_durably(fs, tmp_path, text);
  fs.rename(tmp_path, path);
  // Without it a power loss could undo the rename after the caller went on.
  fs.sync_dir(parent_dir(path));
}

void replace_file_atomically(const std::string& path, const std::string& tmp_path, const std::string& text) {
  replace_file_atomically(posix_file_system(), path, tmp_path, text);
}

std::string parent_dir(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  std::string parent = std::filesystem::path(trimmed).parent_path().string();
  return parent.empty() ? "." : parent;
}

std::string read_text_file(const std::string& path) {
  File file = File::open_read(path);
  std::string text(file.size(), '\0');
  size_t n = file.pread_some(text.data(), text.size(), 0);
  text.resize(n);
  return text;
}

bool make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return true;
  if (errno != EEXIST) raise_errno(errno, "mkdir " + path);
  if (!is_directory(path)) raise(ErrorCode::Io, "mkdir {}: exists and is not a directory", path);
  return false;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) raise(ErrorCode::Io, "remove {}: {}", path, ec.message());
}

std::vector<std::string> list_dir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) raise_errno(errno, "list directory " + path);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// glibc's renameat2 wrapper is not in every version Myriad builds with.
void exchange_paths(const std::string& a, const std::string& b) {
  if (::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) != 0) {
    raise_errno(errno, "exchange " + a + " and " + b);
  }
}

}  // namespace myriad::checkpoint
