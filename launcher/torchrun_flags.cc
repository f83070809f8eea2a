#include "launcher/torchrun_flags.h"

#include <sched.h>

#include <climits>
#include <filesystem>

#include "runtime/config.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t at = text.find(separator, start);
    out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

int parse_stream_value(const std::string& text, const std::string& flag, const std::string& whole) {
  if (text.size() != 1 || text[0] < '0' || text[0] > '3') {
    raise(ErrorCode::InvalidArgument,
          "{} '{}': '{}' is not a stream: 0 none, 1 stdout, 2 stderr, 3 both (or LOCAL_RANK:VALUE,...)", flag,
          whole, text);
  }
  return text[0] - '0';
}

std::chrono::milliseconds conf_seconds(const std::string& key, const std::string& value) {
  return std::chrono::milliseconds(config::parse_int(value, "--rdzv-conf " + key, 0, INT_MAX / 1000) * 1000);
}

int gpu_count() {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev", ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("nvidia") && name.size() > 6 &&
        name.find_first_not_of("0123456789", 6) == std::string::npos) {
      ++count;
    }
  }
  return count;
}

int cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return 1;
}

}  // namespace

int parse_nproc_per_node(const std::string& text) {
  if (text == "auto") return gpu_count() > 0 ? gpu_count() : cpu_count();
  if (text == "cpu") return cpu_count();
  if (text == "gpu") {
    int gpus = gpu_count();
    if (gpus == 0) raise(ErrorCode::InvalidArgument, "--nproc-per-node gpu: this machine has no GPU");
    return gpus;
  }
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    raise(ErrorCode::InvalidArgument,
          "--nproc-per-node '{}' is not accepted: give a number, auto, cpu or gpu", text);
  }
  return static_cast<int>(config::parse_int(text, "--nproc-per-node", 1, INT_MAX));
}

void add_torchrun_flags(CLI::App& app, TorchrunFlags& flags) {
  app.add_flag("-m,--module", flags.module,
               "PROGRAM is a Python module, run as python -m PROGRAM (torchrun's)")
      ->envname("PET_MODULE");
  app.add_flag("--no-python", flags.no_python,
               "Execute PROGRAM itself, without the Python interpreter, even a .py")
      ->envname("PET_NO_PYTHON");
  app.add_flag("--run-path", flags.run_path, "Run PROGRAM with the Python interpreter whatever its name")
      ->envname("PET_RUN_PATH");
  app.add_option(
         "-r,--redirects", flags.redirects,
         "Write ranks' streams to LOG_DIR/<rdzv id>_<random>/attempt_<n>/<local rank>/{stdout,stderr}.log "
         "instead of the console: 1 stdout, 2 stderr, 3 both, or LOCAL:VALUE,...")
      ->envname("PET_REDIRECTS");
  app.add_option("-t,--tee", flags.tee, "As --redirects, and to the console too")->envname("PET_TEE");
  app.add_option("--rdzv-backend", flags.rdzv_backend,
                 "static or c10d: both rendezvous through Myriad's store (at --rdzv-endpoint or embedded); "
                 "under static, --node-rank gives each node its group rank")
      ->envname("PET_RDZV_BACKEND")
      ->default_str("static");
  app.add_option("--rdzv-conf", flags.rdzv_conf,
                 "KEY=VALUE,...: join_timeout and last_call_timeout (seconds) are used, other keys accepted")
      ->envname("PET_RDZV_CONF");
  app.add_option(
         "--node-rank", flags.node_rank,
         "This node's group rank under --rdzv-backend static (nodes without one follow, in arrival order); "
         "ignored under c10d, as torchrun")
      ->envname("PET_NODE_RANK");
  app.add_option("--local-ranks-filter", flags.local_ranks_filter,
                 "Show only these local ranks' output on the console (e.g. 0,2); log files keep all")
      ->envname("PET_LOCAL_RANKS_FILTER");
  app.add_option("--role", flags.role, "The workers' role (ROLE_NAME)")
      ->envname("PET_ROLE")
      ->default_str("default");
  app.add_option("--logs-specs", flags.logs_specs,
                 "torchrun's log layout plugin: only the default one exists")
      ->envname("PET_LOGS_SPECS");
  app.add_option("--start-method", flags.start_method,
                 "spawn, fork or forkserver: accepted as torchrun's, which ignores it for a script")
      ->envname("PET_START_METHOD")
      ->default_str("spawn");
  app.add_option("--local-addr", flags.local_addr,
                 "This node's address: MASTER_ADDR when it runs rank 0 (default: its host name)")
      ->envname("PET_LOCAL_ADDR");
  app.add_option("--log-line-prefix-template", flags.log_line_prefix_template,
                 "Console prefix of each line, with ${role_name}, ${local_rank}, ${rank}, ${hostname}")
      ->envname("PET_LOG_LINE_PREFIX_TEMPLATE");
  app.add_option("--signals-to-handle", flags.signals_to_handle,
                 "TORCHELASTIC_SIGNALS_TO_HANDLE of the workers")
      ->envname("PET_SIGNALS_TO_HANDLE")
      ->default_str("SIGTERM,SIGINT,SIGHUP,SIGQUIT");
}

int StreamSpec::for_rank(int local_rank) const {
  if (all) return *all;
  for (const auto& [rank, value] : per_rank) {
    if (rank == local_rank) return value;
  }
  return 0;
}

StreamSpec parse_stream_spec(const std::string& text, const std::string& flag) {
  StreamSpec spec;
  if (text.empty()) return spec;
  if (text.find(':') == std::string::npos) {
    spec.all = parse_stream_value(text, flag, text);
    return spec;
  }
  for (const std::string& item : split(text, ',')) {
    size_t colon = item.find(':');
    if (colon == std::string::npos) {
      raise(ErrorCode::InvalidArgument, "{} '{}': '{}' is not LOCAL_RANK:VALUE", flag, text, item);
    }
    int rank = static_cast<int>(config::parse_int(item.substr(0, colon), flag, 0, INT_MAX));
    spec.per_rank.emplace_back(rank, parse_stream_value(item.substr(colon + 1), flag, text));
  }
  return spec;
}

std::optional<std::set<int>> parse_local_ranks_filter(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::set<int> ranks;
  for (const std::string& item : split(text, ',')) {
    ranks.insert(static_cast<int>(config::parse_int(item, "--local-ranks-filter", 0, INT_MAX)));
  }
  return ranks;
}

RdzvConf parse_rdzv_conf(const std::string& text) {
  RdzvConf conf;
  if (text.empty()) return conf;
  for (const std::string& item : split(text, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      raise(ErrorCode::InvalidArgument, "--rdzv-conf '{}': '{}' is not KEY=VALUE", text, item);
    }
    std::string key = item.substr(0, eq);
    std::string value = item.substr(eq + 1);
    if (key == "join_timeout") conf.join_timeout = conf_seconds(key, value);
    if (key == "last_call_timeout") conf.last_call = conf_seconds(key, value);
  }
  return conf;
}

void check_torchrun_flags(const TorchrunFlags& flags) {
  if (flags.rdzv_backend != "c10d" && flags.rdzv_backend != "static" && flags.rdzv_backend != "etcd" &&
      flags.rdzv_backend != "etcd-v2") {
    raise(
        ErrorCode::InvalidArgument,
        "--rdzv-backend '{}' is not available: accepted values are c10d and static (both rendezvous through "
        "Myriad's store), etcd and etcd-v2 (through an etcd cluster at --rdzv-endpoint)",
        flags.rdzv_backend);
  }
  if (!flags.logs_specs.empty() && flags.logs_specs != "default") {
    raise(ErrorCode::InvalidArgument,
          "--logs-specs '{}' is not available: Myriad writes torchrun's default layout only",
          flags.logs_specs);
  }
  if (flags.start_method != "spawn" && flags.start_method != "fork" && flags.start_method != "forkserver") {
    raise(ErrorCode::InvalidArgument,
          "--start-method '{}' is not accepted: accepted values are spawn, fork, forkserver",
          flags.start_method);
  }
  if (flags.module && flags.no_python) {
    raise(ErrorCode::InvalidArgument,
          "-m and --no-python exclude each other: a module needs the interpreter");
  }
  if (flags.node_rank < -1) {
    raise(ErrorCode::InvalidArgument, "--node-rank {} must not be negative", flags.node_rank);
  }
  parse_stream_spec(flags.redirects, "--redirects");
  parse_stream_spec(flags.tee, "--tee");
  parse_local_ranks_filter(flags.local_ranks_filter);
  parse_rdzv_conf(flags.rdzv_conf);
}

std::string expand_prefix_template(const std::string& templ, const std::string& role, int local_rank,
                                   int rank, const std::string& hostname) {
  std::string out = templ;
  auto replace = [&out](const std::string& name, const std::string& value) {
    for (size_t at = out.find(name); at != std::string::npos; at = out.find(name, at + value.size())) {
      out.replace(at, name.size(), value);
    }
  };
  replace("${role_name}", role);
  replace("${local_rank}", std::to_string(local_rank));
  replace("${rank}", std::to_string(rank));
  replace("${hostname}", hostname);
  return out;
}

}  // namespace myriad::launcher
