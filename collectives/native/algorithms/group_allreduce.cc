// Group allreduce building blocks: recursive doubling (with the fold of
// non-power-of-two groups) and the pipelined ring.
#include "collectives/native/algorithms/group_allreduce.h"

#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

bool same_span(const Span& a, const Span& b) {
  return a.buffer == b.buffer && a.offset == b.offset && a.bytes == b.bytes;
}

}  // namespace

Fold::Fold(int members) : members(members), p2(floor_pow2(members)), extra(members - floor_pow2(members)) {}

int Fold::survivor(int pos) const {
  if (pos < 2 * extra) return pos % 2 == 0 ? -1 : pos / 2;
  return pos - extra;
}

int Fold::member(int index) const {
  return index < extra ? 2 * index + 1 : index + extra;
}

void append_recursive_doubling_allreduce(Schedule& schedule, const std::vector<int>& group, int pos, Span in,
                                         Span out, Span tmp) {
  if (out.bytes == 0) return;
  const int members = static_cast<int>(group.size());
  if (members == 1) {
    add_round(schedule).steps.push_back(copy_step(in, out));
    return;
  }
  const Fold fold(members);
  const int me = fold.survivor(pos);
  if (me < 0) {
    // Folded: hand the vector to the partner, then wait for the result.
    add_round(schedule).steps.push_back(send_step(group[pos + 1], in));
    add_round(schedule).steps.push_back(recv_step(group[pos + 1], out));
    return;
  }
  // The first write goes to tmp, never to out: `in` may alias `out`, and
  // the round that writes must not overwrite what it sends.
  Span current = in;
  if (pos < 2 * fold.extra) {
    add_round(schedule).steps.push_back(recv_reduce_step(group[pos - 1], tmp, in));
    current = tmp;
  }
  for (int distance = 1; distance < fold.p2; distance <<= 1) {
    const int partner = group[fold.member(me ^ distance)];
    const Span next = same_span(current, tmp) ? out : tmp;
    Round& round = add_round(schedule);
    round.steps.push_back(send_step(partner, current));
    round.steps.push_back(recv_reduce_step(partner, next, current));
    current = next;
  }
  Round& last = add_round(schedule);
  if (!same_span(current, out)) last.steps.push_back(copy_step(current, out));
  // Unfold: the partner that handed its vector over gets the result.
  if (pos < 2 * fold.extra) last.steps.push_back(send_step(group[pos - 1], current));
  if (last.steps.empty()) schedule.rounds.pop_back();
}

void append_ring_allreduce(Schedule& schedule, const std::vector<int>& group, int pos, uint64_t count,
                           size_t element_bytes, Region in, Region out) {
  if (count == 0) return;
  const int members = static_cast<int>(group.size());
  const std::vector<Block> chunks = even_blocks(count, members);
  if (members == 1) {
    add_round(schedule).steps.push_back(
        copy_step(span_at(in, chunks[0], element_bytes), span_at(out, chunks[0], element_bytes)));
    return;
  }
  // Partial sums accumulate in `out` itself: chunk c is written at the one
  // step that receives it and read by the next, and `in` is only read.
  const Span own = span_at(out, chunks[pos], element_bytes);
  std::vector<RingStep> steps = ring_reduce_scatter_steps(members, pos, chunks, in, out, own, element_bytes);
  std::vector<RingStep> gather = ring_allgather_steps(members, pos, chunks, out, own, element_bytes);
  steps.insert(steps.end(), gather.begin(), gather.end());
  const int left = group[(pos + members - 1) % members];
  const int right = group[(pos + 1) % members];
  append_ring_pass(schedule, left, right, steps, ring_slices(largest_chunk_bytes(chunks, element_bytes)),
                   element_bytes);
}

}  // namespace myriad
