// `myriad agent`'s process: the launcher's side of the per-node agent.
//
// The agent's logic (rounds, failure detection, the restart policy) is the
// elastic service's (elastic/agent.h). What is a process's concern is here:
// run_agent() connects to the job's store (TcpStore, retried for
// store_lost_after), makes the node's files (worker_files: snapshot
// directory, heartbeat table, error files, -r/-t log directory), starts
// the --preload fork server, and hands elastic::run_agent() a WorkerGroup
// of real processes (launcher/process_workers.h: spawned in their own
// process groups, supervised, stopped with SIGTERM then SIGKILL after the
// grace period). Workers restart with MYRIAD_RESTART_COUNT (the round's
// generation) and TORCHELASTIC_RESTART_COUNT (failures so far) and restore
// their state from the checkpoint service (the node's snapshots live in
// MYRIAD_SNAPSHOT_DIR, owned by this agent, so they outlive a worker's
// crash).
//
// Files: the snapshot directory and the heartbeat file are
// /dev/shm/myriad-<run id>-*, removed when run_agent() returns or throws
// (and by `myriad run` after an agent was killed). run_agent() runs on the
// main thread and owns the process's signal handling (Supervisor).
#pragma once

#include <string>
#include <vector>

#include "elastic/agent.h"
#include "launcher/job_env.h"
#include "runtime/net.h"

namespace myriad::launcher {

struct AgentOptions {
  std::string store;   // the rendezvous endpoint: the job's store, HOST:PORT or etcd://... (store_address.h)
  std::string token;   // the store's token (a TCP store's)
  std::string run_id;  // the job's run id: names its shared memory
  // The agent's own settings: node id, nodes, ranks per node, restarts, timeouts. An empty
  // elastic.rdzv_id is the run id; an empty elastic.events_path is LOG_DIR/events.jsonl (none without
  // --log-dir); elastic.master_host, store_address, heartbeat_file and snapshot_dir are set by run_agent().
  elastic::AgentOptions elastic;
  std::string log_dir;  // DIR/rank-N.log per worker; empty: none
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
int run_agent(AgentOptions options);

using elastic::agent_id;
using elastic::agent_node;

}  // namespace myriad::launcher
