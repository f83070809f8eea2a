// The environment `myriad run` gives every rank, and the job's identity.
//
// A rank's variables (torchrun-compatible names plus Myriad's own):
//   per rank   MYRIAD_RANK, MYRIAD_WORLD_SIZE, MYRIAD_LOCAL_RANK, MYRIAD_LOCAL_WORLD_SIZE,
//              RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK
//   per job    MYRIAD_STORE, MYRIAD_TOKEN, MYRIAD_RUN_ID, MYRIAD_RESTART_COUNT,
//              TORCHELASTIC_USE_AGENT_STORE=False
//   per round  MASTER_ADDR, MASTER_PORT: rank 0's host and a port free there
//              for rank 0's own store (torch's TCPStore), never Myriad's
// plus the user's -x/--env variables. A user variable may not redefine one
// of these (Error(InvalidArgument) naming the flag): a rank whose RANK
// disagrees with MYRIAD_RANK would join the wrong place silently.
//
// Pure functions apart from make_token()/make_run_id(), which read the
// kernel's random source; all are thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/config.h"
#include "runtime/net.h"

namespace myriad::launcher {

// Ordered NAME=VALUE pairs; a later pair overrides an earlier one of the same name.
using EnvVars = std::vector<std::pair<std::string, std::string>>;

// 16 random bytes as 32 hex characters: the secret every store client presents.
std::string make_token();
// 6 random bytes as 12 hex characters: names the job's shared memory and temp files.
std::string make_run_id();

struct JobEnv {
  HostPort store;  // the address ranks connect to
  std::string token;
  std::string run_id;
  int restart_count = 0;
  EnvVars user;  // from -x/--env, validated by parse_user_env
};

struct RankPlace {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  int group_rank = 0;  // index of the node
};

// The variables every rank of the job shares, user variables first.
EnvVars job_variables(const JobEnv& job);
// The MASTER_ADDR ranks are told: 127.0.0.1 when the job's store is on
// loopback (every rank on this machine), else this host's name.
std::string master_host(const std::string& store_host);
// MASTER_ADDR and MASTER_PORT.
EnvVars master_variables(const HostPort& master);
// The per-rank variables.
EnvVars rank_variables(const RankPlace& place);
// Names rank_variables sets: removed from mpirun's environment so that a
// stale value inherited by the launcher cannot override Open MPI's ranks.
std::span<const std::string_view> rank_variable_names();

// Parses one -x or --env value: "VAR=VALUE", or (when `allow_inherit`, as
// -x does) a bare "VAR" taken from `launcher_env`. `flag` names the flag in
// errors: a bad name, an unset inherited variable, a reserved name.
std::pair<std::string, std::string> parse_user_env(std::string_view spec, std::string_view flag,
                                                   bool allow_inherit, const Env& launcher_env);

// The environment block for exec: `base` ("NAME=VALUE" strings, e.g.
// environ) without the names in `removed`, with `overrides` applied.
std::vector<std::string> compose_environ(char** base, const EnvVars& overrides,
                                         std::span<const std::string_view> removed = {});

}  // namespace myriad::launcher
