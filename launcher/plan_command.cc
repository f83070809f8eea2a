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

std::string breakdown(const elastic::EttrEstimate& e, const Input (&components)[5], const Input& recompute) {
  static constexpr const char* kNames[] = {"detection", "stop", "rendezvous", "restart", "restore"};
  std::string text = fmt::format("expected time lost per failure at {}: {}\n", human(e.interval_seconds),
                                 human(e.lost_per_failure()));
  for (size_t i = 0; i < std::size(kNames); ++i) {
    text += fmt::format("  {:<26} {:>10}   ({})\n", kNames[i], human(components[i].seconds),
                        components[i].source);
  }
  text += fmt::format("  {:<26} {:>10}   (more failures while recovering)\n", "failures during recovery",
                      human(e.failures_during_recovery));
  text +=
      fmt::format("  {:<26} {:>10}   ({})\n", "recompute", human(e.recompute),
                  recompute.source == "not given" ? "derived: the work since the last checkpoint, about half "
                                                    "an interval and a save"
                                                  : recompute.source);
  return text;
}

int plan(const PlanOptions& o) {
  if (o.gpus < 1) raise(ErrorCode::InvalidArgument, "--gpus {}: must be at least 1", o.gpus);
  if (o.gpus_per_node < 1)
    raise(ErrorCode::InvalidArgument, "--gpus-per-node {}: must be at least 1", o.gpus_per_node);
  const int64_t nodes = (o.gpus + o.gpus_per_node - 1) / o.gpus_per_node;
  const auto [mtbf, mtbf_source] = job_mtbf(o, nodes);

  std::optional<LedgerValues> ledger;
  if (!o.ledger.empty()) ledger = read_ledger(o.ledger);
  const std::optional<elastic::RecoveryTime> measured = ledger ? ledger->recovery : std::nullopt;
  const auto component = [&measured](double elastic::RecoveryTime::*field) -> std::optional<double> {
    if (!measured) return std::nullopt;
    return (*measured).*field;
  };

  std::vector<std::string> missing;
  const Input components[5] = {
      pick(o.detection, "--detection", component(&elastic::RecoveryTime::detection), missing),
      pick(o.stop, "--stop", component(&elastic::RecoveryTime::stop), missing),
      pick(o.rendezvous, "--rendezvous", component(&elastic::RecoveryTime::rendezvous), missing),
      pick(o.restart, "--restart", component(&elastic::RecoveryTime::restart), missing),
      pick(o.restore, "--restore", component(&elastic::RecoveryTime::restore), missing),
  };
  if (ledger && !missing.empty()) {
    std::string flags;
    for (const std::string& flag : missing) flags += (flags.empty() ? "" : ", ") + flag;
    raise(ErrorCode::InvalidArgument,
          "--ledger {}: no failure followed by a restart ({} failure(s), {} restart(s)), so it does not "
          "measure {}: give them as flags",
          o.ledger, ledger->report.failures, ledger->report.restarts, flags);
  }
  std::optional<double> ledger_save;
  if (ledger && ledger->report.checkpoints > 0) ledger_save = ledger->report.checkpoint_blocking_seconds;
  std::vector<std::string> no_save;
  Input save = pick(o.save, "--save", ledger_save, no_save);
  if (!no_save.empty()) {
    if (ledger) {
      raise(ErrorCode::InvalidArgument,
            "--ledger {}: no checkpoint in it (snapshot_taken): give --save, the seconds a checkpoint blocks "
            "training",
            o.ledger);
    }
    raise(
        ErrorCode::InvalidArgument,
        "--save is required: the seconds a checkpoint blocks training (or --ledger with checkpoints in it)");
  }
  if (!(save.seconds > 0)) {
    raise(ErrorCode::InvalidArgument, "{}: a checkpoint that blocks {} s: must be more than 0 s",
          o.save ? "--save " + *o.save : "--ledger " + o.ledger, save.seconds);
  }
  std::optional<Input> interval;
  if (o.interval) {
    interval = Input{seconds_of(*o.interval, "--interval"), "--interval"};
    if (!(interval->seconds > 0))
      raise(ErrorCode::InvalidArgument, "--interval {}: must be more than 0 s", *o.interval);
  } else if (ledger && ledger->report.checkpoint_interval_seconds > 0) {
    interval = Input{ledger->report.checkpoint_interval_seconds, "ledger"};
  }
  std::vector<std::string> unused;
  const Input recompute =
      o.recompute ? pick(o.recompute, "--recompute", std::nullopt, unused) : Input{0, "not given"};

  elastic::EttrInputs inputs{.mtbf_seconds = mtbf,
                             .save_seconds = save.seconds,
                             .recovery = {.detection = components[0].seconds,
                                          .stop = components[1].seconds,
                                          .rendezvous = components[2].seconds,
                                          .restart = components[3].seconds,
                                          .restore = components[4].seconds},
                             .recompute_seconds = std::nullopt};
  if (o.recompute) inputs.recompute_seconds = recompute.seconds;
  const elastic::EttrEstimate young =
      elastic::estimate_ettr(inputs, elastic::young_interval(save.seconds, mtbf));
  const elastic::EttrEstimate daly =
      elastic::estimate_ettr(inputs, elastic::daly_interval(save.seconds, mtbf));
  const elastic::EttrEstimate best = elastic::estimate_ettr(inputs, elastic::best_interval(inputs));
  std::optional<elastic::EttrEstimate> at_interval;
  if (interval) at_interval = elastic::estimate_ettr(inputs, interval->seconds);

  if (o.json) {
    json out{{"gpus", o.gpus},
             {"gpus_per_node", o.gpus_per_node},
             {"nodes", nodes},
             {"mtbf_seconds", mtbf},
             {"mtbf_source", mtbf_source},
             {"failures_per_day", daly.failures_per_day},
             {"save_seconds", save.seconds},
             {"recovery_seconds", inputs.recovery.total()},
             {"young", estimate_json(young)},
             {"daly", estimate_json(daly)},
             {"best", estimate_json(best)}};
    json sources{{"save", save.source}, {"recompute", o.recompute ? recompute.source : "derived"}};
    static constexpr const char* kNames[] = {"detection", "stop", "rendezvous", "restart", "restore"};
    for (size_t i = 0; i < std::size(kNames); ++i) sources[kNames[i]] = components[i].source;
    out["sources"] = sources;
    if (at_interval) {
      out["interval"] = estimate_json(*at_interval);
      sources["interval"] = interval->source;
      out["sources"] = sources;
    }
    if (ledger) {
      out["ledger"] = json{{"path", o.ledger},
                           {"failures", ledger->report.failures},
                           {"recoveries", ledger->report.recoveries.size()},
                           {"checkpoints", ledger->report.checkpoints},
                           {"effective_ratio", ledger->report.effective_ratio}};
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  std::string text = fmt::format("myriad plan: {} GPUs on {} nodes of {}\n", o.gpus, nodes, o.gpus_per_node);
  text += fmt::format("failures: job MTBF {} ({}); {:.2f} failures per day\n", human(mtbf), mtbf_source,
                      daly.failures_per_day);
  text += fmt::format("checkpoint: {} blocking per save ({})\n", human(save.seconds), save.source);
  text += fmt::format("recovery: {} per failure before any recompute\n", human(inputs.recovery.total()));
  if (ledger) {
    text +=
        fmt::format("ledger {}: {} failure(s), {} recovery(ies) averaged, {} checkpoint(s)\n", o.ledger,
                    ledger->report.failures, ledger->report.recoveries.size(), ledger->report.checkpoints);
  }
  text += "checkpoint interval (compute time between two saves):\n";
  text += estimate_line("Young: sqrt(2 d M)", young);
  text += estimate_line("Daly: higher order", daly);
  text += estimate_line("best of the model", best);
  if (at_interval) text += estimate_line(fmt::format("{} (given)", interval->source).c_str(), *at_interval);
  text += breakdown(at_interval ? *at_interval : daly, components, recompute);
  std::cout << text;
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
  const char* kDuration = " (a duration: 30, 500ms, 2m, 1h; seconds by default)";
  plan_app->add_option("--save", o->save, std::string("Training blocked per checkpoint") + kDuration);
  plan_app->add_option(
      "--interval", o->interval,
      std::string("Also the ETTR at this checkpoint interval (compute time between saves)") + kDuration);
  plan_app->add_option("--detection", o->detection,
                       std::string("Per failure: fault -> detected") + kDuration);
  plan_app->add_option("--stop", o->stop,
                       std::string("Per failure: detected -> workers stopped") + kDuration);
  plan_app->add_option("--rendezvous", o->rendezvous,
                       std::string("Per failure: stopped -> new round") + kDuration);
  plan_app->add_option("--restart", o->restart,
                       std::string("Per failure: new round -> first step, less the restore") + kDuration);
  plan_app->add_option("--restore", o->restore,
                       std::string("Per failure: loading the checkpoint") + kDuration);
  plan_app->add_option(
      "--recompute", o->recompute,
      std::string("Per failure: work redone (default: derived from the interval)") + kDuration);
  plan_app->add_option("--ledger", o->ledger,
                       "A run's goodput ledger (events.jsonl): the components above; flags win");
  plan_app->add_flag("--json", o->json, "Print JSON");
  return [o]() { return plan(*o); };
}

}  // namespace myriad::launcher
