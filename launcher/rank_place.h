// A rank's place in a job that a batch system started: mpirun (Open MPI's
// OMPI_COMM_WORLD_*) or srun (Slurm's SLURM_*), turned into the variables
// torchrun gives its workers, for `myriad rank-exec`.
//
// batch_place() reads, in this order:
//   Open MPI  OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE; the node
//             index from `node_sizes` ("4,4,2": ranks per node in launch
//             order, as `myriad run` maps them by slot), else from the
//             local size (nodes of equal size, ranks of a node consecutive)
//   Slurm     SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID,
//             SLURM_NNODES and SLURM_STEP_TASKS_PER_NODE ("2(x3),1")
// Neither set, missing or contradicting values: Error(InvalidArgument)
// naming the variables. The node id is SLURMD_NODENAME (emulated Slurm
// nodes share one host name), else the host name.
//
// Pure functions of their arguments apart from the host name; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "launcher/job_env.h"
#include "runtime/config.h"
#include "runtime/net.h"

namespace myriad::launcher {

struct BatchPlace {
  std::string source;  // "openmpi" or "slurm"
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  int group_rank = 0;  // the node's index
  int group_world_size = 1;
  std::string node_id;
  std::string run_id;  // MYRIAD_RUN_ID
};

BatchPlace batch_place(const Env& env, const std::string& node_sizes);

// Slurm's compressed task counts: "2(x3),1" -> {2, 2, 2, 1}.
std::vector<int> expand_slurm_counts(const std::string& text, const std::string& what);

// Every variable torchrun gives a worker (and Myriad's MYRIAD_RANK, ...):
// the place, MASTER_ADDR/MASTER_PORT, ROLE_NAME, ROLE_RANK, ROLE_WORLD_SIZE,
// GROUP_WORLD_SIZE, TORCHELASTIC_RESTART_COUNT, TORCHELASTIC_MAX_RESTARTS,
// TORCHELASTIC_RUN_ID, MYRIAD_NODE_ID.
EnvVars batch_rank_variables(const BatchPlace& place, const HostPort& master, const std::string& role);

// The store key under which rank 0 publishes MASTER_ADDR:MASTER_PORT.
std::string master_key(const std::string& run_id);
// The host of MYRIAD_STORE (Error(InvalidArgument) when it is not set).
std::string store_host(const Env& env);

}  // namespace myriad::launcher
