// Schedule step constructors and the debugging listing.
#include "collectives/native/schedule.h"

#include <fmt/format.h>

namespace myriad {
namespace {

std::string_view buffer_name(BufferId buffer) {
  switch (buffer) {
    case BufferId::Input: return "in";
    case BufferId::Output: return "out";
    case BufferId::Scratch: return "scratch";
  }
  return "?";
}

std::string span_text(const Span& span) {
  return fmt::format("{}[{}+{}]", buffer_name(span.buffer), span.offset, span.bytes);
}

}  // namespace

Step send_step(int peer, Span src) {
  Step step;
  step.kind = StepKind::Send;
  step.peer = peer;
  step.src = src;
  return step;
}

Step recv_step(int peer, Span dst) {
  Step step;
  step.kind = StepKind::Recv;
  step.peer = peer;
  step.dst = dst;
  return step;
}

Step recv_reduce_step(int peer, Span dst, Span local) {
  Step step;
  step.kind = StepKind::RecvReduce;
  step.peer = peer;
  step.dst = dst;
  step.local = local;
  return step;
}

Step copy_step(Span src, Span dst) {
  Step step;
  step.kind = StepKind::Copy;
  step.src = src;
  step.dst = dst;
  return step;
}

Step reduce_step(Span src, Span dst, Span local) {
  Step step;
  step.kind = StepKind::Reduce;
  step.src = src;
  step.dst = dst;
  step.local = local;
  return step;
}

std::string schedule_to_string(const Schedule& schedule) {
  std::string out = fmt::format("schedule {} ({} rounds, scratch {} bytes)\n", schedule.algorithm,
                                schedule.rounds.size(), schedule.scratch_bytes);
  for (size_t r = 0; r < schedule.rounds.size(); ++r) {
    out += fmt::format("  round {}:", r);
    for (const Step& step : schedule.rounds[r].steps) {
      switch (step.kind) {
        case StepKind::Send: out += fmt::format(" send {} -> {};", span_text(step.src), step.peer); break;
        case StepKind::Recv: out += fmt::format(" recv {} <- {};", span_text(step.dst), step.peer); break;
        case StepKind::RecvReduce:
          out += fmt::format(" recv-reduce {} = {} + from {};", span_text(step.dst), span_text(step.local),
                             step.peer);
          break;
        case StepKind::Copy:
          out += fmt::format(" copy {} = {};", span_text(step.dst), span_text(step.src));
          break;
        case StepKind::Reduce:
          out += fmt::format(" reduce {} = {} + {};", span_text(step.dst), span_text(step.local),
                             span_text(step.src));
          break;
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace myriad
