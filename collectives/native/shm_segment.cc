#include "collectives/native/shm_segment.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "runtime/error.h"
#include "runtime/unique_fd.h"

namespace myriad {
namespace {

// tmpfs maps whole pages; fifos start on their own pages so that one
// fifo's pages are touched only by its producer and consumer.
constexpr size_t kPageBytes = 4096;
// Linux NAME_MAX for the name under /dev/shm (without the leading '/').
constexpr size_t kMaxNameBytes = 255;
// Tries to replace a stale segment before giving up: a second stale one
// after replacing the first means something else keeps creating it.
constexpr int kCreateAttempts = 3;

constexpr size_t round_up(size_t value, size_t unit) {
  return (value + unit - 1) / unit * unit;
}

int32_t* producer_table(SegmentHeader* header) {
  return reinterpret_cast<int32_t*>(header + 1);
}

bool process_exists(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

// A segment of this name exists. Returns true when it was stale (its owner
// no longer runs, or it was never initialised) and has been unlinked.
bool remove_if_stale(const std::string& name) {
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) return errno == ENOENT;  // gone meanwhile: try again
  UniqueFd closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) raise_errno(errno, "fstat " + name);
  pid_t owner = 0;
  if (static_cast<size_t>(st.st_size) >= sizeof(SegmentHeader)) {
    void* base = ::mmap(nullptr, sizeof(SegmentHeader), PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) raise_errno(errno, "mmap " + name);
    const auto* header = static_cast<const SegmentHeader*>(base);
    if (header->ready.load(std::memory_order_acquire) == 1) owner = header->owner_pid;
    ::munmap(base, sizeof(SegmentHeader));
  }
  if (process_exists(owner)) {
    raise(ErrorCode::InvalidArgument,
          "shared-memory segment {} already exists and its owner (pid {}) runs: two communicators use "
          "the same run id and comm id",
          name, owner);
  }
  if (::shm_unlink(name.c_str()) != 0 && errno != ENOENT) raise_errno(errno, "shm_unlink stale " + name);
  return true;
}

}  // namespace

std::string shm_segment_name(std::string_view run_id, std::string_view comm_id, int rank) {
  if (run_id.empty() || comm_id.empty()) {
    raise(ErrorCode::InvalidArgument, "shm transport needs a run id and a comm id (got '{}' and '{}')",
          run_id, comm_id);
  }
  std::string name = fmt::format("/myriad-{}-{}-{}", run_id, comm_id, rank);
  if (name.find('/', 1) != std::string::npos || name.size() - 1 > kMaxNameBytes) {
    raise(ErrorCode::InvalidArgument,
          "shm segment name '{}' is invalid: ids must not contain '/' and the name "
          "must stay within {} bytes",
          name, kMaxNameBytes);
  }
  return name;
}

std::unique_ptr<ShmSegment> ShmSegment::create(const std::string& name, const Layout& layout) {
  const size_t table_end = sizeof(SegmentHeader) + layout.producers.size() * sizeof(int32_t);
  const size_t fifos_offset = round_up(table_end, kPageBytes);
  const size_t stride = round_up(fifo_bytes(layout.slots, layout.slot_bytes), kPageBytes);
  const size_t bytes = fifos_offset + layout.producers.size() * stride;

  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    // 0600: only this user's processes may map a rank's inbound data.
    fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) break;
    if (errno != EEXIST) raise_errno(errno, "shm_open " + name);
    if (attempt + 1 == kCreateAttempts || !remove_if_stale(name)) {
      raise(ErrorCode::Io, "cannot create shared-memory segment {}: it keeps reappearing", name);
    }
  }
  UniqueFd closer(fd);
  // From here on an exception must unlink the half-made segment.
  std::unique_ptr<ShmSegment> segment;
  try {
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) raise_errno(errno, "ftruncate " + name);
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) raise_errno(errno, "mmap " + name);
    segment.reset(new ShmSegment(name, base, bytes, /*owner=*/true));
  } catch (...) {
    ::shm_unlink(name.c_str());
    throw;
  }

  // ftruncate gave zeroed pages; construct the atomics in place.
  auto* header = new (segment->base_) SegmentHeader{};
  header->magic = kShmSegmentMagic;
  header->version = kShmSegmentVersion;
  header->nonce = layout.nonce;
  header->owner_rank = layout.owner_rank;
  header->owner_pid = static_cast<int32_t>(::getpid());
  header->num_fifos = static_cast<uint32_t>(layout.producers.size());
  header->slots = layout.slots;
  header->slot_bytes = layout.slot_bytes;
  header->fifos_offset = fifos_offset;
  header->fifo_stride = stride;
  for (size_t i = 0; i < layout.producers.size(); ++i) {
    producer_table(header)[i] = layout.producers[i];
    new (static_cast<char*>(segment->base_) + fifos_offset + i * stride) FifoControl{};
  }
  header->ready.store(1, std::memory_order_release);
  return segment;
}

std::unique_ptr<ShmSegment> ShmSegment::open(const std::string& name, uint64_t nonce) {
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == ENOENT) return nullptr;
    raise_errno(errno, "shm_open " + name);
  }
  UniqueFd closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) raise_errno(errno, "fstat " + name);
  const size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes < sizeof(SegmentHeader)) return nullptr;  // the owner has not sized it yet
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) raise_errno(errno, "mmap " + name);
  std::unique_ptr<ShmSegment> segment(new ShmSegment(name, base, bytes, /*owner=*/false));
  const SegmentHeader* header = segment->header();
  if (header->ready.load(std::memory_order_acquire) != 1 || header->nonce != nonce) return nullptr;
  if (header->magic != kShmSegmentMagic || header->version != kShmSegmentVersion) {
    raise(ErrorCode::InvalidArgument,
          "shared-memory segment {} has format {:#x} version {}, expected {:#x} "
          "version {}: ranks run different Myriad builds",
          name, header->magic, header->version, kShmSegmentMagic, kShmSegmentVersion);
  }
  MYRIAD_CHECK(header->fifos_offset + size_t{header->num_fifos} * header->fifo_stride <= bytes,
               "segment {} is smaller than its header says", name);
  return segment;
}

ShmSegment::~ShmSegment() {
  if (linked()) ::shm_unlink(name_.c_str());
  if (base_ != nullptr) ::munmap(base_, bytes_);
}

void ShmSegment::unlink() {
  if (!linked()) return;
  unlinked_ = true;
  if (::shm_unlink(name_.c_str()) != 0 && errno != ENOENT) raise_errno(errno, "shm_unlink " + name_);
}

int ShmSegment::fifo_index(int producer) const {
  for (uint32_t i = 0; i < header()->num_fifos; ++i) {
    if (producer_table(header())[i] == producer) return static_cast<int>(i);
  }
  return -1;
}

FifoView ShmSegment::fifo(int index) const {
  const SegmentHeader* h = header();
  return FifoView(static_cast<char*>(base_) + h->fifos_offset + static_cast<size_t>(index) * h->fifo_stride,
                  h->slots, h->slot_bytes);
}

}  // namespace myriad
