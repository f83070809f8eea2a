#include "launcher/run_plan.h"

#include <unistd.h>

#include <climits>

#include "launcher/program.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

std::string this_host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) raise_errno(errno, "gethostname");
  return name;
}

std::vector<HostSlots> read_hosts(const RunOptions& options) {
  if (!options.hosts.empty() && !options.hostfile.empty()) {
    raise(ErrorCode::InvalidArgument, "-H '{}' and --hostfile '{}' both name hosts: give one of them",
          options.hosts, options.hostfile);
  }
  if (!options.hosts.empty()) return parse_host_list(options.hosts, "-H");
  if (!options.hostfile.empty()) return read_hostfile(options.hostfile);
  return {};
}

std::chrono::milliseconds duration_flag(const std::string& text, std::string_view flag) {
  return config::parse_duration(text, flag);
}

}  // namespace

RunPlan make_run_plan(const RunOptions& options, const Env& env) {
  RunPlan plan;
  if (options.command.empty()) {
    raise(ErrorCode::InvalidArgument, "no program given: usage is myriad run [OPTIONS] PROGRAM [ARGS...]");
  }
  if (options.command[0].starts_with('-')) {
    raise(ErrorCode::InvalidArgument, "unknown option '{}' (see myriad run --help)", options.command[0]);
  }
  plan.hosts = read_hosts(options);
  for (const HostSlots& host : plan.hosts) plan.remote = plan.remote || !is_local_host(host.host);

  plan.engine = options.engine.empty() ? (plan.hosts.empty() ? "local" : "mpi") : options.engine;
  if (plan.engine != "local" && plan.engine != "mpi") {
    raise(ErrorCode::InvalidArgument, "--engine '{}' is not accepted: accepted values are local, mpi",
          options.engine);
  }
  if (plan.engine == "local" && plan.remote) {
    raise(ErrorCode::InvalidArgument,
          "--engine local starts ranks on this machine only, but the hosts '{}' name other machines: use "
          "--engine mpi",
          format_host_list(plan.hosts));
  }

  int default_size = plan.hosts.empty() ? 1 : total_slots(plan.hosts);
  int max_size = plan.remote ? kMaxRanksPerNode * static_cast<int>(plan.hosts.size()) : kMaxRanksPerNode;
  if (options.nproc && (*options.nproc < 1 || *options.nproc > max_size)) {
    raise(ErrorCode::InvalidArgument, "-np {} is out of range: accepted values are 1 to {}", *options.nproc,
          max_size);
  }
  plan.world_size = options.nproc.value_or(default_size);

  plan.argv = program_argv(options.command, env);
  plan.program_path =
      plan.engine == "local" ? find_executable(plan.argv[0], env) : find_executable(options.mpirun, env);

  for (const std::string& spec : options.exports)
    plan.user_env.push_back(parse_user_env(spec, "-x", true, env));
  for (const std::string& spec : options.envs)
    plan.user_env.push_back(parse_user_env(spec, "--env", false, env));

  plan.log_dir = options.log_dir;
  plan.tag_output = options.tag_output;
  plan.supervision.timeout = duration_flag(options.timeout, "--timeout");
  plan.supervision.grace_period = duration_flag(options.grace_period, "--grace-period");
  plan.dry_run = options.dry_run;

  // Remote ranks must reach the store through a real interface; a local job keeps it on loopback.
  plan.store_bind_host = plan.remote ? "0.0.0.0" : "127.0.0.1";
  plan.store_advertise_host =
      !options.master_addr.empty() ? options.master_addr : (plan.remote ? this_host_name() : "127.0.0.1");
  if (options.master_port < 0 || options.master_port > 65535) {
    raise(ErrorCode::InvalidArgument, "--master-port {} is out of range: accepted values are 0 to 65535",
          options.master_port);
  }
  plan.store_port = static_cast<uint16_t>(options.master_port);
  plan.map_by = options.map_by;
  plan.bind_to = options.bind_to;
  return plan;
}

}  // namespace myriad::launcher
