#include "launcher/rank_place.h"

#include <climits>

#include "runtime/bootstrap.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

int required_int(const Env& env, std::string_view name, int min, std::string_view source) {
  std::optional<std::string> value = config::get_string(env, name);
  if (!value) {
    raise(ErrorCode::InvalidArgument, "{} is not set: a rank started by {} has it", name, source);
  }
  return static_cast<int>(config::parse_int(*value, name, min, INT_MAX));
}

// With node_sizes "4,4,2" rank 9 is on node 2; the local size must agree.
bool place_from_sizes(const std::string& node_sizes, BatchPlace& place) {
  if (node_sizes.empty()) return false;
  std::vector<int> sizes = expand_slurm_counts(node_sizes, "--node-sizes");
  int first = 0;
  for (size_t node = 0; node < sizes.size(); ++node) {
    if (place.rank < first + sizes[node]) {
      if (sizes[node] != place.local_world_size || place.rank - first != place.local_rank) return false;
      place.group_rank = static_cast<int>(node);
      place.group_world_size = static_cast<int>(sizes.size());
      return true;
    }
    first += sizes[node];
  }
  return false;
}

void check_place(const BatchPlace& place, std::string_view rank_name, std::string_view size_name) {
  if (place.rank >= place.world_size) {
    raise(ErrorCode::InvalidArgument, "{}={} is not below {}={}", rank_name, place.rank, size_name,
          place.world_size);
  }
  if (place.local_rank >= place.local_world_size || place.local_world_size > place.world_size) {
    raise(ErrorCode::InvalidArgument, "local rank {} of {} does not fit a world of {} ({} launch)",
          place.local_rank, place.local_world_size, place.world_size, place.source);
  }
}

}  // namespace

std::vector<int> expand_slurm_counts(const std::string& text, const std::string& what) {
  std::vector<int> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t paren = item.find("(x");
    std::string count_text = item.substr(0, paren);
    int repeat = 1;
    if (paren != std::string::npos) {
      if (!item.ends_with(")")) raise(ErrorCode::InvalidArgument, "{} '{}': bad item '{}'", what, text, item);
      repeat = static_cast<int>(
          config::parse_int(item.substr(paren + 2, item.size() - paren - 3), what, 1, INT_MAX));
    }
    int count = static_cast<int>(config::parse_int(count_text, what, 1, INT_MAX));
    out.insert(out.end(), static_cast<size_t>(repeat), count);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

BatchPlace batch_place(const Env& env, const std::string& node_sizes) {
  BatchPlace place;
  place.run_id = config::get_string(env, "MYRIAD_RUN_ID").value_or("");
  if (config::get_string(env, "OMPI_COMM_WORLD_RANK")) {
    place.source = "openmpi";
    place.rank = required_int(env, "OMPI_COMM_WORLD_RANK", 0, "mpirun");
    place.world_size = required_int(env, "OMPI_COMM_WORLD_SIZE", 1, "mpirun");
    place.local_rank = required_int(env, "OMPI_COMM_WORLD_LOCAL_RANK", 0, "mpirun");
    place.local_world_size = required_int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", 1, "mpirun");
    check_place(place, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE");
    if (!place_from_sizes(node_sizes, place)) {
      place.group_rank = (place.rank - place.local_rank) / place.local_world_size;
      place.group_world_size = (place.world_size + place.local_world_size - 1) / place.local_world_size;
    }
    place.node_id = host_name();
    return place;
  }
  if (config::get_string(env, "SLURM_PROCID")) {
    place.source = "slurm";
    place.rank = required_int(env, "SLURM_PROCID", 0, "srun");
    place.world_size = required_int(env, "SLURM_NTASKS", 1, "srun");
    place.local_rank = required_int(env, "SLURM_LOCALID", 0, "srun");
    place.group_rank = required_int(env, "SLURM_NODEID", 0, "srun");
    place.group_world_size = required_int(env, "SLURM_NNODES", 1, "srun");
    std::string per_node_name = config::get_string(env, "SLURM_STEP_TASKS_PER_NODE")
                                    ? "SLURM_STEP_TASKS_PER_NODE"
                                    : "SLURM_TASKS_PER_NODE";
    std::optional<std::string> per_node = config::get_string(env, per_node_name);
    if (!per_node)
      raise(ErrorCode::InvalidArgument, "{} is not set: a rank started by srun has it", per_node_name);
    std::vector<int> counts = expand_slurm_counts(*per_node, per_node_name);
    if (place.group_rank >= static_cast<int>(counts.size())) {
      raise(ErrorCode::InvalidArgument, "SLURM_NODEID={} has no entry in {}='{}'", place.group_rank,
            per_node_name, *per_node);
    }
    place.local_world_size = counts[static_cast<size_t>(place.group_rank)];
    check_place(place, "SLURM_PROCID", "SLURM_NTASKS");
    place.node_id = config::get_string(env, "SLURMD_NODENAME").value_or(host_name());
    return place;
  }
  raise(
      ErrorCode::InvalidArgument,
      "myriad rank-exec runs under mpirun or srun, but neither OMPI_COMM_WORLD_RANK nor SLURM_PROCID is set");
}

EnvVars batch_rank_variables(const BatchPlace& place, const HostPort& master, const std::string& role) {
  EnvVars vars = rank_variables(RankPlace{.rank = place.rank,
                                          .world_size = place.world_size,
                                          .local_rank = place.local_rank,
                                          .local_world_size = place.local_world_size,
                                          .group_rank = place.group_rank});
  EnvVars master_vars = master_variables(master);
  vars.insert(vars.end(), master_vars.begin(), master_vars.end());
  vars.insert(vars.end(), {{"ROLE_NAME", role},
                           {"ROLE_RANK", std::to_string(place.rank)},
                           {"ROLE_WORLD_SIZE", std::to_string(place.world_size)},
                           {"GROUP_WORLD_SIZE", std::to_string(place.group_world_size)},
                           {"TORCHELASTIC_RESTART_COUNT", "0"},
                           {"TORCHELASTIC_MAX_RESTARTS", "0"},
                           {"TORCHELASTIC_RUN_ID", place.run_id},
                           {"TORCHELASTIC_USE_AGENT_STORE", "False"},
                           {"MYRIAD_NODE_ID", place.node_id}});
  return vars;
}

std::string master_key(const std::string& run_id) {
  return fmt::format("job/{}/master", run_id);
}

std::string store_host(const Env& env) {
  std::optional<std::string> store = config::get_string(env, "MYRIAD_STORE");
  if (!store)
    raise(ErrorCode::InvalidArgument, "MYRIAD_STORE is not set: myriad rank-exec needs the job's store");
  return parse_host_port(*store, "MYRIAD_STORE").host;
}

}  // namespace myriad::launcher
