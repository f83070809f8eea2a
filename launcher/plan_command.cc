// `myriad plan`: the effective training time ratio (ETTR) of a job of
// --gpus GPUs, and the checkpoint interval that maximises it (Young, Daly),
// from a failure rate, the blocking cost of a checkpoint and the recovery
// components (elastic/ettr.h). The components come from flags, or from a
// real run's goodput ledger (--ledger; flags override it). Text, or --json.
// The model, its defaults and their sources: docs/planning.md.
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "elastic/ettr.h"
#include "elastic/ledger.h"
#include "launcher/commands.h"
#include "runtime/config.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

using json = nlohmann::json;

// The default failure rate: Llama 3 405B's pre-training (Meta, "The Llama 3
// Herd of Models", 2024, section 3.3.4): 419 unexpected interruptions in a
// 54-day snapshot on 16,384 H100 GPUs, a job MTBF of 3.09 h. Spread evenly
// over the GPUs: one GPU's share fails every 16,384 x 54 x 24 / 419 =
// 50,677 GPU-hours, which scales to a job of any size.
constexpr double kLlama3Gpus = 16'384;
constexpr double kLlama3Days = 54;
constexpr double kLlama3Interruptions = 419;
constexpr double kDefaultGpuMtbfHours = kLlama3Gpus * kLlama3Days * 24 / kLlama3Interruptions;
constexpr int kDefaultGpusPerNode = 8;
constexpr double kSecondsPerHour = 3600;

struct PlanOptions {
  int64_t gpus = 0;
  int64_t gpus_per_node = kDefaultGpusPerNode;
  std::optional<double> mtbf_hours;
  std::optional<double> gpu_mtbf_hours;
  std::optional<double> node_mtbf_hours;
  std::optional<std::string> save, interval, detection, stop, rendezvous, restart, restore, recompute;
  std::string ledger;
  bool json = false;
};

// One input of the model and where it came from ("--save", "ledger", "not given").
struct Input {
  double seconds = 0;
  std::string source;
};

double positive_hours(const std::optional<double>& hours, const char* flag) {
  if (!(*hours > 0) || std::isinf(*hours)) {
    raise(ErrorCode::InvalidArgument, "{} {}: must be a finite number of hours > 0", flag, *hours);
  }
  return *hours;
}

double seconds_of(const std::string& text, const char* flag) {
  return static_cast<double>(config::parse_duration(text, flag).count()) / 1000;
}

std::string human(double seconds) {
  if (std::isinf(seconds)) return "never";
  if (seconds < 1) return fmt::format("{:.3f} s", seconds);
  if (seconds < 120) return fmt::format("{:.2f} s", seconds);
  if (seconds < 2 * kSecondsPerHour) return fmt::format("{:.1f} min", seconds / 60);
  return fmt::format("{:.2f} h", seconds / kSecondsPerHour);
}

// The job's MTBF in seconds and a line saying where it came from.
std::pair<double, std::string> job_mtbf(const PlanOptions& o, int64_t nodes) {
  if (o.mtbf_hours) {
    return {positive_hours(o.mtbf_hours, "--mtbf-hours") * kSecondsPerHour, "--mtbf-hours, the whole job"};
  }
  if (o.node_mtbf_hours) {
    double node = positive_hours(o.node_mtbf_hours, "--node-mtbf-hours");
    return {node * kSecondsPerHour / static_cast<double>(nodes),
            fmt::format("--node-mtbf-hours {} over {} nodes", node, nodes)};
  }
  if (o.gpu_mtbf_hours) {
    double gpu = positive_hours(o.gpu_mtbf_hours, "--gpu-mtbf-hours");
    return {gpu * kSecondsPerHour / static_cast<double>(o.gpus),
            fmt::format("--gpu-mtbf-hours {} over {} GPUs", gpu, o.gpus)};
  }
  return {kDefaultGpuMtbfHours * kSecondsPerHour / static_cast<double>(o.gpus),
          fmt::format("default: one failure per {:.0f} GPU-hours, from Llama 3 405B's 419 unexpected "
                      "interruptions in 54 days on 16,384 H100s",
                      kDefaultGpuMtbfHours)};
}

// The ledger's means, per failure that a restart followed, by component.
struct LedgerValues {
  elastic::GoodputReport report;
  std::optional<elastic::RecoveryTime> recovery;
};

LedgerValues read_ledger(const std::string& path) {
  std::vector<json> events = elastic::read_events(path, elastic::BadLine::kThrow);
  if (events.empty()) raise(ErrorCode::InvalidArgument, "--ledger {}: no events in it", path);
  LedgerValues values;
  values.report = elastic::summarize(events);
  const std::vector<elastic::LostTime>& recoveries = values.report.recoveries;
  if (!recoveries.empty()) {
    elastic::RecoveryTime mean;
    for (const elastic::LostTime& r : recoveries) {
      mean.detection += r.detection;
      mean.stop += r.stop;
      mean.rendezvous += r.rendezvous;
      mean.restart += r.restart;
      mean.restore += r.restore;
    }
    const double n = static_cast<double>(recoveries.size());
    values.recovery = elastic::RecoveryTime{.detection = mean.detection / n,
                                            .stop = mean.stop / n,
                                            .rendezvous = mean.rendezvous / n,
                                            .restart = mean.restart / n,
                                            .restore = mean.restore / n};
  }
  return values;
}

// A flag's value, else the ledger's, else `absent` (0, "not given").
Input pick(const std::optional<std::string>& flag_value, const char* flag, std::optional<double> from_ledger,
           std::vector<std::string>& missing) {
  if (flag_value) return Input{seconds_of(*flag_value, flag), flag};
  if (from_ledger) return Input{*from_ledger, "ledger"};
  missing.emplace_back(flag);
  return Input{0, "not given"};
}

json estimate_json(const elastic::EttrEstimate& e) {
  const auto finite = [](double x) { return std::isinf(x) ? json(nullptr) : json(x); };
  return json{{"interval_seconds", finite(e.interval_seconds)},
              {"ettr", e.ettr},
              {"save_fraction", e.save_fraction},
              {"failure_fraction", e.failure_fraction},
              {"lost_per_failure_seconds", e.lost_per_failure()},
              {"lost_per_failure",
               {{"detection", e.recovery.detection},
                {"stop", e.recovery.stop},
                {"rendezvous", e.recovery.rendezvous},
                {"restart", e.recovery.restart},
                {"restore", e.recovery.restore},
                {"failures_during_recovery", e.failures_during_recovery},
                {"recompute", e.recompute}}}};
}

std::string estimate_line(const char* name, const elastic::EttrEstimate& e) {
  return fmt::format("  {:<26} {:>10}   ETTR {:6.2f}%  (saves {:.2f}%, failures {:.2f}%)\n", name,
                     human(e.interval_seconds), 100 * e.ettr, 100 * e.save_fraction,
                     100 * e.failure_fraction);
}

constexpr const char* kComponentNames[] = {"detection", "stop", "rendezvous", "restart", "restore"};

// The model's inputs, each with its source, and the estimates made from them.
struct Plan {
  int64_t nodes = 0;
  double mtbf = 0;
  std::string mtbf_source;
  Input save;
  Input components[5];  // in kComponentNames' order
  Input recompute;      // source "derived" unless --recompute
  std::optional<Input> interval;
  std::optional<LedgerValues> ledger;
  elastic::EttrInputs inputs;
  elastic::EttrEstimate young, daly, best;
  std::optional<elastic::EttrEstimate> at_interval;
};

// The inputs from flags, else the ledger; an error names what is missing or wrong.
Plan resolve(const PlanOptions& o) {
  if (o.gpus < 1) raise(ErrorCode::InvalidArgument, "--gpus {}: must be at least 1", o.gpus);
  if (o.gpus_per_node < 1) {
    raise(ErrorCode::InvalidArgument, "--gpus-per-node {}: must be at least 1", o.gpus_per_node);
  }
  Plan p;
  p.nodes = (o.gpus + o.gpus_per_node - 1) / o.gpus_per_node;
  std::tie(p.mtbf, p.mtbf_source) = job_mtbf(o, p.nodes);
  if (!o.ledger.empty()) p.ledger = read_ledger(o.ledger);

  const std::optional<elastic::RecoveryTime> measured = p.ledger ? p.ledger->recovery : std::nullopt;
  const auto component = [&measured](double elastic::RecoveryTime::*field) -> std::optional<double> {
    if (!measured) return std::nullopt;
    return (*measured).*field;
  };
  std::vector<std::string> missing;
  p.components[0] = pick(o.detection, "--detection", component(&elastic::RecoveryTime::detection), missing);
  p.components[1] = pick(o.stop, "--stop", component(&elastic::RecoveryTime::stop), missing);
  p.components[2] =
      pick(o.rendezvous, "--rendezvous", component(&elastic::RecoveryTime::rendezvous), missing);
  p.components[3] = pick(o.restart, "--restart", component(&elastic::RecoveryTime::restart), missing);
  p.components[4] = pick(o.restore, "--restore", component(&elastic::RecoveryTime::restore), missing);
  if (p.ledger && !missing.empty()) {
    std::string flags;
    for (const std::string& flag : missing) flags += (flags.empty() ? "" : ", ") + flag;
    raise(ErrorCode::InvalidArgument,
          "--ledger {}: no failure followed by a restart ({} failure(s), {} restart(s)), so it does not "
          "measure {}: give them as flags",
          o.ledger, p.ledger->report.failures, p.ledger->report.restarts, flags);
  }

  std::optional<double> ledger_save;
  if (p.ledger && p.ledger->report.checkpoints > 0)
    ledger_save = p.ledger->report.checkpoint_blocking_seconds;
  std::vector<std::string> no_save;
  p.save = pick(o.save, "--save", ledger_save, no_save);
  if (!no_save.empty() && p.ledger) {
    raise(ErrorCode::InvalidArgument,
          "--ledger {}: no checkpoint in it (snapshot_taken): give --save, the seconds a checkpoint blocks "
          "training",
          o.ledger);
  }
  if (!no_save.empty()) {
    raise(
        ErrorCode::InvalidArgument,
        "--save is required: the seconds a checkpoint blocks training (or --ledger with checkpoints in it)");
  }
  if (!(p.save.seconds > 0)) {
    raise(ErrorCode::InvalidArgument, "{}: a checkpoint that blocks {} s: must be more than 0 s",
          o.save ? "--save " + *o.save : "--ledger " + o.ledger, p.save.seconds);
  }
  if (o.interval) {
    p.interval = Input{seconds_of(*o.interval, "--interval"), "--interval"};
    if (!(p.interval->seconds > 0)) {
      raise(ErrorCode::InvalidArgument, "--interval {}: must be more than 0 s", *o.interval);
    }
  } else if (p.ledger && p.ledger->report.checkpoint_interval_seconds > 0) {
    p.interval = Input{p.ledger->report.checkpoint_interval_seconds, "ledger"};
  }
  p.recompute =
      o.recompute ? Input{seconds_of(*o.recompute, "--recompute"), "--recompute"} : Input{0, "derived"};

  p.inputs = elastic::EttrInputs{.mtbf_seconds = p.mtbf,
                                 .save_seconds = p.save.seconds,
                                 .recovery = {.detection = p.components[0].seconds,
                                              .stop = p.components[1].seconds,
                                              .rendezvous = p.components[2].seconds,
                                              .restart = p.components[3].seconds,
                                              .restore = p.components[4].seconds},
                                 .recompute_seconds = std::nullopt};
  if (o.recompute) p.inputs.recompute_seconds = p.recompute.seconds;
  p.young = elastic::estimate_ettr(p.inputs, elastic::young_interval(p.save.seconds, p.mtbf));
  p.daly = elastic::estimate_ettr(p.inputs, elastic::daly_interval(p.save.seconds, p.mtbf));
  p.best = elastic::estimate_ettr(p.inputs, elastic::best_interval(p.inputs));
  if (p.interval) p.at_interval = elastic::estimate_ettr(p.inputs, p.interval->seconds);
  return p;
}

json plan_json(const PlanOptions& o, const Plan& p) {
  json out{{"gpus", o.gpus},
           {"gpus_per_node", o.gpus_per_node},
           {"nodes", p.nodes},
           {"mtbf_seconds", p.mtbf},
           {"mtbf_source", p.mtbf_source},
           {"failures_per_day", p.daly.failures_per_day},
           {"save_seconds", p.save.seconds},
           {"recovery_seconds", p.inputs.recovery.total()},
           {"young", estimate_json(p.young)},
           {"daly", estimate_json(p.daly)},
           {"best", estimate_json(p.best)}};
  json sources{{"save", p.save.source}, {"recompute", p.recompute.source}};
  for (size_t i = 0; i < std::size(kComponentNames); ++i)
    sources[kComponentNames[i]] = p.components[i].source;
  if (p.at_interval) {
    out["interval"] = estimate_json(*p.at_interval);
    sources["interval"] = p.interval->source;
  }
  out["sources"] = sources;
  if (p.ledger) {
    const elastic::GoodputReport& r = p.ledger->report;
    out["ledger"] = json{{"path", o.ledger},
                         {"failures", r.failures},
                         {"recoveries", r.recoveries.size()},
                         {"checkpoints", r.checkpoints},
                         {"effective_ratio", r.effective_ratio}};
  }
  return out;
}

std::string plan_text(const PlanOptions& o, const Plan& p) {
  std::string text =
      fmt::format("myriad plan: {} GPUs on {} nodes of {}\n", o.gpus, p.nodes, o.gpus_per_node);
  text += fmt::format("failures: job MTBF {} ({}); {:.2f} failures per day\n", human(p.mtbf), p.mtbf_source,
                      p.daly.failures_per_day);
  text += fmt::format("checkpoint: {} blocking per save ({})\n", human(p.save.seconds), p.save.source);
  text += fmt::format("recovery: {} per failure before any recompute\n", human(p.inputs.recovery.total()));
  if (p.ledger) {
    const elastic::GoodputReport& r = p.ledger->report;
    text += fmt::format("ledger {}: {} failure(s), {} recovery(ies) averaged, {} checkpoint(s)\n", o.ledger,
                        r.failures, r.recoveries.size(), r.checkpoints);
  }
  text += "checkpoint interval (compute time between two saves):\n";
  text += estimate_line("Young: sqrt(2 d M)", p.young);
  text += estimate_line("Daly: higher order", p.daly);
  text += estimate_line("best of the model", p.best);
  if (p.at_interval)
    text += estimate_line(fmt::format("{} (given)", p.interval->source).c_str(), *p.at_interval);

  // The breakdown at the interval the user runs (given or the ledger's), else at Daly's.
  const elastic::EttrEstimate& e = p.at_interval ? *p.at_interval : p.daly;
  text += fmt::format("expected time lost per failure at {}: {}\n", human(e.interval_seconds),
                      human(e.lost_per_failure()));
  for (size_t i = 0; i < std::size(kComponentNames); ++i) {
    text += fmt::format("  {:<26} {:>10}   ({})\n", kComponentNames[i], human(p.components[i].seconds),
                        p.components[i].source);
  }
  text += fmt::format("  {:<26} {:>10}   (further failures while recovering)\n", "failures during recovery",
                      human(e.failures_during_recovery));
  text += fmt::format("  {:<26} {:>10}   ({})\n", "recompute", human(e.recompute),
                      p.recompute.source == "derived"
                          ? "derived: the work since the last checkpoint, about half an interval and a save"
                          : p.recompute.source);
  return text;
}

int plan(const PlanOptions& o) {
  const Plan p = resolve(o);
  if (o.json) {
    std::cout << plan_json(o, p).dump(2) << "\n";
  } else {
    std::cout << plan_text(o, p);
  }
  return 0;
}

}  // namespace

CommandMain add_plan_command(CLI::App& app) {
  auto o = std::make_shared<PlanOptions>();
  CLI::App* plan_app = app.add_subcommand(
      "plan", "Expected effective training time and the best checkpoint interval (Young, Daly)");
  plan_app->add_option("--gpus", o->gpus, "GPUs in the job")->required();
  plan_app->add_option("--gpus-per-node", o->gpus_per_node, "GPUs per node (for --node-mtbf-hours)")
      ->default_val(kDefaultGpusPerNode);
  CLI::Option* mtbf =
      plan_app->add_option("--mtbf-hours", o->mtbf_hours, "Mean time between failures of the whole job");
  CLI::Option* gpu = plan_app->add_option(
      "--gpu-mtbf-hours", o->gpu_mtbf_hours,
      fmt::format("Mean time between failures per GPU (default {:.0f}: Llama 3 405B's rate)",
                  kDefaultGpuMtbfHours));
  CLI::Option* node =
      plan_app->add_option("--node-mtbf-hours", o->node_mtbf_hours, "Mean time between failures per node");
  mtbf->excludes(gpu)->excludes(node);
  gpu->excludes(node);
  const auto duration = [plan_app](const char* name, std::optional<std::string>& target, const char* help) {
    plan_app->add_option(name, target, help)->type_name("DURATION");
  };
  duration("--save", o->save, "Training blocked per checkpoint");
  duration("--interval", o->interval,
           "Also the ETTR at this checkpoint interval (compute time between saves)");
  duration("--detection", o->detection, "Per failure: fault -> detected");
  duration("--stop", o->stop, "Per failure: detected -> workers stopped");
  duration("--rendezvous", o->rendezvous, "Per failure: stopped -> new round");
  duration("--restart", o->restart, "Per failure: new round -> first step, less the restore");
  duration("--restore", o->restore, "Per failure: loading the checkpoint");
  duration("--recompute", o->recompute, "Per failure: work redone (default: derived from the interval)");
  plan_app->footer(
      "DURATION: a number with an optional unit ms, s (the default), m or h: 30, 500ms, 2m, 1h.\n"
      "The model, its defaults and their sources: docs/planning.md.");
  plan_app->add_option("--ledger", o->ledger,
                       "A run's goodput ledger (events.jsonl): the components above; flags win");
  plan_app->add_flag("--json", o->json, "Print JSON");
  return [o]() { return plan(*o); };
}

}  // namespace myriad::launcher
