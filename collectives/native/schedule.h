// Schedule: a collective algorithm written down as data.
//
// An algorithm (ring, recursive doubling, tree, ...) produces, for one rank,
// a list of rounds; each round holds steps that may run concurrently (send a
// span to a peer, receive a span from a peer and store or reduce it, copy or
// reduce locally). Rounds run in order. The executor runs a schedule over
// real transports; the simulator runs every rank's schedule in one process
// over in-memory buffers and a cost model. The same schedule is therefore
// checked for data flow at thousands of simulated ranks and timed.
//
// Buffers are named, not pointed to: the operation binds Input, Output and
// Scratch to memory when it runs. Buffer conventions per operation (counts
// in elements, `n` ranks, `c` the per-rank count, `c_r` rank r's count of a
// `v` variant, blocks in rank order):
//   allreduce         Input c, Output c
//   reduce            Input c, Output c at the root only (other ranks bind none)
//   broadcast         Output c (the root's holds the data); no Input
//   allgather(v)      Input c_r, Output sum(c)     (rank r's block at prefix(c)[r])
//   reduce_scatter(v) Input sum(c), Output c_r     (rank r's block at prefix(c)[r])
//   alltoall          Input n*c, Output n*c        (block j of Input goes to rank j)
//   alltoallv         counts is the n*n matrix, counts[i*n+j] = elements rank i
//                     sends to rank j. Rank i's Input holds its blocks for
//                     j = 0..n-1 back to back (sum_j counts[i*n+j]); its Output
//                     holds the blocks from j = 0..n-1 (sum_j counts[j*n+i]).
//   gather            Input c, Output n*c at the root only
//   scatter           Input n*c at the root only, Output c
//   barrier           no buffers; zero-byte messages
//
// In place. Every schedule must be correct when Input and Output are the
// same memory, laid out as follows (the executor binds them so; the
// simulator checks every algorithm both ways):
//   allreduce, reduce (root), alltoall(v)   Input is Output
//   allgather(v)                            Input is Output's block r
//   reduce_scatter(v)                       Output is Input's block r
//   gather (root)                           Input is Output's block root
//   scatter (root)                          Output is Input's block root
// Schedules therefore never write Input, and never read Output (or Scratch)
// before writing it unless the op defines its content (broadcast's root).
//
// Within a round no step may read memory another step of that round writes,
// and no two steps may write the same memory; a RecvReduce or Reduce may use
// its dst as its local operand. Every span covers whole elements.
// Messages between an ordered pair of ranks are matched in the order they are
// posted: rounds in order, steps of a round in order. A send may complete only
// once its receive is posted (transports have bounded buffers), so a schedule
// must not rely on buffering to avoid deadlock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace myriad {

enum class BufferId : uint8_t { Input, Output, Scratch };

// A byte range of one of the bound buffers.
struct Span {
  BufferId buffer = BufferId::Input;
  uint64_t offset = 0;  // bytes
  uint64_t bytes = 0;
};

enum class StepKind : uint8_t {
  Send,        // send `src` to `peer`
  Recv,        // receive dst.bytes from `peer` into `dst`
  RecvReduce,  // receive from `peer`; dst = op(local, received)   (local may be dst)
  Copy,        // dst = src                                        (skipped when they alias)
  Reduce,      // dst = op(local, src)                             (local may be dst)
};

struct Step {
  StepKind kind = StepKind::Copy;
  int peer = -1;  // global rank, for Send/Recv/RecvReduce
  Span src;       // Send, Copy, Reduce
  Span dst;       // Recv, RecvReduce, Copy, Reduce
  Span local;     // RecvReduce, Reduce: the local operand
};

struct Round {
  std::vector<Step> steps;
};

struct Schedule {
  std::string algorithm;  // name of the algorithm that built it
  std::vector<Round> rounds;
  uint64_t scratch_bytes = 0;  // size the Scratch buffer must have
};

// Convenience constructors used by the algorithms.
Step send_step(int peer, Span src);
Step recv_step(int peer, Span dst);
Step recv_reduce_step(int peer, Span dst, Span local);
Step copy_step(Span src, Span dst);
Step reduce_step(Span src, Span dst, Span local);

// Human-readable listing for debugging and test failures.
std::string schedule_to_string(const Schedule& schedule);

}  // namespace myriad
