#include "tests/checkpoint/fault_file_system.h"

#include <cstring>

#include "checkpoint/file_io.h"
#include "runtime/error.h"

namespace myriad::test {

std::string FileOp::describe() const {
  const std::string p = path.empty() ? "<root>" : path;
  switch (kind) {
    case Kind::Create: return fmt::format("create {}", p);
    case Kind::OpenAppend: return fmt::format("open {} to append", p);
    case Kind::Append: return fmt::format("append {} bytes to {}", data.size(), p);
    case Kind::SyncFile: return fmt::format("fsync {}", p);
    case Kind::Rename: return fmt::format("rename {} -> {}", p, path2);
    case Kind::Exchange: return fmt::format("exchange {} <-> {}", p, path2);
    case Kind::RemoveFile: return fmt::format("remove {}", p);
    case Kind::RemoveTree: return fmt::format("remove tree {}", p);
    case Kind::MakeDir: return fmt::format("mkdir {}", p);
    case Kind::SyncDir: return fmt::format("fsync directory {}", p);
  }
  return "?";
}

// Forwards to the real file and records what it did; the records carry the
// file's path as it was opened (the model follows the file, not the name).
class FaultWritableFile : public checkpoint::WritableFile {
 public:
  FaultWritableFile(FaultFileSystem& fs, std::unique_ptr<checkpoint::WritableFile> real, uint64_t handle,
                    std::string relative)
      : fs_(fs), real_(std::move(real)), handle_(handle), relative_(std::move(relative)) {}

  void append(const void* data, size_t bytes) override {
    std::lock_guard lock(fs_.mutex_);
    real_->append(data, bytes);
    fs_.record({.kind = FileOp::Kind::Append,
                .handle = handle_,
                .path = relative_,
                .data = std::string(static_cast<const char*>(data), bytes)});
  }
  void sync() override {
    std::lock_guard lock(fs_.mutex_);
    real_->sync();
    fs_.record({.kind = FileOp::Kind::SyncFile, .handle = handle_, .path = relative_});
  }
  void close() override { real_->close(); }
  bool direct() const override { return real_->direct(); }
  const std::string& path() const override { return real_->path(); }

 private:
  FaultFileSystem& fs_;
  std::unique_ptr<checkpoint::WritableFile> real_;
  uint64_t handle_;
  std::string relative_;
};

FaultFileSystem::FaultFileSystem(std::string root, uint32_t source, std::atomic<uint64_t>* clock)
    : root_(std::move(root)), source_(source), clock_(clock), real_(checkpoint::posix_file_system()) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (!real_.is_directory(root_))
    raise(ErrorCode::InvalidArgument, "fault file system: {} is no directory", root_);
}

std::vector<FileOp> FaultFileSystem::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

bool FaultFileSystem::relative(const std::string& path, std::string& out) const {
  if (path == root_) {
    out.clear();
    return true;
  }
  if (!path.starts_with(root_ + "/")) return false;
  // Collapse "a//b" and a trailing '/': the model splits on single slashes.
  out.clear();
  for (char c : path.substr(root_.size() + 1)) {
    if (c == '/' && (out.empty() || out.back() == '/')) continue;
    out.push_back(c);
  }
  if (!out.empty() && out.back() == '/') out.pop_back();
  return true;
}

void FaultFileSystem::record(FileOp op) {
  op.seq = clock_ != nullptr ? clock_->fetch_add(1) : local_clock_++;
  log_.push_back(std::move(op));
}

std::unique_ptr<checkpoint::WritableFile> FaultFileSystem::create(const std::string& path,
                                                                  const checkpoint::CreateOptions& options) {
  std::lock_guard lock(mutex_);
  auto file = real_.create(path, options);
  std::string rel;
  if (!relative(path, rel)) return file;
  const uint64_t handle = static_cast<uint64_t>(source_) << 32 | opened_++;
  record({.kind = FileOp::Kind::Create, .handle = handle, .path = rel});
  return std::make_unique<FaultWritableFile>(*this, std::move(file), handle, rel);
}

std::unique_ptr<checkpoint::WritableFile> FaultFileSystem::open_append(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto file = real_.open_append(path);
  std::string rel;
  if (!relative(path, rel)) return file;
  const uint64_t handle = static_cast<uint64_t>(source_) << 32 | opened_++;
  record({.kind = FileOp::Kind::OpenAppend, .handle = handle, .path = rel});
  return std::make_unique<FaultWritableFile>(*this, std::move(file), handle, rel);
}

void FaultFileSystem::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mutex_);
  std::string a;
  std::string b;
  const bool inside = relative(from, a) && relative(to, b);
  if (!inside && (relative(from, a) || relative(to, b))) {
    raise(ErrorCode::InvalidArgument, "fault file system: rename {} -> {} crosses its root {}", from, to,
          root_);
  }
  real_.rename(from, to);
  if (inside) record({.kind = FileOp::Kind::Rename, .path = a, .path2 = b});
}

void FaultFileSystem::exchange(const std::string& a, const std::string& b) {
  std::lock_guard lock(mutex_);
  std::string ra;
  std::string rb;
  const bool inside = relative(a, ra) && relative(b, rb);
  real_.exchange(a, b);
  if (inside) record({.kind = FileOp::Kind::Exchange, .path = ra, .path2 = rb});
}

void FaultFileSystem::remove_file(const std::string& path) {
  std::lock_guard lock(mutex_);
  real_.remove_file(path);
  if (std::string rel; relative(path, rel)) record({.kind = FileOp::Kind::RemoveFile, .path = rel});
}

void FaultFileSystem::remove_tree(const std::string& path) {
  std::lock_guard lock(mutex_);
  real_.remove_tree(path);
  if (std::string rel; relative(path, rel)) record({.kind = FileOp::Kind::RemoveTree, .path = rel});
}

bool FaultFileSystem::make_dir(const std::string& path) {
  std::lock_guard lock(mutex_);
  const bool made = real_.make_dir(path);
  if (std::string rel; relative(path, rel)) record({.kind = FileOp::Kind::MakeDir, .path = rel});
  return made;
}

void FaultFileSystem::sync_dir(const std::string& path) {
  std::lock_guard lock(mutex_);
  real_.sync_dir(path);
  if (std::string rel; relative(path, rel)) record({.kind = FileOp::Kind::SyncDir, .path = rel});
}

std::vector<std::string> FaultFileSystem::list_dir(const std::string& path) {
  return real_.list_dir(path);
}
std::string FaultFileSystem::read_file(const std::string& path) {
  return real_.read_file(path);
}
bool FaultFileSystem::exists(const std::string& path) {
  return real_.exists(path);
}
bool FaultFileSystem::is_directory(const std::string& path) {
  return real_.is_directory(path);
}

namespace {

void put_u64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}
void put_text(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

class LogReader {
 public:
  LogReader(std::string bytes, std::string path) : bytes_(std::move(bytes)), path_(std::move(path)) {}
  bool done() const { return at_ == bytes_.size(); }
  uint64_t u64() {
    need(sizeof(uint64_t));
    uint64_t v = 0;
    std::memcpy(&v, bytes_.data() + at_, sizeof(v));
    at_ += sizeof(v);
    return v;
  }
  std::string text() {
    const uint64_t n = u64();
    need(n);
    std::string s = bytes_.substr(at_, n);
    at_ += n;
    return s;
  }

 private:
  void need(uint64_t n) const {
    if (bytes_.size() - at_ < n)
      raise(ErrorCode::Corruption, "{}: offset {}: truncated operation log", path_, at_);
  }
  std::string bytes_;
  std::string path_;
  size_t at_ = 0;
};

}  // namespace

void write_log(const std::string& path, const std::vector<FileOp>& log) {
  std::string out;
  for (const FileOp& op : log) {
    put_u64(out, static_cast<uint64_t>(op.kind));
    put_u64(out, op.seq);
    put_u64(out, op.handle);
    put_text(out, op.path);
    put_text(out, op.path2);
    put_text(out, op.data);
  }
  checkpoint::write_file_durably(path, out);
}

std::vector<FileOp> read_log(const std::string& path) {
  LogReader in(checkpoint::read_text_file(path), path);
  std::vector<FileOp> log;
  while (!in.done()) {
    FileOp op;
    op.kind = static_cast<FileOp::Kind>(in.u64());
    op.seq = in.u64();
    op.handle = in.u64();
    op.path = in.text();
    op.path2 = in.text();
    op.data = in.text();
    log.push_back(std::move(op));
  }
  return log;
}

}  // namespace myriad::test
