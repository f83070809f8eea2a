// The values `myriad bench coll -c 1` puts in the buffers and expects back.
//
// Every rank fills its input with small integers that depend on the rank
// and the element index, so that each result element has one exact
// expected value in every dtype (sums stay below 127 for up to 31 ranks):
//   input(rank, i) = 1 + (rank + i) mod 4        for sum, avg, min, max
//   input(rank, i) = 2 if i mod n == rank else 1 for prod (product = 2 or 1)
// Floating results are compared with a relative tolerance (1e-2 for f16 and
// bf16, whose avg is rounded, 1e-5 otherwise); integers must be exact.
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "launcher/bench/coll_ops.h"
#include "runtime/dtype.h"

namespace myriad::bench {

double input_value(ReduceOp op, int rank, int ranks, size_t index);
// The reduction over every rank of input(rank, index).
double reduced_value(ReduceOp op, int ranks, size_t index);

// Element `index` of a host buffer of `dtype`, as a double, and its store.
double load_element(const void* data, DType dtype, size_t index);
void store_element(void* data, DType dtype, size_t index, double value);

// Fills this rank's input (send_count elements) for `op`; for broadcast the
// root's values are the input and every other rank starts from zeros.
void fill_input(CollOp op, ReduceOp redop, int root, int rank, int ranks, void* input, DType dtype,
                size_t send_count);

// Counts the elements of this rank's output (recv_count elements, `count`
// the row's parameter count) that differ from what `op` must produce.
// Ranks whose output the op leaves undefined (reduce off the root) count 0.
uint64_t count_wrong(CollOp op, ReduceOp redop, int root, int rank, int ranks, const void* output,
                     DType dtype, size_t count, size_t recv_count);

}  // namespace myriad::bench
