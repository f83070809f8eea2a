#include "launcher/job_env.h"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <map>

#include "runtime/bootstrap.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

constexpr size_t kTokenBytes = 16;  // 128 bits: not guessable by another user on the network
constexpr size_t kRunIdBytes = 6;   // 48 bits: unique among the jobs sharing one /dev/shm

constexpr std::string_view kRankVariables[] = {
    "MYRIAD_RANK", "MYRIAD_WORLD_SIZE", "MYRIAD_LOCAL_RANK", "MYRIAD_LOCAL_WORLD_SIZE", "RANK", "WORLD_SIZE",
    "LOCAL_RANK",  "LOCAL_WORLD_SIZE",  "GROUP_RANK",
};
constexpr std::string_view kJobVariables[] = {
    "MYRIAD_STORE",
    "MYRIAD_TOKEN",
    "MYRIAD_RUN_ID",
    "MYRIAD_RESTART_COUNT",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_USE_AGENT_STORE",
};

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t filled = 0;
  while (filled < bytes) {
    ssize_t n = ::getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      raise_errno(errno, "getrandom for the job token");
    }
    filled += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

bool valid_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool reserved(std::string_view name) {
  return std::find(std::begin(kRankVariables), std::end(kRankVariables), name) != std::end(kRankVariables) ||
         std::find(std::begin(kJobVariables), std::end(kJobVariables), name) != std::end(kJobVariables);
}

}  // namespace

std::string make_token() {
  return random_hex(kTokenBytes);
}
std::string make_run_id() {
  return random_hex(kRunIdBytes);
}

EnvVars job_variables(const JobEnv& job) {
  EnvVars vars = job.user;
  vars.emplace_back("MYRIAD_STORE", job.store.to_string());
  vars.emplace_back("MYRIAD_TOKEN", job.token);
  vars.emplace_back("MYRIAD_RUN_ID", job.run_id);
  vars.emplace_back("MYRIAD_RESTART_COUNT", std::to_string(job.restart_count));
  // MASTER_ADDR/MASTER_PORT are not the store's: each engine gives the ranks a port free for rank 0's own
  // store (master_variables). Under torchrun TORCHELASTIC_USE_AGENT_STORE=True makes torch connect to the
  // agent's store as a client; Myriad's store does not speak torch's protocol, so rank 0 hosts its own.
  vars.emplace_back("TORCHELASTIC_USE_AGENT_STORE", "False");
  return vars;
}

std::string master_host(const std::string& store_host) {
  if (store_host == "localhost" || store_host.starts_with("127.") || store_host == "::1") return "127.0.0.1";
  return host_name();
}

EnvVars master_variables(const HostPort& master) {
  return {{"MASTER_ADDR", master.host}, {"MASTER_PORT", std::to_string(master.port)}};
}

EnvVars rank_variables(const RankPlace& place) {
  return {
      {"MYRIAD_RANK", std::to_string(place.rank)},
      {"MYRIAD_WORLD_SIZE", std::to_string(place.world_size)},
      {"MYRIAD_LOCAL_RANK", std::to_string(place.local_rank)},
      {"MYRIAD_LOCAL_WORLD_SIZE", std::to_string(place.local_world_size)},
      {"RANK", std::to_string(place.rank)},
      {"WORLD_SIZE", std::to_string(place.world_size)},
      {"LOCAL_RANK", std::to_string(place.local_rank)},
      {"LOCAL_WORLD_SIZE", std::to_string(place.local_world_size)},
      {"GROUP_RANK", std::to_string(place.group_rank)},
  };
}

std::span<const std::string_view> rank_variable_names() {
  return kRankVariables;
}

std::pair<std::string, std::string> parse_user_env(std::string_view spec, std::string_view flag,
                                                   bool allow_inherit, const Env& launcher_env) {
  size_t eq = spec.find('=');
  std::string name(spec.substr(0, eq));
  if (!valid_name(name)) {
    raise(ErrorCode::InvalidArgument,
          "{} '{}': '{}' is not a variable name (letters, digits and _, not starting with a digit)", flag,
          spec, name);
  }
  if (reserved(name)) {
    raise(ErrorCode::InvalidArgument, "{} '{}': {} is set by myriad run for every rank and cannot be changed",
          flag, spec, name);
  }
  if (eq != std::string_view::npos) return {name, std::string(spec.substr(eq + 1))};
  if (!allow_inherit) {
    raise(ErrorCode::InvalidArgument, "{} '{}': expected VAR=VALUE", flag, spec);
  }
  std::optional<std::string> value = launcher_env.get(name);
  if (!value) {
    raise(ErrorCode::InvalidArgument,
          "{} {}: {} is not set in the environment of myriad run; write {}=VALUE to set it", flag, name, name,
          name);
  }
  return {name, *value};
}

std::vector<std::string> compose_environ(char** base, const EnvVars& overrides,
                                         std::span<const std::string_view> removed) {
  // Keeps the base order (stable, readable in /proc/<pid>/environ) and appends new names.
  std::vector<std::string> out;
  std::map<std::string, size_t, std::less<>> index;
  auto set = [&](std::string_view name, std::string entry) {
    auto it = index.find(name);
    if (it != index.end()) {
      out[it->second] = std::move(entry);
    } else {
      index.emplace(std::string(name), out.size());
      out.push_back(std::move(entry));
    }
  };
  for (char** p = base; p != nullptr && *p != nullptr; ++p) {
    std::string_view entry(*p);
    std::string_view name = entry.substr(0, entry.find('='));
    if (std::find(removed.begin(), removed.end(), name) != removed.end()) continue;
    set(name, std::string(entry));
  }
  for (const auto& [name, value] : overrides) set(name, name + "=" + value);
  return out;
}

}  // namespace myriad::launcher
