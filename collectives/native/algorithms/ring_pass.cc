// Ring passes: step lists and their pipelined wavefront.
#include "collectives/native/algorithms/ring_pass.h"

#include <algorithm>
#include <utility>

#include "runtime/error.h"

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

namespace {

// Step k of a reduce-scatter among m members, this being member `pos`.
RingStep reduce_scatter_step(int k, int members, Block sent_block, Block received_block, Region in,
                             Region acc, Span own, size_t element_bytes) {
  RingStep step;
  step.send = span_at(k == 0 ? in : acc, sent_block, element_bytes);
  step.recv = k + 2 == members ? own : span_at(acc, received_block, element_bytes);
  step.local = span_at(in, received_block, element_bytes);
  step.reduce = true;
  return step;
}

RingStep allgather_step(int k, Block sent_block, Block received_block, Region out, Span own,
                        size_t element_bytes) {
  RingStep step;
  step.send = k == 0 ? own : span_at(out, sent_block, element_bytes);
  step.recv = span_at(out, received_block, element_bytes);
  return step;
}

// Chunk index `pos - shift` around a ring of `members`.
int ring_index(int pos, int shift, int members) {
  return ((pos - shift) % members + members) % members;
}

}  // namespace

std::vector<RingStep> ring_reduce_scatter_steps(int members, int pos, const std::vector<Block>& chunks,
                                                Region in, Region acc, Span own, size_t element_bytes) {
  // At step k member p sends chunk p-k-1 and receives chunk p-k-2, so the
  // last step (k = m-2) completes chunk p. Step 0 sends the member's own
  // input; later steps send the sum received one step earlier.
  std::vector<RingStep> steps;
  for (int k = 0; k + 1 < members; ++k) {
    steps.push_back(reduce_scatter_step(k, members, chunks[ring_index(pos, k + 1, members)],
                                        chunks[ring_index(pos, k + 2, members)], in, acc, own,
                                        element_bytes));
  }
  return steps;
}

std::vector<RingStep> ring_allgather_steps(int members, int pos, const std::vector<Block>& chunks, Region out,
                                           Span own, size_t element_bytes) {
  // At step k member p sends chunk p-k (its own at k = 0) and receives p-k-1.
  std::vector<RingStep> steps;
  for (int k = 0; k + 1 < members; ++k) {
    steps.push_back(allgather_step(k, chunks[ring_index(pos, k, members)],
                                   chunks[ring_index(pos, k + 1, members)], out, own, element_bytes));
  }
  return steps;
}

RingPass::RingPass(int members, int pos, int left, int right, ChunkLayout chunks, size_t element_bytes)
    : members_(members),
      pos_(pos),
      left_(left),
      right_(right),
      chunks_(std::move(chunks)),
      element_bytes_(element_bytes),
      slices_(ring_slices(chunks_.largest() * element_bytes)) {}

RingPass& RingPass::reduce_scatter(Region in, Region acc, Span own) {
  reduce_scatter_ = true;
  rs_in_ = in;
  rs_acc_ = acc;
  rs_own_ = own;
  return *this;
}

RingPass& RingPass::allgather(Region out, Span own) {
  allgather_ = true;
  ag_out_ = out;
  ag_own_ = own;
  return *this;
}

RingPass& RingPass::first_round(std::vector<Step> steps) {
  first_round_ = std::move(steps);
  return *this;
}

int RingPass::steps() const {
  const int half = std::max(members_ - 1, 0);
  return (reduce_scatter_ ? half : 0) + (allgather_ ? half : 0);
}

RingStep RingPass::step(int k) const {
  const int half = members_ - 1;
  if (reduce_scatter_ && k < half) {
    return reduce_scatter_step(k, members_, chunks_.at(ring_index(pos_, k + 1, members_)),
                               chunks_.at(ring_index(pos_, k + 2, members_)), rs_in_, rs_acc_, rs_own_,
                               element_bytes_);
  }
  if (reduce_scatter_) k -= half;
  return allgather_step(k, chunks_.at(ring_index(pos_, k, members_)),
                        chunks_.at(ring_index(pos_, k + 1, members_)), ag_out_, ag_own_, element_bytes_);
}

size_t RingPass::rounds() const {
  const int count = steps();
  if (count == 0) return first_round_.empty() ? 0 : 1;
  return static_cast<size_t>(count + slices_ - 1);
}

void RingPass::fill(size_t index, Round& round) const {
  const int t = static_cast<int>(index);
  const int count = steps();
  if (t == 0) round.steps.insert(round.steps.end(), first_round_.begin(), first_round_.end());
  // Steps in ascending k: the order in which both ends of a link post the
  // messages of this round, so the FIFO match pairs slice s of step k.
  for (int k = std::max(0, t - slices_ + 1); k <= std::min(count - 1, t); ++k) {
    const int slice = t - k;
    const RingStep ring_step = step(k);
    const Span send = slice_span(ring_step.send, slice, slices_, element_bytes_);
    const Span recv = slice_span(ring_step.recv, slice, slices_, element_bytes_);
    if (send.bytes > 0) round.steps.push_back(send_step(right_, send));
    if (recv.bytes == 0) continue;
    if (ring_step.reduce) {
      round.steps.push_back(
          recv_reduce_step(left_, recv, slice_span(ring_step.local, slice, slices_, element_bytes_)));
    } else {
      round.steps.push_back(recv_step(left_, recv));
    }
  }
}

void append_ring_pass(Schedule& schedule, const RingPass& pass) {
  for (size_t t = 0; t < pass.rounds(); ++t) {
    Round& round = add_round(schedule);
    pass.fill(t, round);
    if (round.steps.empty()) schedule.rounds.pop_back();
  }
}

}  // namespace myriad
