// Heartbeats: how a node's agent learns that its ranks are alive and making
// progress, without a socket or a syscall on the rank's side.
//
// The agent creates a HeartbeatTable, a small file in /dev/shm with one slot
// per local rank, and passes its path to the ranks in MYRIAD_HEARTBEAT_FILE.
// A rank publishes into slot MYRIAD_LOCAL_RANK through heartbeat::beat()
// (called by every collective submission) and heartbeat::step(n) (called by
// the training loop, or the Python binding, after step n). The agent reads
// the slots (read()) and calls a rank hung when its last beat is older than
// MYRIAD_HEARTBEAT_TIMEOUT. Times are CLOCK_MONOTONIC nanoseconds: writer
// and reader share the machine, so no clock synchronization is involved.
//
// File layout (format version 1, native byte order; docs/elastic.md):
//   offset 0      header, 64 bytes: uint64 magic "MYRHBEAT" (kHeartbeatMagic),
//                 uint32 version (kHeartbeatVersion), uint32 slot count,
//                 48 bytes reserved (zero)
//   offset 64*(1+i)  slot i, 64 bytes (one cache line, so that ranks never
//                 share a line): eight uint64 fields, each a lock-free
//                 std::atomic<uint64_t>:
//                   pid        the writing process (0: none yet)
//                   beat_ns    CLOCK_MONOTONIC time of the last beat (0: never)
//                   beats      number of beats
//                   step1      last reported training step + 1 (0: none)
//                   step_ns    CLOCK_MONOTONIC time of that step report
//                   3 reserved (zero)
// The file size is 64 * (1 + slots).
//
// Ownership: a table made by create() owns its file and removes it when
// destroyed; one made by open() only maps it. Either unmaps on destruction.
// create() writes the table under a temporary name and renames it into
// place, so an opener never sees a half-written header, and a stale writer
// (a rank of an earlier run still mapping the old file) cannot scribble on
// the new table.
//
// Thread-safety: every field is an atomic, so any number of threads and
// processes may read and write concurrently. A slot snapshot is not atomic
// as a whole: each field is read once, and fields written by one beat may be
// seen from different beats (a step and the time of the step before it, at
// worst). The writer functions never throw.
//
// After a failure: a rank that dies leaves its slot as it was (its last beat
// ages); the agent calls reset(slot) after reaping it and before starting its
// replacement, so that the new process is judged by its own beats.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace myriad {

inline constexpr uint64_t kHeartbeatMagic = 0x544145424852594dULL;  // "MYRHBEAT" read as little-endian
inline constexpr uint32_t kHeartbeatVersion = 1;
inline constexpr int kHeartbeatMaxSlots = 4096;

// A snapshot of one slot.
struct HeartbeatSlot {
  uint64_t pid = 0;              // the process that last wrote the slot; 0 when none has
  uint64_t last_beat_ns = 0;     // CLOCK_MONOTONIC; 0 when it never beat
  uint64_t beats = 0;            // beats so far
  std::optional<uint64_t> step;  // last reported training step
  uint64_t step_ns = 0;          // CLOCK_MONOTONIC time of that report; 0 when none

  bool has_beaten() const { return last_beat_ns != 0; }
};

class HeartbeatTable {
 public:
  // Creates (or replaces) the table at `path` with `slots` zeroed slots.
  // Throws Error(InvalidArgument) for a slot count outside [1,
  // kHeartbeatMaxSlots], Error(Io) naming the path when it cannot be written.
  static HeartbeatTable create(const std::string& path, int slots);
  // Maps an existing table. Throws Error(Io) naming the path when it cannot
  // be opened or mapped, Error(Corruption) when the magic or the size is
  // wrong, Error(NotSupported) for another format version.
  static HeartbeatTable open(const std::string& path);

  HeartbeatTable(HeartbeatTable&& other) noexcept;
  HeartbeatTable& operator=(HeartbeatTable&& other) noexcept;
  HeartbeatTable(const HeartbeatTable&) = delete;
  HeartbeatTable& operator=(const HeartbeatTable&) = delete;
  ~HeartbeatTable();

  const std::string& path() const { return path_; }
  int slots() const { return slots_; }

  // A snapshot of `slot`; throws Error(InvalidArgument) when out of range.
  HeartbeatSlot read(int slot) const;
  // Zeroes `slot` (for a rank that is restarted).
  void reset(int slot);

  // Writer side (used by the heartbeat:: functions; tests may call them).
  // Sets the slot's pid.
  void attach(int slot, uint64_t pid);
  // Records a beat at `now_ns`.
  void beat(int slot, uint64_t now_ns);
  // Records step `n` (and a beat) at `now_ns`.
  void step(int slot, uint64_t n, uint64_t now_ns);

  // CLOCK_MONOTONIC now, in nanoseconds: the clock of beat_ns and step_ns.
  static uint64_t now_ns();

 private:
  struct Slot;
  HeartbeatTable(std::string path, void* base, size_t bytes, int slots, bool owner);
  Slot& slot_at(int slot) const;
  void release() noexcept;

  std::string path_;
  void* base_ = nullptr;
  size_t bytes_ = 0;
  int slots_ = 0;
  bool owner_ = false;
};

// The rank's side. Each function opens MYRIAD_HEARTBEAT_FILE at slot
// MYRIAD_LOCAL_RANK (else LOCAL_RANK) the first time any of them is called in
// a process (and again in a forked child); with the variable unset they do
// nothing. A table that cannot be opened or a missing or bad local rank is
// logged once (warn) and turns the functions into no-ops for the rest of the
// process. After that first call each costs one clock_gettime and a few
// relaxed atomic operations. They never throw, and are safe from any thread
// (a beat racing the first call may be dropped).
namespace heartbeat {

// Records that this rank is alive.
void beat() noexcept;
// Records that this rank finished training step `n` (and beats).
void step(uint64_t n) noexcept;
// Whether beats are being published (opens the table on the first call).
bool enabled() noexcept;

}  // namespace heartbeat
}  // namespace myriad
