// Static checks of a schedule's rounds.
#include "collectives/native/schedule_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace myriad {
namespace {

std::string_view name_of(BufferId buffer) {
  switch (buffer) {
    case BufferId::Input: return "Input";
    case BufferId::Output: return "Output";
    case BufferId::Scratch: return "Scratch";
  }
  return "?";
}

std::string span_text(const Span& span) {
  return fmt::format("{}[{}, +{})", name_of(span.buffer), span.offset, span.bytes);
}

// Up to this many accesses, comparing every pair is cheaper than sorting.
constexpr size_t kPairwiseCheckMaxAccesses = 8;

struct Access {
  int memory = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
  bool write = false;
  size_t step = 0;
};

Access access_of(const BufferBinding& binding, const Span& span, bool write, size_t step) {
  const BufferBinding::Place& place = binding.place(span.buffer);
  return {place.memory, place.offset + span.offset, place.offset + span.offset + span.bytes, write, step};
}

bool overlaps(const Access& a, const Access& b) {
  return a.memory == b.memory && a.begin < b.end && b.begin < a.end;
}

std::optional<std::string> check_span(const Span& span, const ScheduleCheckContext& context, bool write) {
  if (span.bytes == 0) return std::nullopt;
  const BufferBinding::Place& place = context.binding.place(span.buffer);
  if (span.offset > place.bytes || span.bytes > place.bytes - span.offset) {
    return fmt::format("{} is outside {} of {} bytes", span_text(span), name_of(span.buffer), place.bytes);
  }
  if (span.offset % context.element_bytes != 0 || span.bytes % context.element_bytes != 0) {
    return fmt::format("{} does not cover whole {}-byte elements", span_text(span), context.element_bytes);
  }
  if (write && span.buffer == BufferId::Input) return fmt::format("{} writes Input", span_text(span));
  return std::nullopt;
}

}  // namespace

const BufferBinding::Place& BufferBinding::place(BufferId buffer) const {
  switch (buffer) {
    case BufferId::Input: return input;
    case BufferId::Output: return output;
    case BufferId::Scratch: return scratch;
  }
  return scratch;
}

bool same_memory(const BufferBinding& binding, const Span& a, const Span& b) {
  const BufferBinding::Place& pa = binding.place(a.buffer);
  const BufferBinding::Place& pb = binding.place(b.buffer);
  return pa.memory == pb.memory && pa.offset + a.offset == pb.offset + b.offset && a.bytes == b.bytes;
}

std::optional<std::string> check_round(const Round& round, const ScheduleCheckContext& context) {
  // Reused between calls: the simulator checks millions of small rounds.
  thread_local std::vector<Access> accesses;
  accesses.clear();
  for (size_t i = 0; i < round.steps.size(); ++i) {
    const Step& step = round.steps[i];
    const auto fail = [&](const std::string& what) { return fmt::format("step {}: {}", i, what); };
    const bool communicates =
        step.kind == StepKind::Send || step.kind == StepKind::Recv || step.kind == StepKind::RecvReduce;
    if (communicates && (step.peer < 0 || step.peer >= context.size || step.peer == context.rank)) {
      return fail(fmt::format("peer {} is not another rank of {}", step.peer, context.size));
    }
    const bool reads_src =
        step.kind == StepKind::Send || step.kind == StepKind::Copy || step.kind == StepKind::Reduce;
    const bool writes_dst = step.kind != StepKind::Send;
    const bool reads_local = step.kind == StepKind::RecvReduce || step.kind == StepKind::Reduce;
    if (reads_src) {
      if (auto problem = check_span(step.src, context, false)) return fail(*problem);
    }
    if (writes_dst) {
      if (auto problem = check_span(step.dst, context, true)) return fail(*problem);
    }
    if (reads_local) {
      if (auto problem = check_span(step.local, context, false)) return fail(*problem);
      if (step.local.bytes != step.dst.bytes) {
        return fail(
            fmt::format("local {} and dst {} differ in size", span_text(step.local), span_text(step.dst)));
      }
    }
    if ((step.kind == StepKind::Copy || step.kind == StepKind::Reduce) && step.src.bytes != step.dst.bytes) {
      return fail(fmt::format("src {} and dst {} differ in size", span_text(step.src), span_text(step.dst)));
    }
    if (step.kind == StepKind::Copy && same_memory(context.binding, step.src, step.dst)) continue;
    const Access dst = access_of(context.binding, step.dst, true, i);
    if (reads_src && writes_dst) {
      const Access src = access_of(context.binding, step.src, false, i);
      if (step.src.bytes > 0 && step.dst.bytes > 0 && overlaps(src, dst)) {
        return fail(fmt::format("src {} overlaps dst {}", span_text(step.src), span_text(step.dst)));
      }
    }
    if (reads_local) {
      const Access local = access_of(context.binding, step.local, false, i);
      // The local operand may be dst itself (an in-place reduction), not part of it.
      if (overlaps(local, dst) && !same_memory(context.binding, step.local, step.dst) && step.dst.bytes > 0) {
        return fail(
            fmt::format("local {} partly overlaps dst {}", span_text(step.local), span_text(step.dst)));
      }
      if (step.local.bytes > 0) accesses.push_back(local);
    }
    if (reads_src && step.src.bytes > 0) accesses.push_back(access_of(context.binding, step.src, false, i));
    if (writes_dst && step.dst.bytes > 0) accesses.push_back(dst);
  }
  const auto conflict = [](const Access& a, const Access& b) {
    return a.step != b.step && (a.write || b.write) && overlaps(a, b);
  };
  const auto hazard = [](size_t a, size_t b) {
    return fmt::format("steps {} and {} touch the same bytes and one writes them (hazard)", a, b);
  };
  if (accesses.size() <= kPairwiseCheckMaxAccesses) {
    for (size_t i = 0; i < accesses.size(); ++i) {
      for (size_t j = i + 1; j < accesses.size(); ++j) {
        if (conflict(accesses[i], accesses[j])) return hazard(accesses[i].step, accesses[j].step);
      }
    }
    return std::nullopt;
  }
  std::sort(accesses.begin(), accesses.end(), [](const Access& a, const Access& b) {
    return a.memory != b.memory ? a.memory < b.memory : a.begin < b.begin;
  });
  for (size_t i = 0; i < accesses.size(); ++i) {
    for (size_t j = i + 1; j < accesses.size() && overlaps(accesses[i], accesses[j]); ++j) {
      const Access& a = accesses[i];
      const Access& b = accesses[j];
      if (conflict(a, b)) return hazard(a.step, b.step);
    }
  }
  return std::nullopt;
}

}  // namespace myriad
