// `myriad rank-exec [--role R] [--node-sizes N0,N1,...] [--] PROGRAM [ARGS...]`:
// the first thing every rank of an `mpirun` or `srun` launch runs (the mpi
// and slurm engines put it before the user's program). It turns the batch
// system's per-rank variables into torchrun's and Myriad's (rank_place.h),
// gives rank 0 a free MASTER_PORT and tells the others through the job's
// store, then execs PROGRAM: any program, Python or not, sees RANK,
// WORLD_SIZE, LOCAL_RANK, ... before its first instruction. Not listed in
// `myriad --help`: users never type it.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "launcher/commands.h"
#include "launcher/job_env.h"
#include "launcher/output_forwarder.h"
#include "launcher/rank_place.h"
#include "runtime/bootstrap.h"
#include "runtime/error.h"
#include "runtime/net.h"
#include "runtime/tcp_store.h"

namespace myriad::launcher {
namespace {

struct RankExecFlags {
  std::string role = "default";
  std::string node_sizes;
  std::vector<std::string> command;
};

// Rank 0 reserves a port on its host and publishes it; the others wait for it. The reservation is
// inherited across exec (rank 0's program binds it with SO_REUSEADDR), so no other process takes the
// port while the program starts.
HostPort exchange_master(const BatchPlace& place, std::unique_ptr<PortReservation>& held) {
  TcpStore store(TcpStoreOptions::from_env(Env::process()));
  std::string key = master_key(place.run_id);
  if (place.rank == 0) {
    held = std::make_unique<PortReservation>(reserve_port("0.0.0.0", /*inherit=*/true));
    HostPort master{master_host(store_host(Env::process())), held->port};
    store.set(key, master.to_string());
    return master;
  }
  return parse_host_port(store.get(key, store.timeout()), key);
}

[[noreturn]] void exec_program(const RankExecFlags& flags, const EnvVars& vars) {
  std::vector<std::string> environ_entries = compose_environ(::environ, vars);
  std::vector<char*> envp;
  for (std::string& entry : environ_entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = flags.command;
  std::vector<char*> argv;
  for (std::string& word : argv_storage) argv.push_back(word.data());
  argv.push_back(nullptr);
  ::execvpe(argv[0], argv.data(), envp.data());
  int error = errno;
  write_all(STDERR_FILENO,
            fmt::format("myriad rank-exec: cannot run '{}': {}\n", flags.command[0], std::strerror(error)));
  ::_exit(error == ENOENT ? 127 : 126);
}

int rank_exec(const RankExecFlags& flags) {
  if (flags.command.empty()) {
    raise(ErrorCode::InvalidArgument, "no program given: usage is myriad rank-exec [--] PROGRAM [ARGS...]");
  }
  BatchPlace place = batch_place(Env::process(), flags.node_sizes);
  std::unique_ptr<PortReservation> reservation;
  HostPort master = exchange_master(place, reservation);
  exec_program(flags, batch_rank_variables(place, master, flags.role));
}

}  // namespace

CommandMain add_rank_exec_command(CLI::App& app) {
  auto flags = std::make_shared<RankExecFlags>();
  CLI::App* sub = app.add_subcommand("rank-exec", "");
  sub->group("");  // internal: the mpi and slurm engines run it, users do not
  sub->prefix_command();
  sub->add_option("--role", flags->role);
  sub->add_option("--node-sizes", flags->node_sizes);
  return [flags, sub]() {
    flags->command = sub->remaining();
    if (!flags->command.empty() && flags->command.front() == "--")
      flags->command.erase(flags->command.begin());
    return rank_exec(*flags);
  };
}

}  // namespace myriad::launcher
