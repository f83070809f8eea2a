// Bootstrap: who am I in the job, and where is the store?
//
// detect_bootstrap() reads the process's place in the job from the
// environment, taking the first source that sets a rank, in this order:
//   1. Myriad's own   MYRIAD_RANK, MYRIAD_WORLD_SIZE, MYRIAD_LOCAL_RANK, MYRIAD_LOCAL_WORLD_SIZE
//   2. torchrun's     RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE
//   3. Open MPI's     OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE
//   4. Slurm's        SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE
// With none of them the process is a world of one. A source that is
// incomplete (a rank without a world size), values that do not parse, or
// values that contradict each other (rank >= world size, local rank >= local
// world size, local world size > world size) are Error(InvalidArgument)
// naming the variables and their values.
//
// The node is MYRIAD_NODE_ID when set, else the host name. The store address
// is MYRIAD_STORE, else MASTER_ADDR:MASTER_PORT; the token is MYRIAD_TOKEN.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "runtime/config.h"
#include "runtime/net.h"

namespace myriad {

struct BootstrapInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string node;    // node id: MYRIAD_NODE_ID or the host name
  std::string source;  // "myriad", "torchrun", "openmpi", "slurm" or "default"
  std::optional<HostPort> store;
  std::string token;
  std::string run_id;     // MYRIAD_RUN_ID, else TORCHELASTIC_RUN_ID, else ""
  int restart_count = 0;  // MYRIAD_RESTART_COUNT, else TORCHELASTIC_RESTART_COUNT
};

BootstrapInfo detect_bootstrap(const Env& env);
// The ranks' restart round alone: MYRIAD_RESTART_COUNT, else
// TORCHELASTIC_RESTART_COUNT, else 0 (for a process group whose ranks come
// from torch, where detect_bootstrap() may find no place in a job).
int detect_restart_count(const Env& env);
// The run id alone: MYRIAD_RUN_ID, else TORCHELASTIC_RUN_ID, else "".
std::string detect_run_id(const Env& env);

// Where one job's keys live in a store that several jobs may share (one
// `myriad store` for a cluster): "job/<run_id>", or "" for a job without a
// run id, which then has its store to itself. Every key the ranks make goes
// under it, so that two jobs never read each other's registrations.
std::string job_store_prefix(std::string_view run_id);

// The host name of this machine (gethostname).
std::string host_name();

}  // namespace myriad
