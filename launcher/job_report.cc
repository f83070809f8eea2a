#include "launcher/job_report.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>

#include "elastic/ledger.h"
#include "elastic/rendezvous.h"
#include "launcher/agent.h"
#include "launcher/output_forwarder.h"
#include "runtime/error.h"
#include "runtime/event_log.h"
#include "runtime/logging.h"
#include "runtime/tcp_store.h"

namespace myriad::launcher {
namespace {

using nlohmann::json;

// Lines of the root-cause rank's traceback or stderr shown in the summary.
constexpr size_t kErrorLinesShown = 12;

void say(const std::string& text) {
  write_all(STDERR_FILENO, "myriad run: " + text + "\n");
}

struct StoreView {
  std::optional<json> outcome;
  int64_t failures = 0;
};

StoreView read_store(const JobEnd& end) {
  StoreView view;
  try {
    auto store =
        std::make_shared<TcpStore>(TcpStoreOptions{.host = end.job->store.host,
                                                   .port = end.job->store.port,
                                                   .token = end.job->token,
                                                   .timeout = std::chrono::milliseconds{5000},
                                                   .connect_timeout = std::chrono::milliseconds{5000}});
    elastic::RendezvousOptions options;
    options.prefix = fmt::format("rdzv/{}/", end.job->run_id);
    elastic::Rendezvous rdzv(store, options,
                             elastic::AgentInfo{.id = "launcher", .host = "", .local_world_size = 1});
    view.outcome = rdzv.job_outcome();
    view.failures = rdzv.failure_count();
    // The store goes with this process: agents started by hand (spares among them) learn the end first.
    if (view.outcome && end.received_signal == 0) {
      auto exited = [&end](const std::string& id) {
        return std::find(end.own_nodes.begin(), end.own_nodes.end(), agent_node(id)) != end.own_nodes.end();
      };
      std::vector<std::string> unaware = rdzv.await_outcome_seen(
          options.lease_timeout + 2 * end.plan->elastic_times.monitor_interval, exited);
      if (!unaware.empty()) {
        say(fmt::format("the store stops while agent(s) {} have not yet seen the job's end",
                        fmt::join(unaware, ", ")));
      }
    }
  } catch (const std::exception& e) {
    MYRIAD_LOG_WARN("cannot read the job's outcome from its store: {}", e.what());
  }
  return view;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

void print_root_cause(const json& outcome, bool elastic) {
  if (!outcome.contains("root_cause")) return;
  const json& root = outcome["root_cause"];
  std::string cause = root.value("cause", "");
  if (cause == "exit" || cause == "signal") {
    say(fmt::format("rank {} (pid {}) on {} {} — the root cause{}", root.value("rank", -1),
                    root.value("pid", -1), root.value("node", "?"), root.value("description", ""),
                    root.contains("step") && !root["step"].is_null()
                        ? fmt::format(" (at step {})", root["step"].dump())
                        : ""));
  } else {
    say(fmt::format("{} — the root cause", root.value("summary", root.dump())));
  }
  if (elastic && outcome.contains("reason"))
    say(fmt::format("not restarted: {}", outcome.value("reason", "")));
  std::vector<std::string> lines;
  if (root.contains("error") && root["error"].is_object() && !root["error"].value("traceback", "").empty()) {
    lines = split_lines(root["error"].value("traceback", ""));
    lines.push_back(root["error"].value("message", ""));
  } else if (root.contains("stderr_tail") && root["stderr_tail"].is_array()) {
    for (const json& line : root["stderr_tail"]) lines.push_back(line.get<std::string>());
  }
  if (lines.empty()) return;
  size_t first = lines.size() > kErrorLinesShown ? lines.size() - kErrorLinesShown : 0;
  std::string text = fmt::format("myriad run: rank {}'s error:\n", root.value("rank", -1));
  for (size_t i = first; i < lines.size(); ++i) text += "    " + lines[i] + "\n";
  write_all(STDERR_FILENO, text);
}

}  // namespace

int report_job(const JobEnd& end) noexcept {
  try {
    StoreView view = read_store(end);
    int code = 0;
    if (end.received_signal != 0 || end.supervisor_code == kTimeoutExitCode) {
      code = end.supervisor_code;
    } else if (view.outcome) {
      code = view.outcome->value("exit_code", 0);
      if (code != 0) print_root_cause(*view.outcome, end.plan->elastic);
    } else if (end.failed_agent) {
      code = end.failed_agent->code;
      say(fmt::format("{} (pid {}) {} before the job ended", end.failed_agent->label, end.failed_agent->pid,
                      end.failed_agent->description));
    }
    if (end.events_path.empty()) return code;
    try {
      EventLog(end.events_path).append(json{{"event", "job_end"}, {"exit_code", code}});
    } catch (const std::exception& e) {
      MYRIAD_LOG_WARN("cannot append to the goodput ledger: {}", e.what());
    }
    if (end.plan->elastic) {
      std::vector<json> events = elastic::read_events(end.events_path);
      if (!events.empty()) write_all(STDERR_FILENO, elastic::format_report(elastic::summarize(events)));
    }
    return code;
  } catch (const std::exception& e) {
    say(fmt::format("cannot report the job's end: {}", e.what()));
    return end.supervisor_code != 0 ? end.supervisor_code : 1;
  }
}

}  // namespace myriad::launcher
