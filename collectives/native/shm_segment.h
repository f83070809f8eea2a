// ShmSegment: one rank's POSIX shared-memory segment for the shm transport,
// holding its inbound fifos (one per local peer) and the words its peers
// use to wake it and to learn that it closed or aborted. Layout and naming:
// docs/transports.md.
//
//   [SegmentHeader][int32 producer rank of fifo 0..n-1] (page-rounded)
//   [fifo 0] [fifo 1] ... each page-rounded, see spsc_fifo.h
//
// Ownership: the owner creates the segment (create()), peers map it
// (open()); every ShmSegment object unmaps on destruction, and the owner's
// also unlinks the name if unlink() has not run yet, so an exception on any
// path leaves nothing in /dev/shm.
//
// Thread-safety: the object is not thread-safe; the shared words in the
// header are atomics, safe from any thread of any process.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/native/spsc_fifo.h"

namespace myriad {

inline constexpr uint32_t kShmSegmentMagic = 0x4d594d53;  // "MYMS"
// Bumped whenever SegmentHeader or the fifo layout changes: ranks of two
// builds must not read each other's memory.
inline constexpr uint32_t kShmSegmentVersion = 1;
// Room for an abort reason; longer reasons are cut (they are for people).
inline constexpr size_t kShmReasonBytes = 1024;

enum class SegmentState : uint32_t {
  Open = 0,
  Closed = 1,   // the owner called close(): it sends and receives nothing more
  Aborted = 2,  // the owner called abort(): `reason` says why
};

struct SegmentHeader {
  // Written once by the owner before `ready` is stored (release).
  uint32_t magic;
  uint32_t version;
  uint64_t nonce;  // from the owner's address(): tells this segment from a stale one of the same name
  int32_t owner_rank;
  int32_t owner_pid;
  uint32_t num_fifos;
  uint32_t slots;
  uint64_t slot_bytes;
  uint64_t fifos_offset;  // from the segment start to fifo 0
  uint64_t fifo_stride;   // from fifo i to fifo i + 1
  std::atomic<uint32_t> ready;

  // Peers that mapped and validated this segment; the owner unlinks the name
  // once every peer has (docs/transports.md, "Naming and unlinking").
  alignas(kCacheLineBytes) std::atomic<uint32_t> attached;

  // The owner sleeps on `doorbell` (a futex word); whoever gives it work
  // (published a cell, freed a cell, closed, aborted) bumps the doorbell and
  // issues FUTEX_WAKE, but only when `sleepers` is non-zero.
  alignas(kCacheLineBytes) std::atomic<uint32_t> doorbell;
  std::atomic<uint32_t> sleepers;

  // A SegmentState; `reason` is complete before state becomes Aborted.
  alignas(kCacheLineBytes) std::atomic<uint32_t> state;
  char reason[kShmReasonBytes];
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// "/myriad-<run_id>-<comm_id>-<rank>". Throws InvalidArgument when the ids
// would not make a valid name (empty, '/', too long).
std::string shm_segment_name(std::string_view run_id, std::string_view comm_id, int rank);

class ShmSegment {
 public:
  struct Layout {
    int owner_rank = 0;
    uint64_t nonce = 0;
    std::vector<int> producers;  // rank that writes fifo i
    uint32_t slots = 0;
    size_t slot_bytes = 0;
  };

  // Creates `name` exclusively and initialises it. A segment of that name
  // left by a process that no longer runs is replaced; one whose owner still
  // runs is an error (InvalidArgument: two communicators share an id).
  static std::unique_ptr<ShmSegment> create(const std::string& name, const Layout& layout);
  // Maps `name` when it exists, is initialised and carries `nonce`;
  // nullptr while it does not (not created yet, or a stale one).
  static std::unique_ptr<ShmSegment> open(const std::string& name, uint64_t nonce);

  ~ShmSegment();
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  // Removes the name (owner only; idempotent). Mappings stay valid.
  void unlink();
  bool linked() const { return owner_ && !unlinked_; }

  const std::string& name() const { return name_; }
  SegmentHeader* header() const { return static_cast<SegmentHeader*>(base_); }
  // Index of the fifo that `producer` writes, or -1.
  int fifo_index(int producer) const;
  FifoView fifo(int index) const;

 private:
  ShmSegment(std::string name, void* base, size_t bytes, bool owner)
      : name_(std::move(name)), base_(base), bytes_(bytes), owner_(owner) {}

  std::string name_;
  void* base_ = nullptr;
  size_t bytes_ = 0;
  bool owner_ = false;
  bool unlinked_ = false;
};

}  // namespace myriad
