#include "runtime/heartbeat.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <exception>
#include <type_traits>
#include <utility>

#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/logging.h"
#include "runtime/unique_fd.h"

namespace myriad {

namespace {

constexpr size_t kLineBytes = 64;

struct Header {
  std::atomic<uint64_t> magic;
  std::atomic<uint32_t> version;
  std::atomic<uint32_t> slots;
  uint64_t reserved[6];
};
static_assert(sizeof(Header) == kLineBytes);

size_t table_bytes(int slots) {
  return kLineBytes * (1 + static_cast<size_t>(slots));
}

}  // namespace

struct HeartbeatTable::Slot {
  std::atomic<uint64_t> pid;
  std::atomic<uint64_t> beat_ns;
  std::atomic<uint64_t> beats;
  std::atomic<uint64_t> step1;
  std::atomic<uint64_t> step_ns;
  std::atomic<uint64_t> reserved[3];
};
// Processes share the mapping: the atomics must be plain 8-byte words that
// work without a lock (a lock would live in one process only).
static_assert(std::atomic<uint64_t>::is_always_lock_free && sizeof(std::atomic<uint64_t>) == 8);
static_assert(std::atomic<uint32_t>::is_always_lock_free && sizeof(std::atomic<uint32_t>) == 4);

HeartbeatTable::HeartbeatTable(std::string path, void* base, size_t bytes, int slots, bool owner)
    : path_(std::move(path)), base_(base), bytes_(bytes), slots_(slots), owner_(owner) {}

HeartbeatTable::HeartbeatTable(HeartbeatTable&& other) noexcept
    : path_(std::move(other.path_)),
      base_(std::exchange(other.base_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      slots_(std::exchange(other.slots_, 0)),
      owner_(std::exchange(other.owner_, false)) {}

HeartbeatTable& HeartbeatTable::operator=(HeartbeatTable&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    base_ = std::exchange(other.base_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    slots_ = std::exchange(other.slots_, 0);
    owner_ = std::exchange(other.owner_, false);
  }
  return *this;
}

HeartbeatTable::~HeartbeatTable() {
  release();
}

void HeartbeatTable::release() noexcept {
  if (base_ != nullptr) ::munmap(base_, bytes_);
  if (owner_) ::unlink(path_.c_str());
  base_ = nullptr;
  owner_ = false;
}

HeartbeatTable HeartbeatTable::create(const std::string& path, int slots) {
  if (slots < 1 || slots > kHeartbeatMaxSlots) {
    raise(ErrorCode::InvalidArgument, "heartbeat table {}: {} slots; use 1 to {}", path, slots,
          kHeartbeatMaxSlots);
  }
  // Written under a temporary name and renamed into place: an opener sees
  // either no file, the old table or the whole new one, and ranks still
  // mapping an old table keep writing to the old (unlinked) inode.
  std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  UniqueFd file(::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (file.fd() < 0) raise_errno(errno, fmt::format("heartbeat table {}: create {}", path, temp));
  size_t bytes = table_bytes(slots);
  if (::ftruncate(file.fd(), static_cast<off_t>(bytes)) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    raise_errno(err, fmt::format("heartbeat table {}: size {} to {} bytes", path, temp, bytes));
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd(), 0);
  if (base == MAP_FAILED) {
    int err = errno;
    ::unlink(temp.c_str());
    raise_errno(err, fmt::format("heartbeat table {}: mmap {}", path, temp));
  }
  // ftruncate zero-filled every slot; the header's magic goes last.
  auto* header = static_cast<Header*>(base);
  header->version.store(kHeartbeatVersion, std::memory_order_relaxed);
  header->slots.store(static_cast<uint32_t>(slots), std::memory_order_relaxed);
  header->magic.store(kHeartbeatMagic, std::memory_order_release);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::munmap(base, bytes);
    ::unlink(temp.c_str());
    raise_errno(err, fmt::format("heartbeat table {}: rename from {}", path, temp));
  }
  return HeartbeatTable(path, base, bytes, slots, /*owner=*/true);
}

HeartbeatTable HeartbeatTable::open(const std::string& path) {
  UniqueFd file(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (file.fd() < 0) raise_errno(errno, fmt::format("heartbeat table {}: open", path));
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) raise_errno(errno, fmt::format("heartbeat table {}: stat", path));
  size_t size = static_cast<size_t>(st.st_size);
  if (size < kLineBytes) {
    raise(ErrorCode::Corruption, "heartbeat table {}: {} bytes, shorter than its {}-byte header", path, size,
          kLineBytes);
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd(), 0);
  if (base == MAP_FAILED) raise_errno(errno, fmt::format("heartbeat table {}: mmap", path));
  HeartbeatTable table(path, base, size, 0, /*owner=*/false);  // unmaps if a check below throws
  const auto* header = static_cast<const Header*>(base);
  uint64_t magic = header->magic.load(std::memory_order_acquire);
  if (magic != kHeartbeatMagic) {
    raise(ErrorCode::Corruption, "heartbeat table {}: magic {:#x} at offset 0, expected {:#x}", path, magic,
          kHeartbeatMagic);
  }
  uint32_t version = header->version.load(std::memory_order_relaxed);
  if (version != kHeartbeatVersion) {
    raise(ErrorCode::NotSupported, "heartbeat table {}: format version {}, this build reads {}", path,
          version, kHeartbeatVersion);
  }
  uint32_t slots = header->slots.load(std::memory_order_relaxed);
  if (slots < 1 || slots > static_cast<uint32_t>(kHeartbeatMaxSlots) ||
      table_bytes(static_cast<int>(slots)) != size) {
    raise(ErrorCode::Corruption, "heartbeat table {}: {} slots in the header but {} bytes in the file", path,
          slots, size);
  }
  table.slots_ = static_cast<int>(slots);
  return table;
}

HeartbeatTable::Slot& HeartbeatTable::slot_at(int slot) const {
  static_assert(sizeof(Slot) == kLineBytes);
  if (slot < 0 || slot >= slots_) {
    raise(ErrorCode::InvalidArgument, "heartbeat table {}: slot {} out of range [0, {})", path_, slot,
          slots_);
  }
  return static_cast<Slot*>(base_)[1 + slot];
}

HeartbeatSlot HeartbeatTable::read(int slot) const {
  const Slot& s = slot_at(slot);
  HeartbeatSlot out;
  out.pid = s.pid.load(std::memory_order_relaxed);
  // step1 before step_ns (the writer stores them in the other order): a
  // step seen here has its time, or a later one, in step_ns.
  uint64_t step1 = s.step1.load(std::memory_order_acquire);
  out.step_ns = s.step_ns.load(std::memory_order_relaxed);
  if (step1 != 0) out.step = step1 - 1;
  out.last_beat_ns = s.beat_ns.load(std::memory_order_relaxed);
  out.beats = s.beats.load(std::memory_order_relaxed);
  return out;
}

void HeartbeatTable::reset(int slot) {
  Slot& s = slot_at(slot);
  s.pid.store(0, std::memory_order_relaxed);
  s.beat_ns.store(0, std::memory_order_relaxed);
  s.beats.store(0, std::memory_order_relaxed);
  s.step1.store(0, std::memory_order_relaxed);
  s.step_ns.store(0, std::memory_order_relaxed);
}

void HeartbeatTable::attach(int slot, uint64_t pid) {
  slot_at(slot).pid.store(pid, std::memory_order_relaxed);
}

void HeartbeatTable::beat(int slot, uint64_t now_ns) {
  Slot& s = slot_at(slot);
  s.beat_ns.store(now_ns, std::memory_order_relaxed);
  s.beats.fetch_add(1, std::memory_order_relaxed);
}

void HeartbeatTable::step(int slot, uint64_t n, uint64_t now_ns) {
  Slot& s = slot_at(slot);
  s.step_ns.store(now_ns, std::memory_order_relaxed);
  s.step1.store(n + 1, std::memory_order_release);
  s.beat_ns.store(now_ns, std::memory_order_relaxed);
  s.beats.fetch_add(1, std::memory_order_relaxed);
}

uint64_t HeartbeatTable::now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

namespace heartbeat {
namespace {

// The process's writer. States: unopened -> opening (one thread) -> ready or
// off. A thread that finds it opening drops its beat rather than wait: a
// beat is only a sample, and the hot path must not block.
enum State : int { kUnopened = 0, kOpening = 1, kReady = 2, kOff = 3 };
std::atomic<int> g_state{kUnopened};
// Set before g_state becomes kReady (release) and never freed: a collective
// may beat while the process exits, after static destructors ran.
HeartbeatTable* g_table = nullptr;
int g_slot = -1;

// A forked child inherits the mapping and the parent's slot; it opens the
// table again on its next beat, as its own MYRIAD_LOCAL_RANK says. The old
// mapping is left mapped (a child is single-threaded here, but another
// thread of the parent may have been using it at the fork).
void forget_in_child() {
  g_table = nullptr;
  g_slot = -1;
  g_state.store(kUnopened, std::memory_order_relaxed);
}

void open_writer() noexcept {
  int state = kOff;
  try {
    Env env = Env::process();
    std::optional<std::string> path = config::get_string(env, "MYRIAD_HEARTBEAT_FILE");
    if (path) {
      std::optional<std::string> local = config::get_string(env, "MYRIAD_LOCAL_RANK");
      const char* local_name = "MYRIAD_LOCAL_RANK";
      if (!local) {
        local = config::get_string(env, "LOCAL_RANK");
        local_name = "LOCAL_RANK";
      }
      if (!local) {
        MYRIAD_LOG_WARN(
            "heartbeats off: MYRIAD_HEARTBEAT_FILE={} but neither MYRIAD_LOCAL_RANK nor LOCAL_RANK is set",
            *path);
      } else {
        int slot = static_cast<int>(config::parse_int(*local, local_name, 0, kHeartbeatMaxSlots - 1));
        auto* table = new HeartbeatTable(HeartbeatTable::open(*path));
        table->read(slot);  // throws InvalidArgument naming the slot and the table
        table->attach(slot, static_cast<uint64_t>(::getpid()));
        g_table = table;
        g_slot = slot;
        state = kReady;
      }
    }
  } catch (const std::exception& e) {
    MYRIAD_LOG_WARN("heartbeats off: {}", e.what());
  } catch (...) {
    MYRIAD_LOG_WARN("heartbeats off: unknown error opening MYRIAD_HEARTBEAT_FILE");
  }
  g_state.store(state, std::memory_order_release);
}

// The table when beats are published, else nullptr.
HeartbeatTable* writer() noexcept {
  int state = g_state.load(std::memory_order_acquire);
  if (state == kReady) [[likely]]
    return g_table;
  if (state != kUnopened) return nullptr;
  static const bool registered = [] { return ::pthread_atfork(nullptr, nullptr, forget_in_child) == 0; }();
  (void)registered;
  int expected = kUnopened;
  if (!g_state.compare_exchange_strong(expected, kOpening, std::memory_order_acq_rel)) return nullptr;
  open_writer();
  return g_state.load(std::memory_order_acquire) == kReady ? g_table : nullptr;
}

}  // namespace

void beat() noexcept {
  if (HeartbeatTable* table = writer()) {
    try {
      table->beat(g_slot, HeartbeatTable::now_ns());
    } catch (...) {  // slot_at cannot fail: the slot was checked when the table was opened
    }
  }
}

void step(uint64_t n) noexcept {
  if (HeartbeatTable* table = writer()) {
    try {
      table->step(g_slot, n, HeartbeatTable::now_ns());
    } catch (...) {
    }
  }
}

bool enabled() noexcept {
  return writer() != nullptr;
}

}  // namespace heartbeat
}  // namespace myriad
