// Group allreduce building blocks: recursive doubling (with the fold of
// non-power-of-two groups) and the pipelined ring.
#include "collectives/native/algorithms/group_allreduce.h"

#include <memory>
#include <utility>

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

void append_ring_allreduce(ScheduleSource& source, const std::vector<int>& group, int pos, uint64_t count,
                           size_t element_bytes, Region in, Region out) {
  if (count == 0) return;
  const int members = static_cast<int>(group.size());
  const ChunkLayout chunks = ChunkLayout::even(count, members);
  if (members == 1) {
    add_round(source.listed())
        .steps.push_back(
            copy_step(span_at(in, chunks.at(0), element_bytes), span_at(out, chunks.at(0), element_bytes)));
    return;
  }
  // Partial sums accumulate in `out` itself: chunk c is written at the one
  // step that receives it and read by the next, and `in` is only read.
  const Span own = span_at(out, chunks.at(pos), element_bytes);
  auto pass = std::make_unique<RingPass>(members, pos, group[(pos + members - 1) % members],
                                         group[(pos + 1) % members], chunks, element_bytes);
  pass->reduce_scatter(in, out, own).allgather(out, own);
  source.add(std::move(pass));
}

}  // namespace myriad
