// Allreduce over a group of ranks, appended to a schedule: the building
// blocks of the flat allreduce algorithms and of the hierarchical ones
// (which run them among the ranks of one node, or one rank per node).
//
// `group` lists global ranks; this rank is group[pos]; every member passes
// the same group in the same order. Spans cover the whole vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "collectives/native/algorithms/layout.h"
#include "collectives/native/schedule.h"
#include "collectives/native/schedule_source.h"

namespace myriad {

// Recursive doubling needs a power-of-two group. The first 2*extra members
// pair up (2i, 2i+1): the even one hands its vector to the odd one and
// waits for the result; the p2 survivors run the power-of-two algorithm.
struct Fold {
  int members = 1;
  int p2 = 1;     // largest power of two <= members
  int extra = 0;  // members - p2

  explicit Fold(int members);
  // Survivor index of member `pos`, or -1 when it folds into pos + 1.
  int survivor(int pos) const;
  // Member index of survivor `index`.
  int member(int index) const;
};

// Recursive doubling allreduce: log2(p2) rounds, each exchanging the whole
// vector. Reads `in`, leaves the sum in `out`; `tmp` (same size) is scratch.
// `in` may be `out` or alias it.
void append_recursive_doubling_allreduce(Schedule& schedule, const std::vector<int>& group, int pos, Span in,
                                         Span out, Span tmp);

// Ring allreduce (reduce-scatter then allgather, one pipelined pass) of
// `count` elements: reads `in`, leaves the sum at `out`; intermediate sums
// live in `out`, so no scratch is needed. `in` may alias `out`. Added to
// `source` as a generator: O(1) memory for any group size.
void append_ring_allreduce(ScheduleSource& source, const std::vector<int>& group, int pos, uint64_t count,
                           size_t element_bytes, Region in, Region out);

}  // namespace myriad
