// The elastic flags `myriad run` and `myriad agent` share, spelled as
// torchrun spells them and also read from torchrun's PET_* variables
// (PET_NNODES, PET_MAX_RESTARTS, PET_RDZV_ENDPOINT, PET_RDZV_ID,
// PET_MONITOR_INTERVAL, PET_LOG_DIR, ...): a flag on the command line wins
// over its variable.
//
// add_elastic_flags() registers them on a CLI11 subcommand;
// parse_nnodes() reads "N" or "MIN:MAX". Errors are Error(InvalidArgument)
// naming the flag and the value. Thread-safe (pure).
//
// Defaults are the elastic service's named constants (elastic/agent.h,
// elastic/rendezvous.h, elastic/restart_policy.h, elastic/workers.h),
// spelled as flag text by duration_flag(): never written again here.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <string>
#include <utility>

#include "elastic/agent.h"
#include "launcher/torchrun_flags.h"

namespace myriad::launcher {

// A default duration as a flag's text: "600s", "500ms" (parse_duration reads it back exactly).
std::string duration_flag(std::chrono::milliseconds d);

struct ElasticFlags {
  std::string nnodes;  // "N" or "MIN:MAX"; empty: 1
  int max_restarts = 0;
  std::string rdzv_endpoint;  // HOST:PORT, or etcd://HOST:PORT,...; empty: the embedded store on a free port
  std::string rdzv_id;
  std::string monitor_interval = duration_flag(elastic::kDefaultMonitorInterval);
  std::string heartbeat_timeout;  // empty: MYRIAD_HEARTBEAT_TIMEOUT, else elastic::kDefaultHeartbeatTimeout
  std::string join_timeout = duration_flag(elastic::kDefaultJoinTimeout);
  std::string node_cooldown = duration_flag(elastic::kDefaultNodeCooldown);
  std::string last_call = duration_flag(elastic::kDefaultLastCall);
  std::string preload;  // MODULES for the ranks' fork server (zygote.h); empty: none
  bool standalone = false;
  TorchrunFlags torchrun;  // the rest of torchrun's flags
};

// The agents' store that --rdzv-backend and --rdzv-endpoint name: "" for the embedded store (no
// endpoint), HOST:PORT of a Myriad store, or etcd://... for an etcd cluster (--rdzv-backend etcd or
// etcd-v2 with HOST:PORT[,HOST:PORT...], as torchrun takes it, or an etcd:// endpoint with any backend).
// Error(InvalidArgument) naming the flag for an endpoint that does not parse, or etcd without one.
std::string rdzv_store_address(const ElasticFlags& flags);

// torchrun's --standalone: the c10d rendezvous on a store of the job's own at a free port (the
// embedded store) with a fresh rendezvous id, whatever --rdzv-backend, --rdzv-endpoint and --rdzv-id
// said (a value given is overridden, with a warning naming it). Without --standalone, `flags` as given.
ElasticFlags apply_standalone(ElasticFlags flags);

// Also registers torchrun's other flags (torchrun_flags.h).
void add_elastic_flags(CLI::App& app, ElasticFlags& flags);

// {min, max} from "N" or "MIN:MAX" (1 <= MIN <= MAX).
std::pair<int, int> parse_nnodes(const std::string& text);

// The flags as durations, checked (names the flag when one does not parse);
// --rdzv-conf's join_timeout and last_call_timeout win over the flags.
struct ElasticTimes {
  std::chrono::milliseconds monitor_interval;
  std::chrono::milliseconds heartbeat_timeout;
  std::chrono::milliseconds join_timeout;
  std::chrono::milliseconds node_cooldown;
  std::chrono::milliseconds last_call;
};
ElasticTimes elastic_times(const ElasticFlags& flags);

}  // namespace myriad::launcher
