#include "launcher/elastic_flags.h"

#include <charconv>

#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/etcd_store.h"
#include "runtime/logging.h"
#include "runtime/store_address.h"

namespace myriad::launcher {
namespace {

int parse_count(std::string_view text, const std::string& whole) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1) {
    raise(ErrorCode::InvalidArgument,
          "--nnodes '{}' is not accepted: give a number of nodes N or a range MIN:MAX with 1 <= MIN <= MAX",
          whole);
  }
  return value;
}

}  // namespace

std::string rdzv_store_address(const ElasticFlags& flags) {
  const std::string& backend = flags.torchrun.rdzv_backend;
  const std::string& endpoint = flags.rdzv_endpoint;
  const bool etcd = backend == "etcd" || backend == "etcd-v2";
  if (endpoint.empty()) {
    if (etcd) {
      raise(ErrorCode::InvalidArgument,
            "--rdzv-backend {} needs the etcd cluster: give --rdzv-endpoint HOST:2379[,HOST:2379...]",
            backend);
    }
    return "";
  }
  std::string address = etcd && !is_etcd_address(endpoint) ? std::string(kEtcdScheme) + endpoint : endpoint;
  check_store_address(address, "--rdzv-endpoint");
  return address;
}

ElasticFlags apply_standalone(ElasticFlags flags) {
  if (!flags.standalone) return flags;
  auto overridden = [](const char* flag, const std::string& value, const char* instead) {
    MYRIAD_LOG_WARN("--standalone overrides {} {}: {}", flag, value, instead);
  };
  if (!flags.rdzv_endpoint.empty())
    overridden("--rdzv-endpoint", flags.rdzv_endpoint, "the job's own store on a free port");
  if (!flags.rdzv_id.empty()) overridden("--rdzv-id", flags.rdzv_id, "a fresh id");
  if (flags.torchrun.rdzv_backend != "static" && flags.torchrun.rdzv_backend != "c10d")
    overridden("--rdzv-backend", flags.torchrun.rdzv_backend, "c10d");
  flags.torchrun.rdzv_backend = "c10d";
  flags.rdzv_endpoint.clear();
  flags.rdzv_id.clear();
  return flags;
}

std::string duration_flag(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

void add_elastic_flags(CLI::App& app, ElasticFlags& flags) {
  app.add_option("--nnodes", flags.nnodes,
                 "Nodes: N, or MIN:MAX for an elastic job (the local engine starts MAX emulated nodes)")
      ->envname("PET_NNODES");
  app.add_option("--max-restarts", flags.max_restarts,
                 "How many failures the job survives (each restarts every rank from the last checkpoint)")
      ->envname("PET_MAX_RESTARTS")
      ->default_str("0");
  app.add_option(
         "--rdzv-endpoint", flags.rdzv_endpoint,
         "HOST:PORT of the rendezvous store (default: the embedded store on a free port); with "
         "--rdzv-backend etcd, the etcd cluster's HOST:PORT,... (or etcd://HOST:PORT,...[/NAMESPACE])")
      ->envname("PET_RDZV_ENDPOINT");
  app.add_option("--rdzv-id", flags.rdzv_id, "The job's rendezvous id (default: the run id)")
      ->envname("PET_RDZV_ID");
  app.add_option("--monitor-interval", flags.monitor_interval,
                 "How often an agent checks its peers, leases and heartbeats")
      ->envname("PET_MONITOR_INTERVAL")
      ->default_str(duration_flag(elastic::kDefaultMonitorInterval));
  app.add_option("--heartbeat-timeout", flags.heartbeat_timeout,
                 fmt::format("A rank whose last heartbeat is older than this is hung (default: "
                             "MYRIAD_HEARTBEAT_TIMEOUT, else {})",
                             duration_flag(elastic::kDefaultHeartbeatTimeout)))
      ->envname("PET_HEARTBEAT_TIMEOUT");
  app.add_option("--join-timeout", flags.join_timeout, "How long a round waits for MIN nodes")
      ->envname("PET_JOIN_TIMEOUT")
      ->default_str(duration_flag(elastic::kDefaultJoinTimeout));
  app.add_option(
         "--last-call", flags.last_call,
         fmt::format("Once MIN nodes have joined, how long a round waits without a new arrival before it "
                     "closes (extended by each arrival, {} at most)",
                     duration_flag(elastic::kDefaultMaxLastCall)))
      ->envname("PET_LAST_CALL")
      ->default_str(duration_flag(elastic::kDefaultLastCall));
  app.add_option(
         "--node-cooldown", flags.node_cooldown,
         fmt::format("A node whose ranks failed {} times sits out this long before rejoining (doubling "
                     "with each further failure, at most {} times)",
                     elastic::kDefaultCooldownAfterFailures, elastic::kDefaultMaxCooldownDoublings))
      ->default_str(duration_flag(elastic::kDefaultNodeCooldown));
  app.add_option("--preload", flags.preload,
                 "Python ranks: keep a process per node that has imported MODULES (comma-separated, e.g. "
                 "torch) and fork restarted ranks from it instead of starting Python again");
  app.add_flag("--standalone", flags.standalone,
               "As torchrun's: the c10d rendezvous on the job's own store at a free port with a fresh id "
               "(overrides --rdzv-backend, --rdzv-endpoint and --rdzv-id; --node-rank is then ignored)")
      ->envname("PET_STANDALONE");
  add_torchrun_flags(app, flags.torchrun);
}

std::pair<int, int> parse_nnodes(const std::string& text) {
  if (text.empty()) return {1, 1};
  size_t colon = text.find(':');
  if (colon == std::string::npos) {
    int n = parse_count(text, text);
    return {n, n};
  }
  int min = parse_count(std::string_view(text).substr(0, colon), text);
  int max = parse_count(std::string_view(text).substr(colon + 1), text);
  if (min > max) parse_count("0", text);  // raises the range error
  return {min, max};
}

ElasticTimes elastic_times(const ElasticFlags& flags) {
  ElasticTimes times{};
  times.monitor_interval = config::parse_duration(flags.monitor_interval, "--monitor-interval");
  if (times.monitor_interval.count() <= 0) {
    raise(ErrorCode::InvalidArgument, "--monitor-interval '{}' must be more than 0", flags.monitor_interval);
  }
  times.heartbeat_timeout = flags.heartbeat_timeout.empty()
                                ? config::read_duration(Env::process(), "MYRIAD_HEARTBEAT_TIMEOUT")
                                : config::parse_duration(flags.heartbeat_timeout, "--heartbeat-timeout");
  times.join_timeout = config::parse_duration(flags.join_timeout, "--join-timeout");
  times.node_cooldown = config::parse_duration(flags.node_cooldown, "--node-cooldown");
  times.last_call = config::parse_duration(flags.last_call, "--last-call");
  RdzvConf conf = parse_rdzv_conf(flags.torchrun.rdzv_conf);
  if (conf.join_timeout) times.join_timeout = *conf.join_timeout;
  if (conf.last_call) times.last_call = *conf.last_call;
  return times;
}

}  // namespace myriad::launcher
