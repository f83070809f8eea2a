// Test states for the checkpoint tests: tensors that own their memory, cut
// into the rows a rank holds, filled with a pattern that depends on the
// tensor, the element and the step, so that a load can be checked byte by
// byte against what the save held.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/state.h"
#include "runtime/dtype.h"

namespace myriad::test {

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  checkpoint::Placement placement = checkpoint::Placement::Sharded;
};

// Rows [first, first + count) of `rows` that `rank` of `size` holds: an
// uneven split (the first rows % size ranks hold one more).
struct RowRange {
  int64_t first = 0;
  int64_t count = 0;
};
RowRange shard_rows(int64_t rows, int rank, int size);

struct OwnedTensor {
  TensorSpec spec;
  int64_t row_offset = 0;
  std::vector<unsigned char> bytes;
};

// A State whose tensors this object owns.
class OwnedState {
 public:
  // This rank's part of `specs`, filled with the pattern of `step` (or with
  // zeros when `fill` is false: a state to load into).
  OwnedState(const std::vector<TensorSpec>& specs, int rank, int size, uint64_t step, bool fill);
  checkpoint::State& state() { return state_; }
  // Empty when every byte holds the pattern of `step`; else the first
  // difference ("tensor w byte 17: ...").
  std::string mismatch(uint64_t step) const;

 private:
  std::vector<OwnedTensor> tensors_;
  checkpoint::State state_;
};

// The byte of the pattern at global byte `index` of tensor `name` at `step`.
unsigned char pattern_byte(const std::string& name, uint64_t index, uint64_t step);

// Plain values that depend on the step, nested.
nlohmann::json sample_values(uint64_t step);

}  // namespace myriad::test
