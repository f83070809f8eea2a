#include "runtime/bootstrap.h"

#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <climits>
#include <vector>

#include "runtime/error.h"

namespace myriad {
namespace {

// One launcher's spelling of the four rank variables. local_world_size may
// be absent (then derived), the others must come together.
struct RankSource {
  std::string_view name;
  std::string_view rank;
  std::string_view world_size;
  std::string_view local_rank;
  std::string_view local_world_size;
};

constexpr std::array<RankSource, 4> kSources = {{
    {"myriad", "MYRIAD_RANK", "MYRIAD_WORLD_SIZE", "MYRIAD_LOCAL_RANK", "MYRIAD_LOCAL_WORLD_SIZE"},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
}};

std::optional<int> read_int(const Env& env, std::string_view name, int min) {
  std::optional<std::string> value = config::get_string(env, name);
  if (!value) return std::nullopt;
  return static_cast<int>(config::parse_int(*value, name, min, INT_MAX));
}

// Slurm writes SLURM_NTASKS_PER_NODE as "4" or, for uneven layouts,
// "4(x2),3"; the local world size is then not a single number and is left
// to be found by the world exchange.
std::optional<int> read_slurm_tasks_per_node(const Env& env, std::string_view name) {
  std::optional<std::string> value = config::get_string(env, name);
  if (!value || value->find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<int>(config::parse_int(*value, name, 1, INT_MAX));
}

void fill_ranks(const Env& env, const RankSource& source, BootstrapInfo& info) {
  std::optional<int> rank = read_int(env, source.rank, 0);
  std::optional<int> world_size = read_int(env, source.world_size, 1);
  std::optional<int> local_rank = read_int(env, source.local_rank, 0);
  std::optional<int> local_world_size = source.name == "slurm"
                                            ? read_slurm_tasks_per_node(env, source.local_world_size)
                                            : read_int(env, source.local_world_size, 1);
  if (!world_size) {
    raise(ErrorCode::InvalidArgument, "{}={} is set but {} is not: a {} launch sets both", source.rank, *rank,
          source.world_size, source.name);
  }
  if (*rank >= *world_size) {
    raise(ErrorCode::InvalidArgument, "{}={} is not below {}={}", source.rank, *rank, source.world_size,
          *world_size);
  }
  info.source = std::string(source.name);
  info.rank = *rank;
  info.world_size = *world_size;
  // Without a local rank every rank is taken to be alone on its node, the
  // only assumption that cannot oversubscribe a node's shared resources.
  info.local_rank = local_rank.value_or(0);
  info.local_world_size = local_world_size.value_or(local_rank ? *world_size : 1);
  if (info.local_world_size > info.world_size) {
    raise(ErrorCode::InvalidArgument, "{}={} is larger than {}={}", source.local_world_size,
          info.local_world_size, source.world_size, info.world_size);
  }
  if (info.local_rank >= info.local_world_size) {
    raise(ErrorCode::InvalidArgument, "{}={} is not below {}={}", source.local_rank, info.local_rank,
          source.local_world_size, info.local_world_size);
  }
}

void check_agrees(const Env& env, const RankSource& other, const BootstrapInfo& info) {
  auto agree = [&](std::string_view name, int expected, std::string_view ours) {
    std::optional<std::string> value = config::get_string(env, name);
    if (value && config::parse_int(*value, name) != expected) {
      raise(ErrorCode::InvalidArgument, "{}={} contradicts {}={}", name, *value, ours, expected);
    }
  };
  agree(other.rank, info.rank, "MYRIAD_RANK");
  agree(other.world_size, info.world_size, "MYRIAD_WORLD_SIZE");
  agree(other.local_rank, info.local_rank, "MYRIAD_LOCAL_RANK");
  agree(other.local_world_size, info.local_world_size, "MYRIAD_LOCAL_WORLD_SIZE");
}

std::optional<HostPort> read_store(const Env& env) {
  if (std::optional<std::string> store = config::get_string(env, "MYRIAD_STORE")) {
    return parse_host_port(*store, "MYRIAD_STORE");
  }
  std::optional<std::string> addr = config::get_string(env, "MASTER_ADDR");
  std::optional<std::string> port = config::get_string(env, "MASTER_PORT");
  if (addr && port) {
    return HostPort{*addr, static_cast<uint16_t>(config::parse_int(*port, "MASTER_PORT", 1, 65535))};
  }
  if (addr || port) {
    raise(ErrorCode::InvalidArgument, "{} is set but {} is not: the store address needs both",
          addr ? "MASTER_ADDR" : "MASTER_PORT", addr ? "MASTER_PORT" : "MASTER_ADDR");
  }
  return std::nullopt;
}

}  // namespace

std::string host_name() {
  std::array<char, HOST_NAME_MAX + 1> name{};
  if (gethostname(name.data(), name.size()) != 0) raise_errno(errno, "gethostname");
  return std::string(name.data());
}

BootstrapInfo detect_bootstrap(const Env& env) {
  BootstrapInfo info;
  info.source = "default";
  for (const RankSource& source : kSources) {
    if (config::get_string(env, source.rank)) {
      fill_ranks(env, source, info);
      break;
    }
  }
  // `myriad run` sets its own variables and torchrun's to the same values;
  // when both are present and disagree, something else rewrote one of them.
  if (info.source == "myriad") check_agrees(env, kSources[1], info);
  info.node = config::get_string(env, "MYRIAD_NODE_ID").value_or(host_name());
  info.store = read_store(env);
  info.token = config::get_string(env, "MYRIAD_TOKEN").value_or("");
  info.run_id = detect_run_id(env);
  info.restart_count = detect_restart_count(env);
  return info;
}

std::string detect_run_id(const Env& env) {
  return config::get_string(env, "MYRIAD_RUN_ID")
      .value_or(config::get_string(env, "TORCHELASTIC_RUN_ID").value_or(""));
}

std::string job_store_prefix(std::string_view run_id) {
  return run_id.empty() ? std::string() : fmt::format("job/{}", run_id);
}

int detect_restart_count(const Env& env) {
  if (config::get_string(env, "MYRIAD_RESTART_COUNT")) {
    return static_cast<int>(config::read_int(env, "MYRIAD_RESTART_COUNT", 0, INT_MAX));
  }
  return static_cast<int>(config::get_int(env, "TORCHELASTIC_RESTART_COUNT", 0, 0, INT_MAX));
}

}  // namespace myriad
