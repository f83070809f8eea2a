#include "launcher/agent_workers.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "launcher/job_files.h"
#include "launcher/torchrun_flags.h"
#include "runtime/bootstrap.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

using nlohmann::json;

// A node id is free text (a host name, "node-1"); file names keep the safe characters.
std::string file_safe(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out += safe ? c : '_';
  }
  return out;
}

void make_private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    raise_errno(errno, fmt::format("agent: cannot create the directory '{}'", path));
  }
}

// The traceback torchrun's error file holds: {"message": {"message": ..., "extraInfo": {"py_callstack":
// ...}}}, or {"message": "..."}; empty when the file is missing or not in that form.
json read_error_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return nullptr;
  json doc = json::parse(file, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("message")) return nullptr;
  const json& message = doc["message"];
  json out = json::object();
  if (message.is_string()) {
    out["message"] = message;
  } else if (message.is_object()) {
    out["message"] = message.value("message", "");
    if (message.contains("extraInfo") && message["extraInfo"].is_object()) {
      out["traceback"] = message["extraInfo"].value("py_callstack", "");
    }
  }
  return out;
}

}  // namespace

WorkerFiles make_worker_files(const std::string& run_id, const std::string& node_id) {
  std::string node = file_safe(node_id);
  WorkerFiles files{.snapshot_dir = fmt::format("/dev/shm/{}snap-{}", shm_segment_prefix(run_id), node),
                    .heartbeat = fmt::format("/dev/shm/{}hb-{}", shm_segment_prefix(run_id), node),
                    .error_dir = fmt::format("{}/errors-{}", job_temp_dir(run_id), node),
                    .run_log_dir = {}};
  make_private_dir(files.snapshot_dir);
  make_private_dir(job_temp_dir(run_id));
  make_private_dir(files.error_dir);
  return files;
}

std::string make_run_log_dir(const std::string& log_dir, const std::string& rdzv_id) {
  std::string base = log_dir;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = fmt::format("{}/myriad-logs-XXXXXX", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
    if (::mkdtemp(pattern.data()) == nullptr) raise_errno(errno, fmt::format("cannot create '{}'", pattern));
    base = pattern;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(base, ec);
    if (ec) raise(ErrorCode::Io, "--log-dir '{}': cannot create the directory: {}", base, ec.message());
  }
  std::string pattern = fmt::format("{}/{}_XXXXXX", base, file_safe(rdzv_id));
  if (::mkdtemp(pattern.data()) == nullptr) raise_errno(errno, fmt::format("cannot create '{}'", pattern));
  return pattern;
}

std::string error_file_path(const WorkerLaunch& launch, int local_rank) {
  return fmt::format("{}/gen-{}-rank-{}.json", launch.files->error_dir, launch.round.generation,
                     launch.round.rank_offset + local_rank);
}

std::vector<ChildSpec> worker_specs(const WorkerLaunch& launch) {
  const AgentOptions& options = *launch.options;
  const elastic::Round& round = launch.round;
  // Ranks reach a TCP store: the job's, or the round's own when the agents' store is etcd.
  JobEnv job{.store = launch.store.empty() ? parse_host_port(options.store, "the job's store")
                                           : parse_host_port(launch.store, "the round's store"),
             .token = launch.store.empty() ? options.token : launch.token,
             .run_id = options.run_id,
             .restart_count = static_cast<int>(round.generation),
             .user = options.user_env};
  EnvVars shared = job_variables(job);
  EnvVars master = master_variables(launch.master);
  shared.insert(shared.end(), master.begin(), master.end());
  std::string rdzv_id = options.elastic.rdzv_id.empty() ? options.run_id : options.elastic.rdzv_id;
  EnvVars elastic_vars{
      {"MYRIAD_NODE_ID", options.elastic.node_id},
      {"MYRIAD_SNAPSHOT_DIR", launch.files->snapshot_dir},
      {"MYRIAD_HEARTBEAT_FILE", launch.files->heartbeat},
      {"GROUP_WORLD_SIZE", std::to_string(round.members.size())},
      {"ROLE_NAME", options.role},
      {"ROLE_WORLD_SIZE", std::to_string(round.world_size)},
      {"TORCHELASTIC_RESTART_COUNT", std::to_string(launch.failures)},
      {"TORCHELASTIC_MAX_RESTARTS", std::to_string(options.elastic.max_restarts)},
      {"TORCHELASTIC_RUN_ID", rdzv_id},
      {"TORCHELASTIC_SIGNALS_TO_HANDLE", options.signals_to_handle},
  };
  // As torchrun: NCCL's errors abort the process group instead of hanging it, unless the user chose.
  bool user_sets_nccl = std::getenv("TORCH_NCCL_ASYNC_ERROR_HANDLING") != nullptr;
  for (const auto& [name, value] : options.user_env)
    user_sets_nccl = user_sets_nccl || name == "TORCH_NCCL_ASYNC_ERROR_HANDLING";
  if (!user_sets_nccl) elastic_vars.emplace_back("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1");
  if (!launch.events_path.empty()) elastic_vars.emplace_back("MYRIAD_EVENTS_FILE", launch.events_path);
  shared.insert(shared.end(), elastic_vars.begin(), elastic_vars.end());

  StreamSpec redirects = parse_stream_spec(options.redirects, "--redirects");
  StreamSpec tee = parse_stream_spec(options.tee, "--tee");
  std::optional<std::set<int>> shown = parse_local_ranks_filter(options.local_ranks_filter);
  std::vector<ChildSpec> children;
  for (int local = 0; local < options.elastic.nproc_per_node; ++local) {
    int rank = round.rank_offset + local;
    EnvVars vars = shared;
    EnvVars place = rank_variables(RankPlace{.rank = rank,
                                             .world_size = round.world_size,
                                             .local_rank = local,
                                             .local_world_size = options.elastic.nproc_per_node,
                                             .group_rank = round.group_rank});
    vars.insert(vars.end(), place.begin(), place.end());
    vars.emplace_back("ROLE_RANK", std::to_string(rank));
    std::string error_file = error_file_path(launch, local);
    ::unlink(error_file.c_str());
    vars.emplace_back("TORCHELASTIC_ERROR_FILE", error_file);

    ChildSpec child;
    child.spawn.label = fmt::format("rank {}", rank);
    child.spawn.path = options.program_path;
    child.spawn.argv = options.argv;
    child.spawn.environ = compose_environ(::environ, vars);
    child.capture_output = true;
    if (Zygote* zygote = launch.zygote) {
      child.fork_server = [zygote](const SpawnRequest& request) { return zygote->fork_rank(request); };
    }
    if (!options.log_line_prefix_template.empty()) {
      child.prefix =
          expand_prefix_template(options.log_line_prefix_template, options.role, local, rank, host_name());
    } else if (options.tag_output) {
      child.prefix = fmt::format("[rank {}] ", rank);
    }
    int redirected = redirects.for_rank(local);
    int to_files = redirected | tee.for_rank(local);
    for (int stream = 0; stream < 2; ++stream) {
      child.to_console[stream] = (redirected & (1 << stream)) == 0 && (!shown || shown->count(local) > 0);
    }
    if (to_files != 0) {
      std::string dir = fmt::format("{}/attempt_{}/{}", launch.files->run_log_dir, launch.failures, local);
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) raise(ErrorCode::Io, "agent: cannot create the log directory '{}': {}", dir, ec.message());
      if (to_files & 1) child.stream_log_paths[0] = dir + "/stdout.log";
      if (to_files & 2) child.stream_log_paths[1] = dir + "/stderr.log";
    } else if (!options.log_dir.empty()) {
      child.log_path = fmt::format("{}/rank-{}.log", options.log_dir, rank);
      child.append_log = round.generation > 0;
    }
    children.push_back(std::move(child));
  }
  return children;
}

json describe_worker_failure(const WorkerLaunch& launch, const ChildExit& exit,
                             const HeartbeatTable& heartbeats) {
  int local = static_cast<int>(exit.index);
  int rank = launch.round.rank_offset + local;
  HeartbeatSlot beat = heartbeats.read(local);
  json failure{{"cause", exit.signal != 0 ? "signal" : "exit"},
               {"rank", rank},
               {"node", launch.options->elastic.node_id},
               {"pid", exit.pid},
               {"code", exit.code},
               {"signal", exit.signal},
               {"description", exit.description},
               {"stderr_tail", exit.stderr_tail},
               {"step", beat.step ? json(*beat.step) : json(nullptr)},
               {"fault_t", std::chrono::duration<double>(exit.when.time_since_epoch()).count()}};
  json error = read_error_file(error_file_path(launch, local));
  if (!error.is_null()) failure["error"] = error;
  std::string summary = fmt::format("rank {} (pid {}) on {} {}", rank, exit.pid,
                                    launch.options->elastic.node_id, exit.description);
  if (!error.is_null() && !error.value("message", "").empty()) {
    summary += ": " + error.value("message", "");
  } else if (exit.signal == 0 &&
             !exit.stderr_tail.empty()) {  // a signal came from outside: its last line is not why
    summary += ": " + exit.stderr_tail.back();
  }
  failure["summary"] = summary;
  return failure;
}

}  // namespace myriad::launcher
