// Agent: the per-node process of an elastic job (`myriad agent`, started by
// `myriad run` once per node, or by hand on each node as with torchrun).
//
// An agent joins a rendezvous round through the job's store (elastic/
// rendezvous.h), forks its node's workers in their own process groups with
// the round's ranks and torchrun's variables, and watches them:
//   - a worker that fails is seen at once (SIGCHLD through a signalfd);
//   - a worker whose heartbeat (runtime/heartbeat.h) is older than the
//     heartbeat timeout is hung;
//   - another agent's lease that stops moving is a lost node;
//   - another agent's published failure or a requested membership change
//     (a spare or a new node waits while the world is below its maximum).
// On any of these every agent stops its workers (SIGTERM to each group,
// SIGKILL after the grace period, abandoned and reported if even that does
// not end them) and joins the next round; workers restart with
// MYRIAD_RESTART_COUNT (the round's generation) and
// TORCHELASTIC_RESTART_COUNT (failures so far) and restore their state from
// the checkpoint service (the node's snapshots live in MYRIAD_SNAPSHOT_DIR,
// owned by this agent, so they outlive a worker's crash).
//
// The job ends when every member's workers have succeeded (exit status 0),
// or when failures exceed max_restarts, or when the same failure repeats
// right after a restart before any training step (a bug in the script, not
// the machine): the outcome is published in the store, and every agent
// exits with the root-cause rank's exit code. Every event goes to the
// goodput ledger (MYRIAD_EVENTS_FILE, docs/elastic.md).
//
// A node whose ranks cause failures again and again (a bad GPU, a flaky
// NIC) sits out: from its second failure it waits a cooldown (10 s,
// doubling with each further failure) before it joins the next round, so
// the others go on without it when MIN nodes allow.
//
// Failure of the agent itself: an unreachable store is retried for
// store_lost_after, then the agent stops its workers and exits 1 naming the
// store. Files: the snapshot directory and the heartbeat file are
// /dev/shm/myriad-<run id>-*, removed when the agent exits normally (and by
// `myriad run` after an agent was killed). run_agent() runs on the main
// thread and owns the process's signal handling (Supervisor).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "launcher/job_env.h"
#include "runtime/net.h"

namespace myriad::launcher {

inline constexpr std::chrono::milliseconds kDefaultMonitorInterval{100};
// An agent that cannot reach the store for this long fails the job on its node.
inline constexpr std::chrono::milliseconds kDefaultStoreLostAfter{30000};
inline constexpr std::chrono::milliseconds kDefaultHeartbeatTimeout{60000};
// The first cooldown of a node whose ranks failed twice; it doubles with each further failure.
inline constexpr std::chrono::milliseconds kDefaultNodeCooldown{10000};

struct AgentOptions {
  HostPort store;       // the rendezvous endpoint (the job's store)
  std::string token;    // the store's token
  std::string run_id;   // the job's run id: names its shared memory
  std::string rdzv_id;  // the rendezvous's key space; default: run_id
  std::string node_id;  // MYRIAD_NODE_ID of this agent's workers (unique per agent)
  int min_nodes = 1;
  int max_nodes = 1;
  int nproc_per_node = 1;
  int max_restarts = 0;
  std::chrono::milliseconds monitor_interval = kDefaultMonitorInterval;
  std::chrono::milliseconds heartbeat_timeout = kDefaultHeartbeatTimeout;
  std::chrono::milliseconds grace_period{5000};
  std::chrono::milliseconds join_timeout{600000};
  std::chrono::milliseconds last_call{500};
  std::chrono::milliseconds store_lost_after = kDefaultStoreLostAfter;
  std::chrono::milliseconds cooldown = kDefaultNodeCooldown;
  std::string log_dir;      // DIR/rank-N.log per worker; empty: none
  std::string events_path;  // the goodput ledger; empty: LOG_DIR/events.jsonl, else none
  bool tag_output = true;
  std::string program_path;          // resolved for exec
  std::vector<std::string> argv;     // what each worker runs
  EnvVars user_env;                  // -x/--env of myriad run
  std::vector<std::string> preload;  // --preload: modules of the ranks' fork server (zygote.h)
  // torchrun's flags (torchrun_flags.h), as given.
  std::string role = "default";    // ROLE_NAME
  std::string redirects;           // -r
  std::string tee;                 // -t
  std::string local_ranks_filter;  // --local-ranks-filter
  std::string log_line_prefix_template;
  std::string signals_to_handle = "SIGTERM,SIGINT,SIGHUP,SIGQUIT";
  std::string local_addr;  // MASTER_ADDR when this node runs rank 0; empty: master_host()
};

// Runs the agent until the job ends; returns the exit code this agent's
// process should end with (the job's outcome).
int run_agent(const AgentOptions& options);

// An agent's id in the rendezvous: "NODE:PID" (NODE: its --node-id).
std::string agent_id(const std::string& node_id, pid_t pid);
// The node id an agent_id() was made from.
std::string agent_node(const std::string& agent_id);

}  // namespace myriad::launcher
