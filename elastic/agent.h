// Agent: the per-node loop of an elastic job (`myriad agent`; the launcher
// builds its options, store and workers, launcher/agent.h).
//
// An agent joins a rendezvous round through the job's store (elastic/
// rendezvous.h), starts its node's workers for the round through a
// WorkerGroup (elastic/workers.h), and watches, every monitor interval:
//   - its workers: a worker that fails is reported by the WorkerGroup at
//     once; one whose heartbeat (runtime/heartbeat.h) is older than
//     heartbeat_timeout is hung;
//   - the other agents: a lease that stops moving is a lost node, a
//     published failure or a requested membership change (a spare or a new
//     node waits while the world is below its maximum) ends the round;
//   - the store: unreachable for store_lost_after, the agent stops its
//     workers and exits 1 naming the store.
// On any of these every agent stops its workers and the restart policy
// (elastic/restart_policy.h) decides: rejoin the next round, sit out a
// cooldown first, or end the job. The job ends when every member's workers
// succeeded, when failures exceed max_restarts, or when the same failure
// repeats right after a restart; the outcome is published in the store and
// every agent returns the root-cause rank's exit code. Every event goes to
// the goodput ledger (events_path, docs/elastic.md).
//
// Ownership: run_agent() uses the store and the workers for its duration;
// the caller owns the files named here (heartbeat_file, snapshot_dir) and
// removes them. It creates the heartbeat table at heartbeat_file for each
// round (and unlinks it when done).
//
// Threading: run_agent() runs on the calling thread (the WorkerGroup's
// contract may require the main thread); it is not reentrant.
// After failure: store errors are retried for store_lost_after, then the
// agent returns 1; an error the agent cannot handle (a worker that cannot
// be started) propagates as Error.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "elastic/rendezvous.h"
#include "elastic/restart_policy.h"
#include "elastic/workers.h"
#include "runtime/store.h"

namespace myriad::elastic {

// How often an agent checks its peers, leases, heartbeats and the store.
inline constexpr std::chrono::milliseconds kDefaultMonitorInterval{100};
// A rank whose last heartbeat is older than this is hung (MYRIAD_HEARTBEAT_TIMEOUT).
inline constexpr std::chrono::milliseconds kDefaultHeartbeatTimeout{60'000};
// An agent that cannot reach the store for this long fails the job on its node.
inline constexpr std::chrono::milliseconds kDefaultStoreLostAfter{30'000};

struct AgentOptions {
  std::string store_address;  // the store's address (HOST:PORT or etcd://...), for messages
  std::string rdzv_id;        // the rendezvous's key space (rdzv/<id>/)
  std::string node_id;        // unique per agent: its id is "NODE:PID"
  std::string master_host;    // MASTER_ADDR of the rounds in which this node runs rank 0
  // The agents' store is not for the ranks (etcd): the agent of group rank 0 serves a TCP store for
  // each round's ranks (bound to master_host's interface, its own random token) and publishes it.
  bool round_store = false;
  int min_nodes = 1;
  int max_nodes = 1;
  int nproc_per_node = 1;
  int node_rank = -1;  // the group rank this node asks for (--node-rank, static rendezvous); -1: none
  int max_restarts = 0;
  std::chrono::milliseconds monitor_interval = kDefaultMonitorInterval;
  std::chrono::milliseconds heartbeat_timeout = kDefaultHeartbeatTimeout;  // <= 0: no hang detection
  std::chrono::milliseconds grace_period = kDefaultGracePeriod;
  std::chrono::milliseconds join_timeout = kDefaultJoinTimeout;
  std::chrono::milliseconds last_call = kDefaultLastCall;
  std::chrono::milliseconds lease_timeout = kDefaultLeaseTimeout;
  std::chrono::milliseconds store_lost_after = kDefaultStoreLostAfter;
  std::chrono::milliseconds cooldown = kDefaultNodeCooldown;
  std::string events_path;     // the goodput ledger; empty: none
  std::string heartbeat_file;  // where each round's heartbeat table is created (MYRIAD_HEARTBEAT_FILE)
  std::string snapshot_dir;    // the node's checkpoint snapshots (MYRIAD_SNAPSHOT_DIR): reported at the end
};

// Runs the agent until the job ends; returns the exit code this agent's
// process should end with (the job's outcome; 128+S when signal S stopped
// the workers).
int run_agent(const AgentOptions& options, std::shared_ptr<Store> store, WorkerGroup& workers);

// An agent's id in the rendezvous: "NODE:PID" (NODE: its node id).
std::string agent_id(const std::string& node_id, pid_t pid);
// The node id an agent_id() was made from.
std::string agent_node(const std::string& agent_id);

}  // namespace myriad::elastic
