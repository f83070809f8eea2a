// ScheduleSource: one rank's schedule handed out a round at a time.
//
// A ring algorithm's schedule has O(n) rounds per rank, so listing every
// rank's schedule at once, as the simulator did, costs O(n^2) memory (ring
// all-reduce ran out of 23 GiB at 4,096 ranks). A source keeps the rounds
// that do not grow with the ranks as a list and the ones that do as
// generators that compute round t when it is asked for, so holding every
// rank's source is O(n) in all, and the simulator holds one round per rank.
//
// A source is a sequence of parts, run in order: listed rounds, appended
// through listed(), and generators, added with add(). A generator's empty
// rounds are skipped (as append_ring_pass drops them from a listed
// schedule), so to_schedule() lists exactly what next() hands out.
// Not thread-safe; independent sources may be used concurrently. A
// generator must be immutable once added (fill() is const).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collectives/native/schedule.h"

namespace myriad {

class RoundGenerator {
 public:
  virtual ~RoundGenerator() = default;
  // Rounds it produces, empty ones included.
  virtual size_t rounds() const = 0;
  // Appends the steps of round `index` (< rounds()) to `round`.
  virtual void fill(size_t index, Round& round) const = 0;
};

class ScheduleSource {
 public:
  explicit ScheduleSource(std::string algorithm = {});
  // A source over a listed schedule.
  static ScheduleSource of(Schedule schedule);

  const std::string& algorithm() const { return algorithm_; }
  uint64_t scratch_bytes() const { return scratch_bytes_; }
  void set_scratch_bytes(uint64_t bytes) { scratch_bytes_ = bytes; }
  // Grows scratch_bytes to at least `bytes`.
  void need_scratch(uint64_t bytes);

  // A listed part to append rounds to; it runs after every part added
  // before this call. The reference is valid until the next add().
  Schedule& listed();
  void add(std::unique_ptr<const RoundGenerator> generator);

  // The next round into `round` (cleared first); false after the last.
  bool next(Round& round);
  // Every round listed (for the executor and the tests); the source is
  // left exhausted.
  Schedule to_schedule();

 private:
  struct Part {
    Schedule listed;
    std::unique_ptr<const RoundGenerator> generator;
  };
  std::string algorithm_;
  uint64_t scratch_bytes_ = 0;
  std::vector<Part> parts_;
  size_t part_ = 0;   // the part next() reads from
  size_t index_ = 0;  // the round of that part
};

}  // namespace myriad
