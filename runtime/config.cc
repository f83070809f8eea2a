#include "runtime/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "runtime/error.h"

namespace myriad {

Env Env::process() {
  return Env();
}

Env Env::from_map(std::map<std::string, std::string> vars) {
  Env env;
  env.use_process_ = false;
  env.vars_.insert(vars.begin(), vars.end());
  return env;
}

std::optional<std::string> Env::get(std::string_view name) const {
  if (use_process_) {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  }
  auto it = vars_.find(name);
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

namespace config {
namespace {

// The single table of variables. Keep docs/config.md in step (a test checks).
constexpr Variable kVariables[] = {
    {"MYRIAD_RANK", "int", "",
     "Global rank of this process; read before torchrun's, Open MPI's and Slurm's variables."},
    {"MYRIAD_WORLD_SIZE", "int", "", "Number of ranks in the job."},
    {"MYRIAD_LOCAL_RANK", "int", "", "Rank of this process among the ranks of its node."},
    {"MYRIAD_LOCAL_WORLD_SIZE", "int", "", "Number of ranks on this node."},
    {"MYRIAD_NODE_ID", "string", "host name",
     "Name of this rank's node. Ranks with different node ids are treated as on different hosts, so one "
     "machine can emulate several nodes."},
    {"MYRIAD_STORE", "host:port", "",
     "Address of the rendezvous store; falls back to MASTER_ADDR:MASTER_PORT."},
    {"MYRIAD_TOKEN", "string", "", "Job token every store connection presents first. Set by `myriad run`."},
    {"MYRIAD_RUN_ID", "string", "",
     "Identifier of the job; names its shared-memory segments and temporary files."},
    {"MYRIAD_RESTART_COUNT", "int", "0", "How many times the ranks of this job have been restarted."},
    {"MYRIAD_LOG_LEVEL", "choice", "info", "Log level: trace, debug, info, warn, error, off."},
    {"MYRIAD_TIMEOUT", "duration", "300s",
     "Default timeout of a blocking operation (store calls, bootstrap, collectives). Units ms, s, m, h."},
    {"MYRIAD_STORE_CONNECT_TIMEOUT", "duration", "60s",
     "How long a store client keeps retrying to connect before failing with Unavailable."},
    {"MYRIAD_PYTHON", "string", "the project's virtual environment",
     "Python interpreter `myriad run` uses for a .py program."},
    {"MYRIAD_BACKEND", "choice", "native",
     "Backend of a communicator created without one: native, mpi or nccl (those built)."},
    {"MYRIAD_PLUGIN_PATH", "string", "",
     "Colon-separated directories searched first for plugins (libmyriad_backend_<name>.so, "
     "libmyriad_bench_cuda.so); then the directory of libmyriad_collectives."},
    {"MYRIAD_ALGO", "string", "",
     "Algorithm per operation for the native backend, e.g. allreduce:ring,broadcast:tree."},
    {"MYRIAD_TUNING_FILE", "string", "",
     "JSON file with link costs and algorithm rules for the native backend's selector (docs/tuning.md)."},
    {"MYRIAD_TCP_HOST", "string", "127.0.0.1",
     "Address the native backend's TCP transport listens on and advertises to ranks of other nodes."},
    {"MYRIAD_KERNELS_ISA", "choice", "best the CPU has",
     "Highest instruction set the reduction kernels use: scalar, avx2 or avx512."},
    {"MYRIAD_SNAPSHOT_DIR", "string", "",
     "Node-local shared-memory directory where checkpoint snapshots are kept for restore (set by the node's "
     "agent)."},
    {"MYRIAD_SNAPSHOT_KEEP", "int", "2", "Checkpoint snapshots kept in the node's memory per rank."},
    {"MYRIAD_CKPT_REPLICAS", "int", "0",
     "Copies of each rank's snapshot kept in the memory of a buddy rank on another node: 0 or 1."},
    {"MYRIAD_CKPT_WRITE_MBPS", "int", "0",
     "Rate in MB/s at which each rank's checkpoint persist writes its file; 0 writes as fast as the disk "
     "takes it."},
    {"MYRIAD_HEARTBEAT_FILE", "string", "",
     "Shared-memory file where ranks publish heartbeats and training steps to their agent (set by the "
     "agent)."},
    {"MYRIAD_EVENTS_FILE", "string", "",
     "The job's goodput ledger (JSON lines) where ranks append their events, e.g. a restore (set by the "
     "agent)."},
    {"MYRIAD_HEARTBEAT_TIMEOUT", "duration", "60s",
     "A rank whose last heartbeat is older than this is hung (read by the agent; myriad run "
     "--heartbeat-timeout)."},
    {"MYRIAD_STORE_LOST_AFTER", "duration", "30s",
     "An agent that cannot reach the job's store (every etcd member) for this long stops its ranks and "
     "fails the job, naming the store."},
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

}  // namespace

std::span<const Variable> variables() {
  return kVariables;
}

const Variable& variable(std::string_view name) {
  for (const Variable& v : kVariables) {
    if (v.name == name) return v;
  }
  raise(ErrorCode::Internal, "{} is read as a Myriad variable but runtime/config.cc does not declare it",
        name);
}

std::optional<std::string> get_string(const Env& env, std::string_view name) {
  std::optional<std::string> value = env.get(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

int64_t parse_int(std::string_view text, std::string_view what, int64_t min, int64_t max) {
  std::string_view t = trim(text);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
    raise(ErrorCode::InvalidArgument, "{}='{}' is not an integer", what, text);
  }
  if (value < min || value > max) {
    raise(ErrorCode::InvalidArgument, "{}={} is out of range: accepted values are {} to {}", what, value, min,
          max);
  }
  return value;
}

bool parse_bool(std::string_view text, std::string_view what) {
  std::string t = lower(trim(text));
  if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
  if (t == "0" || t == "false" || t == "no" || t == "off") return false;
  raise(ErrorCode::InvalidArgument,
        "{}='{}' is not a boolean: accepted values are 1/0, true/false, yes/no, on/off", what, text);
}

std::chrono::milliseconds parse_duration(std::string_view text, std::string_view what) {
  std::string_view t = trim(text);
  size_t digits = 0;
  while (digits < t.size() && (std::isdigit(static_cast<unsigned char>(t[digits])) || t[digits] == '.')) {
    ++digits;
  }
  std::string unit = lower(trim(t.substr(digits)));
  double number = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + digits, number);
  double scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "m" || unit == "min")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  if (digits == 0 || ec != std::errc() || end != t.data() + digits || scale == 0 || number < 0) {
    raise(ErrorCode::InvalidArgument,
          "{}='{}' is not a duration: accepted values are a non-negative number with an optional "
          "unit ms, s (default), m or h, e.g. 30, 500ms, 2m",
          what, text);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(number * scale));
}

int64_t get_int(const Env& env, std::string_view name, int64_t default_value, int64_t min, int64_t max) {
  std::optional<std::string> value = get_string(env, name);
  return value ? parse_int(*value, name, min, max) : default_value;
}

bool get_bool(const Env& env, std::string_view name, bool default_value) {
  std::optional<std::string> value = get_string(env, name);
  return value ? parse_bool(*value, name) : default_value;
}

std::chrono::milliseconds get_duration(const Env& env, std::string_view name,
                                       std::chrono::milliseconds default_value) {
  std::optional<std::string> value = get_string(env, name);
  return value ? parse_duration(*value, name) : default_value;
}

std::string get_choice(const Env& env, std::string_view name, std::string_view default_value,
                       std::initializer_list<std::string_view> accepted) {
  std::optional<std::string> value = get_string(env, name);
  if (!value) return std::string(default_value);
  std::string wanted = lower(trim(*value));
  for (std::string_view choice : accepted) {
    if (lower(choice) == wanted) return std::string(choice);
  }
  std::string list;
  for (std::string_view choice : accepted) {
    if (!list.empty()) list += ", ";
    list += choice;
  }
  raise(ErrorCode::InvalidArgument, "{}='{}' is not accepted: accepted values are {}", name, *value, list);
}

namespace {

// The table's default of a declared variable, which must be set for a typed read.
std::string_view table_default(std::string_view name) {
  const Variable& v = variable(name);
  if (v.default_value.empty()) {
    raise(ErrorCode::Internal, "{} has no default in runtime/config.cc's table; read it with get_*", name);
  }
  return v.default_value;
}

std::string table_what(std::string_view name) {
  return fmt::format("the default of {} in runtime/config.cc", name);
}

}  // namespace

int64_t read_int(const Env& env, std::string_view name, int64_t min, int64_t max) {
  std::optional<std::string> value = get_string(env, name);
  return value ? parse_int(*value, name, min, max)
               : parse_int(table_default(name), table_what(name), min, max);
}

bool read_bool(const Env& env, std::string_view name) {
  std::optional<std::string> value = get_string(env, name);
  return value ? parse_bool(*value, name) : parse_bool(table_default(name), table_what(name));
}

std::chrono::milliseconds read_duration(const Env& env, std::string_view name) {
  std::optional<std::string> value = get_string(env, name);
  return value ? parse_duration(*value, name) : parse_duration(table_default(name), table_what(name));
}

std::string read_choice(const Env& env, std::string_view name,
                        std::initializer_list<std::string_view> accepted) {
  std::string_view fallback = table_default(name);
  bool listed = false;
  for (std::string_view choice : accepted) listed = listed || choice == fallback;
  if (!listed)
    raise(ErrorCode::Internal, "{} is '{}', not one of the accepted values", table_what(name), fallback);
  return get_choice(env, name, fallback, accepted);
}

}  // namespace config
}  // namespace myriad
