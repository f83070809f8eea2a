// Ring passes: the reduce-scatter and allgather halves of ring algorithms,
// over any group of ranks, chunked and pipelined.
//
// A ring pass is a list of steps; at step k a member sends one chunk to its
// right neighbour and receives one chunk from its left (storing or reducing
// it). Step k+1 sends what step k received, so a step cannot start before
// the previous one ends. Cutting every chunk into slices lets the pass run
// as a wavefront: round t holds slice t-k of every step k, so step k+1's
// send of slice s overlaps step k's receive of slice s+1 (and the reduction
// of one slice overlaps the transfer of the next). Every member cuts a given
// chunk the same way, so sender and receiver agree on each slice's size;
// empty slices are left out on both sides.
#pragma once

#include <cstdint>
#include <vector>

#include "collectives/native/algorithms/layout.h"
#include "collectives/native/schedule.h"
#include "collectives/native/schedule_source.h"

namespace myriad {

// Target size of one slice of a pipelined ring. Small enough that the
// slices in flight (two per round per rank in a 2-rank ring) stay in the
// cores' caches between the send's copy and the receiver's reduction, big
// enough that the per-message cost (~1-3 us on shm) stays small beside the
// transfer. 2-rank shm all-reduce, 1-256 MiB, interleaved against
// MPI_Allreduce: 64 KiB beat 256 KiB by 0-15% (docs/BENCHMARKS.md).
inline constexpr uint64_t kRingSliceBytes = uint64_t{64} * 1024;

// One step of a ring pass, as full chunks.
struct RingStep {
  Span send;            // to the right neighbour
  Span recv;            // from the left neighbour; bytes equal the left's send at this step
  Span local;           // the local operand when `reduce`
  bool reduce = false;  // RecvReduce (dst = local op received) rather than Recv
};

// Slices every chunk of a pass is cut into: ceil(largest chunk / kRingSliceBytes), at least 1.
int ring_slices(uint64_t largest_chunk_bytes);

// Appends the pass as a wavefront of rounds. `first_round` steps (local
// copies that must not wait) join round 0; they must not touch memory the
// pass's round-0 steps write.
void append_ring_pass(Schedule& schedule, int left, int right, const std::vector<RingStep>& steps, int slices,
                      size_t element_bytes, const std::vector<Step>& first_round = {});

// The steps of a ring reduce-scatter among m members, this being member
// `pos`: `chunks` is the layout; member p's inputs are at `in`,
// intermediate sums go to `acc` (which may be `in`, never read before
// written otherwise) and member p ends with the sum of chunk p at `own`.
std::vector<RingStep> ring_reduce_scatter_steps(int members, int pos, const std::vector<Block>& chunks,
                                                Region in, Region acc, Span own, size_t element_bytes);

// The steps of a ring allgather: member p's chunk is at `own` when the pass
// starts; every chunk q ends at `out` + chunks[q] (member p's own chunk is
// not written by the pass).
std::vector<RingStep> ring_allgather_steps(int members, int pos, const std::vector<Block>& chunks, Region out,
                                           Span own, size_t element_bytes);

// Largest chunk in bytes.
uint64_t largest_chunk_bytes(const std::vector<Block>& chunks, size_t element_bytes);

// A ring pass as a round generator (schedule_source.h): a reduce-scatter
// half, an allgather half, or both in that order (ring all-reduce), with
// the same steps as ring_reduce_scatter_steps and ring_allgather_steps but
// computed when a round is asked for, so it holds O(1) memory for any
// number of members. append_ring_pass(schedule, pass) lists it.
class RingPass final : public RoundGenerator {
 public:
  RingPass(int members, int pos, int left, int right, ChunkLayout chunks, size_t element_bytes);
  // The reduce-scatter half (ring_reduce_scatter_steps' arguments).
  RingPass& reduce_scatter(Region in, Region acc, Span own);
  // The allgather half, after the reduce-scatter one if both are set.
  RingPass& allgather(Region out, Span own);
  // Local steps that join round 0 (append_ring_pass's `first_round`).
  RingPass& first_round(std::vector<Step> steps);

  int steps() const;
  RingStep step(int k) const;
  size_t rounds() const override;
  void fill(size_t index, Round& round) const override;

 private:
  int members_;
  int pos_;
  int left_;
  int right_;
  ChunkLayout chunks_;
  size_t element_bytes_;
  int slices_;
  bool reduce_scatter_ = false;
  Region rs_in_;
  Region rs_acc_;
  Span rs_own_;
  bool allgather_ = false;
  Region ag_out_;
  Span ag_own_;
  std::vector<Step> first_round_;
};

// Lists every round of `pass` into `schedule` (empty rounds left out).
void append_ring_pass(Schedule& schedule, const RingPass& pass);

}  // namespace myriad
