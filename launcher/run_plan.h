// RunOptions: the flags of `myriad run` as typed; RunPlan: the validated
// job they describe (engine, world size, hosts, program, environment).
//
// make_run_plan() checks everything that can be checked before anything
// starts, so that a mistake fails once, at once, with Error(InvalidArgument)
// naming the flag and the value: an unknown engine, -np out of range, a
// malformed -H list or hostfile line (file:line), a reserved -x variable, a
// program not found, the local engine with a remote host. It reads the file
// system (hostfile, PATH) and `env`; it starts nothing. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "launcher/elastic_flags.h"
#include "launcher/hostfile.h"
#include "launcher/job_env.h"
#include "launcher/supervisor.h"
#include "runtime/config.h"

namespace myriad::launcher {

// More ranks than this on one node is a typo (-np 80000), not a job.
inline constexpr int kMaxRanksPerNode = 4096;
// Nodes of one job (--nnodes MAX), and ranks of one job: 16 times the 2,048 nodes and 16,384 ranks Myriad
// is designed for, so that a real job always fits and a typo (--nnodes 1:1048576) does not.
inline constexpr int kMaxNodes = 32768;
inline constexpr int64_t kMaxWorldSize = 262144;
// Agents --emulated-nodes starts on this machine.
inline constexpr int kMaxEmulatedNodes = 256;
// mpirun's defaults for a Myriad job: fill each host's slots in order, and do not
// pin ranks to cores (ranks pin their own threads; mpirun's binding would fight it).
inline constexpr std::string_view kDefaultMapBy = "slot";
inline constexpr std::string_view kDefaultBindTo = "none";

struct RunOptions {
  std::optional<int> nproc;           // -np: ranks in all; unset: the hosts' slots, else 1
  std::optional<int> nproc_per_node;  // --nproc-per-node: ranks per node
  ElasticFlags elastic;               // --nnodes, --max-restarts, --rdzv-*, torchrun's other flags
  int emulated_nodes = 0;             // --emulated-nodes: agents on this machine; 0: one
  std::string hosts;                  // -H
  std::string hostfile;               // --hostfile
  std::string engine;                 // --engine; empty: local without hosts, mpi with hosts
  std::string log_dir;                // --log-dir
  bool tag_output = true;             // --tag-output / --no-tag-output
  std::string timeout = "0";          // --timeout, a duration; 0: none
  std::vector<std::string> exports;   // -x VAR or VAR=VALUE
  std::vector<std::string> envs;      // --env VAR=VALUE
  // --grace-period
  std::string grace_period = duration_flag(elastic::kDefaultGracePeriod);
  bool dry_run = false;
  std::string master_addr;  // --master-addr: the address ranks use to reach the store
  int master_port = 0;      // --master-port; 0: a free port
  std::string map_by{kDefaultMapBy};
  std::string bind_to{kDefaultBindTo};
  std::string mpirun = "mpirun";     // --mpirun: the mpirun to run
  std::vector<std::string> command;  // PROGRAM [ARGS...]
};

struct RunPlan {
  std::string engine;  // "local", "mpi" or "slurm"
  int world_size = 1;  // at the most nodes
  // The local engine's nodes (one agent each): MAX of --nnodes are started.
  int min_nodes = 1;
  int max_nodes = 1;
  int nproc_per_node = 1;
  int local_agents = 1;  // the local engine's agents on this machine (--emulated-nodes)
  int max_restarts = 0;
  bool elastic = false;  // --nnodes or --max-restarts given: the end prints the goodput summary
  ElasticTimes elastic_times{};
  std::string preload;  // --preload MODULES, passed to the agents
  std::string rdzv_id;
  std::vector<HostSlots> hosts;   // empty: this machine only
  bool remote = false;            // some host is not this machine
  std::vector<std::string> argv;  // what each rank runs (interpreter first for .py)
  std::string program_path;       // argv[0] resolved for exec (local engine), or mpirun's path
  EnvVars user_env;               // -x and --env, in order
  std::string log_dir;
  bool tag_output = true;
  SupervisorOptions supervision;
  bool dry_run = false;
  // --rdzv-endpoint names another node's store (or one already listening here): this `myriad run` is one
  // node that joins it, with one agent and no store of its own (torchrun's c10d behaviour).
  bool join = false;
  std::string rdzv_endpoint;    // the store joined: HOST:PORT, or etcd://... (every node joins an etcd store)
  std::string store_bind_host;  // where the embedded store listens
  std::string store_advertise_host;  // what ranks are told (MASTER_ADDR)
  uint16_t store_port = 0;
  std::string map_by;
  std::string bind_to;
  std::string role = "default";  // --role: ROLE_NAME
  // The slurm engine's srun counts (0: srun's default) and the allocation.
  int slurm_nodes = 0;
  int slurm_per_node = 0;
  int slurm_tasks = 0;
  std::string slurm_job_id;
  TorchrunFlags torchrun;  // passed on to the agents
};

RunPlan make_run_plan(const RunOptions& given, const Env& env);

}  // namespace myriad::launcher
