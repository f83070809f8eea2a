// The simulator's data: each rank's Input, Output and Scratch memory laid
// out as schedule.h prescribes for the op (in place or not), filled with
// reproducible pseudo-random input, and the check of every rank's result
// against a reference computed directly from the inputs.
//
// Elements are unsigned integers of the widest lane (8, 4, 2 or 1 bytes)
// that divides element_bytes, reduced by wrapping addition: exact, so any
// missing, doubled or misplaced contribution shows. Memory not holding
// input starts as a fixed non-zero pattern, so reading it before it is
// written shows too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collectives/native/algorithm.h"
#include "collectives/native/schedule_check.h"

namespace myriad {

// Input and Output sizes in bytes for `rank` (0 where the op binds none).
struct BufferSizes {
  uint64_t input = 0;
  uint64_t output = 0;
};
BufferSizes buffer_sizes(const CollectiveArgs& args, int rank);

// Where Input, Output and Scratch of `rank` lie (schedule.h's in-place layouts).
BufferBinding bind_buffers(const CollectiveArgs& args, int rank, bool in_place, uint64_t scratch_bytes);

// dst op= src, lane-wise wrapping addition.
void reduce_bytes(uint8_t* dst, const uint8_t* src, uint64_t bytes, size_t element_bytes);

class SimulatedData {
 public:
  // `scratch_bytes[r]` is rank r's schedule's scratch size.
  SimulatedData(const CollectiveArgs& args, bool in_place, const std::vector<uint64_t>& scratch_bytes,
                uint64_t seed);

  const BufferBinding& binding(int rank) const { return bindings_[rank]; }
  // Pointer to the bytes of `span` in rank's memory.
  uint8_t* at(int rank, const Span& span);
  // The first rank whose result differs from the reference, described.
  std::optional<std::string> check() const;

 private:
  void fill_input(int rank, uint8_t* data, uint64_t offset, uint64_t bytes) const;
  std::vector<uint8_t> input_of(int rank) const;

  CollectiveArgs args_;
  uint64_t seed_;
  std::vector<BufferBinding> bindings_;
  std::vector<std::vector<uint8_t>> memory_;  // three per rank
};

}  // namespace myriad
