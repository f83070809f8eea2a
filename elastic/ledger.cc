#include "elastic/ledger.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>

#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::elastic {
namespace {

using json = nlohmann::json;

struct StepPoint {
  double t;
  int64_t step;
};

// One checkpoint's snapshot, over its ranks: when the slowest finished, how long it blocked.
struct Snapshot {
  double t = 0;
  double seconds = 0;
};

// Where a generation's time went, gathered from its events.
struct Generation {
  std::optional<double> formed;  // the latest round_formed (every agent may log one)
  std::vector<StepPoint> steps;  // first_step and step_progress, by time
  std::optional<double> ended;   // failure_detected or membership_change: when seen
  std::optional<double> fault;   // when the fault happened (the earliest reported)
  std::optional<int64_t> last_step;
  std::optional<double> stopped;  // the latest workers_stopped
  double restore = 0;             // the slowest rank's restore
  bool failed = false;
  std::string cause;
  std::map<int64_t, Snapshot> snapshots;  // by step
};

double number(const json& event, const char* field, double fallback = 0) {
  auto it = event.find(field);
  return it != event.end() && it->is_number() ? it->get<double>() : fallback;
}

// The time at which `step` was (or would have been) reached, from a
// generation's step reports, or from `rate_source`'s pace past the last report.
std::optional<double> time_of_step(int64_t step, const std::vector<StepPoint>& points,
                                   const std::vector<StepPoint>& rate_source) {
  if (points.empty()) return std::nullopt;
  for (size_t i = 1; i < points.size(); ++i) {
    const StepPoint& a = points[i - 1];
    const StepPoint& b = points[i];
    if (b.step >= step && b.step > a.step) {
      return a.t + static_cast<double>(step - a.step) * (b.t - a.t) / static_cast<double>(b.step - a.step);
    }
  }
  for (const std::vector<StepPoint>* source : {&points, &rate_source}) {
    if (source->size() < 2 || source->back().step <= source->front().step) continue;
    double per_step = (source->back().t - source->front().t) /
                      static_cast<double>(source->back().step - source->front().step);
    return points.back().t + static_cast<double>(step - points.back().step) * per_step;
  }
  return std::nullopt;
}

void add(LostTime& sum, const LostTime& part) {
  sum.startup += part.startup;
  sum.detection += part.detection;
  sum.stop += part.stop;
  sum.rendezvous += part.rendezvous;
  sum.restart += part.restart;
  sum.restore += part.restore;
  sum.recompute += part.recompute;
}

// A job's checkpoints, summed over its rounds.
struct CheckpointSums {
  int count = 0;
  double blocking = 0;   // the slowest rank's seconds, summed over the steps
  double intervals = 0;  // compute seconds between consecutive snapshots of one round
  int gaps = 0;
};

// A round's snapshots, by step: the compute time between two is the time
// between their ends less the later one's blocking time.
void add_checkpoints(const std::map<int64_t, Snapshot>& snapshots, CheckpointSums& sums) {
  const Snapshot* previous = nullptr;
  for (const auto& [step, snapshot] : snapshots) {
    ++sums.count;
    sums.blocking += snapshot.seconds;
    if (previous != nullptr && snapshot.t > previous->t) {
      sums.intervals += std::max(0.0, snapshot.t - previous->t - snapshot.seconds);
      ++sums.gaps;
    }
    previous = &snapshot;
  }
}

}  // namespace

std::vector<json> read_events(const std::string& path, BadLine bad_line) {
  std::ifstream in(path, std::ios::binary);
  if (!in) raise_errno(errno, fmt::format("goodput ledger {}: open", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) raise_errno(errno, fmt::format("goodput ledger {}: read", path));
  const std::string text = buffer.str();
  std::vector<json> events;
  size_t begin = 0;
  for (int line = 1; begin < text.size(); ++line) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) {
      // Every line is written with its newline in one write(2): a last line
      // without one was cut short (a writer killed mid-write, a full disk).
      MYRIAD_LOG_WARN("goodput ledger {}: line {} (offset {}) is torn ({} bytes, no newline); skipped", path,
                      line, begin, text.size() - begin);
      break;
    }
    std::string_view body(text.data() + begin, end - begin);
    if (!body.empty()) {
      json event = json::parse(body, nullptr, /*allow_exceptions=*/false);
      if (event.is_object() && event.contains("event") && event["event"].is_string() && event.contains("t") &&
          event["t"].is_number()) {
        events.push_back(std::move(event));
      } else if (bad_line == BadLine::kThrow) {
        raise(ErrorCode::Corruption,
              "goodput ledger {}:{} (offset {}): not an event (a JSON object with \"event\" and \"t\")", path,
              line, begin);
      } else {
        MYRIAD_LOG_WARN(
            "goodput ledger {}: line {} (offset {}) is not an event with \"event\" and \"t\"; skipped", path,
            line, begin);
      }
    }
    begin = end + 1;
  }
  return events;
}

GoodputReport summarize(const std::vector<json>& unsorted) {
  std::vector<const json*> events;
  for (const json& event : unsorted) {
    if (event.is_object() && event.contains("event") && event.contains("t")) events.push_back(&event);
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const json* a, const json* b) { return number(*a, "t") < number(*b, "t"); });
  GoodputReport report;
  if (events.empty()) return report;

  double start = number(*events.front(), "t");
  double end = number(*events.back(), "t");
  std::map<int64_t, Generation> generations;
  std::optional<int64_t> latest_formed;  // restore_done is counted in the round running when it came
  for (const json* e : events) {
    const std::string name = e->at("event").get<std::string>();
    double t = number(*e, "t");
    int64_t g = e->value("generation", int64_t{-1});
    if (name == "job_start") {
      start = t;
    } else if (name == "job_end") {
      end = t;
    } else if (name == "round_formed") {
      Generation& gen = generations[g];
      gen.formed = std::max(gen.formed.value_or(t), t);
      if (!latest_formed || g > *latest_formed) latest_formed = g;
    } else if (name == "first_step" || name == "step_progress") {
      report.steps_reported = true;
      generations[g].steps.push_back(StepPoint{t, e->value("step", int64_t{0})});
    } else if (name == "failure_detected" || name == "membership_change") {
      Generation& gen = generations[g];
      if (!gen.ended) {
        gen.ended = t;
        gen.failed = name == "failure_detected";
        gen.cause = e->value("cause", std::string(gen.failed ? "unknown" : ""));
      }
      if (gen.failed) gen.fault = std::min(gen.fault.value_or(t), number(*e, "fault_t", t));
      if (e->contains("last_step") && e->at("last_step").is_number()) {
        gen.last_step = std::max(gen.last_step.value_or(0), e->value("last_step", int64_t{0}));
      }
    } else if (name == "workers_stopped") {
      Generation& gen = generations[g];
      gen.stopped = std::max(gen.stopped.value_or(t), t);
    } else if (name == "restore_done" || name == "snapshot_taken") {
      // Ranks write these without a generation: the round running when it came.
      int64_t in = e->contains("generation") ? g : latest_formed.value_or(-1);
      Generation& gen = generations[in];
      if (name == "restore_done") {
        gen.restore = std::max(gen.restore, number(*e, "seconds"));
      } else {
        Snapshot& snapshot = gen.snapshots[e->value("step", int64_t{0})];
        snapshot.t = std::max(snapshot.t, t);
        snapshot.seconds = std::max(snapshot.seconds, number(*e, "seconds"));
      }
    }
  }
  report.wall_seconds = std::max(0.0, end - start);
  auto lost = [](double from, double to) { return std::max(0.0, to - from); };

  // Only formed rounds take part; a generation's first step is its earliest step report.
  std::vector<std::pair<int64_t, Generation*>> rounds;
  for (auto& [g, gen] : generations) {
    std::sort(gen.steps.begin(), gen.steps.end(),
              [](const StepPoint& a, const StepPoint& b) { return a.t < b.t; });
    if (gen.formed) rounds.emplace_back(g, &gen);
  }
  // Per round: what it cost to start (restart, restore; startup for the
  // first) and what its end cost (detection, stop, rendezvous, recompute).
  std::vector<LostTime> starting(rounds.size());
  std::vector<LostTime> ending(rounds.size());
  CheckpointSums checkpoints;
  for (size_t i = 0; i < rounds.size(); ++i) {
    Generation& gen = *rounds[i].second;
    const bool first_round = i == 0;
    Generation* next = i + 1 < rounds.size() ? rounds[i + 1].second : nullptr;
    // When this round stopped training: the fault, the change, or the end.
    double round_end = gen.failed ? *gen.fault : gen.ended.value_or(end);
    if (first_round) {
      starting[i].startup = lost(start, gen.steps.empty() ? round_end : gen.steps.front().t);
    } else {
      double began = gen.steps.empty() ? round_end : gen.steps.front().t;
      starting[i].restore = std::min(gen.restore, lost(*gen.formed, began));
      starting[i].restart = lost(*gen.formed, began) - starting[i].restore;
    }
    add_checkpoints(gen.snapshots, checkpoints);
    if (!gen.ended) continue;
    if (gen.failed) {
      ++report.failures;
      ++report.failures_by_cause[gen.cause];
      ending[i].detection = lost(*gen.fault, *gen.ended);
    }
    // With no next round, everything after the failure is lost to the stop.
    double stopped = next ? gen.stopped.value_or(*gen.ended) : end;
    ending[i].stop = lost(*gen.ended, stopped);
    if (!next) continue;
    ending[i].rendezvous = lost(stopped, *next->formed);
    // Steps done before the failure and done again after the restart.
    std::optional<int64_t> last = gen.last_step;
    if (!last && !gen.steps.empty()) last = gen.steps.back().step;
    if (last && !next->steps.empty() && *last > next->steps.front().step) {
      std::optional<double> redone = time_of_step(*last, next->steps, gen.steps);
      double next_end = next->failed ? *next->fault : next->ended.value_or(end);
      if (redone) {
        ending[i].recompute = lost(next->steps.front().t, std::min(*redone, next_end));
        report.recomputed_steps += *last - next->steps.front().step;
      }
    }
  }
  for (size_t i = 0; i < rounds.size(); ++i) {
    add(report.lost, starting[i]);
    add(report.lost, ending[i]);
    if (rounds[i].second->failed && i + 1 < rounds.size()) {
      LostTime recovery = ending[i];
      recovery.restart = starting[i + 1].restart;
      recovery.restore = starting[i + 1].restore;
      report.recoveries.push_back(recovery);
    }
  }
  report.checkpoints = checkpoints.count;
  if (checkpoints.count > 0) report.checkpoint_blocking_seconds = checkpoints.blocking / checkpoints.count;
  if (checkpoints.gaps > 0) report.checkpoint_interval_seconds = checkpoints.intervals / checkpoints.gaps;
  report.restarts = rounds.empty() ? 0 : static_cast<int>(rounds.size()) - 1;
  report.productive_seconds = std::max(0.0, report.wall_seconds - report.lost.total());
  report.effective_ratio = report.wall_seconds > 0 ? report.productive_seconds / report.wall_seconds : 0;
  return report;
}

std::string format_report(const GoodputReport& r) {
  std::string causes;
  for (const auto& [cause, count] : r.failures_by_cause) {
    causes += fmt::format("{}{}: {}", causes.empty() ? " (" : ", ", cause, count);
  }
  if (!causes.empty()) causes += ")";
  const LostTime& l = r.lost;
  if (!r.steps_reported) {
    return fmt::format(
        "goodput: not measured: no rank reported a training step (myriad.elastic.step, heartbeat::step); "
        "{:.1f} s "
        "wall, {} restart{}, {} failure{}{}\n",
        r.wall_seconds, r.restarts, r.restarts == 1 ? "" : "s", r.failures, r.failures == 1 ? "" : "s",
        causes);
  }
  return fmt::format(
      "goodput: {:.1f}% effective: {:.1f} s productive of {:.1f} s wall; {} restart{}, {} failure{}{}\n"
      "lost: startup {:.1f} s, detection {:.1f} s, stop {:.1f} s, rendezvous {:.1f} s, restart {:.1f} s, "
      "restore {:.1f} s, recompute {:.1f} s ({} steps)\n",
      100 * r.effective_ratio, r.productive_seconds, r.wall_seconds, r.restarts, r.restarts == 1 ? "" : "s",
      r.failures, r.failures == 1 ? "" : "s", causes, l.startup, l.detection, l.stop, l.rendezvous, l.restart,
      l.restore, l.recompute, r.recomputed_steps);
}

}  // namespace myriad::elastic
