// Ring passes: step lists and their pipelined wavefront.
#include "collectives/native/algorithms/ring_pass.h"

#include <algorithm>

namespace myriad {

int ring_slices(uint64_t largest_chunk_bytes) {
  const uint64_t slices = (largest_chunk_bytes + kRingSliceBytes - 1) / kRingSliceBytes;
  return static_cast<int>(std::max<uint64_t>(slices, 1));
}

uint64_t largest_chunk_bytes(const std::vector<Block>& chunks, size_t element_bytes) {
  uint64_t largest = 0;
  for (const Block& chunk : chunks) largest = std::max(largest, chunk.count);
  return largest * element_bytes;
}

void append_ring_pass(Schedule& schedule, int left, int right, const std::vector<RingStep>& steps, int slices,
                      size_t element_bytes, const std::vector<Step>& first_round) {
  const int count = static_cast<int>(steps.size());
  const int rounds = count == 0 ? (first_round.empty() ? 0 : 1) : count + slices - 1;
  for (int t = 0; t < rounds; ++t) {
    Round& round = add_round(schedule);
    if (t == 0) round.steps = first_round;
    // Steps in ascending k: the order in which both ends of a link post the
    // messages of this round, so the FIFO match pairs slice s of step k.
    for (int k = std::max(0, t - slices + 1); k <= std::min(count - 1, t); ++k) {
      const int slice = t - k;
      const RingStep& step = steps[k];
      Span send = slice_span(step.send, slice, slices, element_bytes);
      Span recv = slice_span(step.recv, slice, slices, element_bytes);
      if (send.bytes > 0) round.steps.push_back(send_step(right, send));
      if (recv.bytes == 0) continue;
      if (step.reduce) {
        round.steps.push_back(
            recv_reduce_step(left, recv, slice_span(step.local, slice, slices, element_bytes)));
      } else {
        round.steps.push_back(recv_step(left, recv));
      }
    }
    if (round.steps.empty()) schedule.rounds.pop_back();
  }
}

std::vector<RingStep> ring_reduce_scatter_steps(int members, int pos, const std::vector<Block>& chunks,
                                                Region in, Region acc, Span own, size_t element_bytes) {
  // At step k member p sends chunk p-k-1 and receives chunk p-k-2, so the
  // last step (k = m-2) completes chunk p. Step 0 sends the member's own
  // input; later steps send the sum received one step earlier.
  std::vector<RingStep> steps;
  for (int k = 0; k + 1 < members; ++k) {
    const int sent = ((pos - k - 1) % members + members) % members;
    const int received = ((pos - k - 2) % members + members) % members;
    RingStep step;
    step.send = span_at(k == 0 ? in : acc, chunks[sent], element_bytes);
    step.recv = k + 2 == members ? own : span_at(acc, chunks[received], element_bytes);
    step.local = span_at(in, chunks[received], element_bytes);
    step.reduce = true;
    steps.push_back(step);
  }
  return steps;
}

std::vector<RingStep> ring_allgather_steps(int members, int pos, const std::vector<Block>& chunks, Region out,
                                           Span own, size_t element_bytes) {
  // At step k member p sends chunk p-k (its own at k = 0) and receives p-k-1.
  std::vector<RingStep> steps;
  for (int k = 0; k + 1 < members; ++k) {
    const int sent = ((pos - k) % members + members) % members;
    const int received = ((pos - k - 1) % members + members) % members;
    RingStep step;
    step.send = k == 0 ? own : span_at(out, chunks[sent], element_bytes);
    step.recv = span_at(out, chunks[received], element_bytes);
    steps.push_back(step);
  }
  return steps;
}

}  // namespace myriad
