// One collective call with inputs whose result is known exactly: the cases
// that the correctness, async and MPI tests run and check.
//
// A Case names an operation (kind, dtype, reduction, algorithm, count, in
// place or not, root). start_case() allocates the buffers of this rank,
// fills them with values computed from (case, rank, index) and issues the
// call; check_case() waits and compares every element of every buffer the
// rank passed with a reference computed here in double precision: the
// result, inputs that must be unchanged, and guard bytes on both sides of
// each buffer that no operation may touch.
//
// Values are chosen so that every result is exact in every dtype, the
// 16-bit floats and 8-bit integers included (see input_value()); only avg
// needs a tolerance (see avg_tolerance()).
//
// No GoogleTest here: the MPI check program uses it too. Not thread-safe
// per PendingCase; different cases are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectives/communicator.h"

namespace myriad::test {

struct Case {
  OpKind kind = OpKind::Allreduce;  // Send stands for a ring exchange: send to rank+1, receive from rank-1
  DType dtype = DType::F32;
  ReduceOp op = ReduceOp::Sum;  // reducing kinds only
  std::string algorithm{};      // empty: the default selection
  // Elements per rank as the kind counts them: allreduce, reduce and
  // broadcast the vector; allgather, gather, scatter and reduce_scatter the
  // block of one rank; alltoall the block for one peer; the `v` kinds derive
  // their per-rank counts from it (v_count(), alltoallv_count()).
  uint64_t count = 0;
  bool in_place = false;
  int root = 0;
  uint64_t seed = 0;  // varies the values between cases

  // "allreduce dtype=f32 op=sum algorithm=ring count=7 in_place=1 root=0".
  std::string to_string() const;
};

bool is_reducing(OpKind kind);
bool has_root(OpKind kind);
// Whether an in-place variant exists (broadcast, barrier and send have none).
bool has_in_place(OpKind kind);
// The reductions valid for a dtype: avg for the floating types only, band,
// bor and bxor for the integer types only.
std::vector<ReduceOp> reductions_for(DType dtype);

// Per-rank counts of allgatherv/reduce_scatterv (some ranks have none), and
// the element count rank i sends to rank j in alltoallv. The matrix is
// symmetric, so every rank sends as many elements as it receives and the
// in-place variant has one buffer size.
uint64_t v_count(uint64_t count, int rank);
uint64_t alltoallv_count(uint64_t count, int from, int to);

// The value rank `rank` contributes at element `index`. Chosen per kind and
// reduction so that any combination over up to 8 ranks is exact in every
// dtype, partial results included:
//   sum, avg  integers in [-8, 7] ([0, 15] for u8): |sum| <= 120 < 127
//   prod      +-1, and 2 for at most a quarter of the ranks: |prod| <= 4
//   min, max  integers in [-50, 50] ([0, 100] for u8)
//   band, bor, bxor  any value of the (integer) type, 53 bits of i64; mostly
//             ones for band and mostly zeros for bor, so results are mixed
//   others    integers in [-60, 59] ([0, 199] for u8), distinct per rank and index
// Every such value but the bitwise ones' is exact in bf16 (8 significant
// bits hold up to 256); those are integers, exact in a double.
double input_value(const Case& c, int rank, uint64_t index);

// Largest |got - expected| / |expected| accepted for avg: 4 units in the
// last place of the dtype. The sum before the division is an exact
// integer; the scale by 1/n rounds the reciprocal and the product (and, for
// f16/bf16, the narrowing of a float result), at most about 1.5 ulp in all.
// A wrong divisor is off by at least 1/8 (n vs n+1 for n <= 8), far above.
double avg_tolerance(DType dtype);

// A host buffer of `count` elements of one dtype between two guard zones.
class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(DType dtype, size_t count);

  DType dtype() const { return dtype_; }
  size_t count() const { return count_; }
  // The whole buffer, or `count` elements from `offset`. A view of zero
  // elements has a null pointer: that must be accepted.
  TensorView view() const { return view(0, count_); }
  TensorView view(size_t offset, size_t count) const;
  double get(size_t index) const;
  void set(size_t index, double value);
  // Index of the first changed guard byte (negative: before the data), or nullopt.
  std::optional<long> clobbered_guard() const;

 private:
  uint8_t* data() const { return const_cast<uint8_t*>(bytes_.data()) + kGuardBytes; }

  static constexpr size_t kGuardBytes = 64;  // keeps the data 16-byte aligned
  static constexpr uint8_t kGuardByte = 0xa5;
  DType dtype_ = DType::F32;
  size_t count_ = 0;
  std::vector<uint8_t> bytes_;
};

// A case in flight on one rank.
class PendingCase {
 public:
  const Case& spec() const { return case_; }
  const std::vector<WorkPtr>& works() const { return works_; }

 private:
  friend std::unique_ptr<PendingCase> start_case(Communicator& comm, const Case& c);
  friend std::string check_case(PendingCase& pending);

  struct Checked {
    std::string name;
    HostBuffer* buffer;
    std::vector<double> expected;  // final content of every element
  };

  Case case_;
  int rank_ = 0;
  int size_ = 1;
  HostBuffer input_;
  HostBuffer output_;
  std::vector<WorkPtr> works_;
  std::vector<Checked> checks_;
};

// Issues `c` on `comm`. Throws what the call throws (invalid arguments).
std::unique_ptr<PendingCase> start_case(Communicator& comm, const Case& c);
// Waits for the case's works; rethrows an operation's error. Returns an
// empty string when every element is as expected, else the case and the
// first wrong element ("... output[3]: expected 5, got 4").
std::string check_case(PendingCase& pending);

}  // namespace myriad::test
