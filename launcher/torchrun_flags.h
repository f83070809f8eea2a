// torchrun's flags that `myriad run` and `myriad agent` take with torchrun's
// meaning (docs/launcher.md has the table): -m/--module, --no-python,
// --run-path, -r/--redirects, -t/--tee, --rdzv-backend, --rdzv-conf,
// --node-rank, --local-ranks-filter, --role, --logs-specs, --start-method,
// --local-addr, --log-line-prefix-template, --signals-to-handle. Each is also
// read from torchrun's PET_<NAME> variable; torchrun's underscore spellings
// (--nproc_per_node) are turned into dashes before parsing (cli.cc).
//
// Parsing functions throw Error(InvalidArgument) naming the flag and the
// value. Pure and thread-safe.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace myriad::launcher {

struct TorchrunFlags {
  bool module = false;     // -m: PROGRAM is a Python module (python -m PROGRAM)
  bool no_python = false;  // --no-python: exec PROGRAM itself, even a .py
  bool run_path = false;   // --run-path: run PROGRAM with the Python interpreter, whatever its name
  std::string redirects;   // -r: "3" or "0:1,1:2" (1 stdout, 2 stderr, 3 both) to files only
  std::string tee;         // -t: same, to files and the console
  std::string rdzv_backend = "static";  // torchrun's default: --node-rank places the node
  std::string rdzv_conf;                // key=value,...
  int node_rank = -1;                   // --node-rank; -1: not given
  std::string local_ranks_filter;
  std::string role = "default";
  std::string logs_specs;
  std::string start_method = "spawn";
  std::string local_addr;
  std::string log_line_prefix_template;
  std::string signals_to_handle = "SIGTERM,SIGINT,SIGHUP,SIGQUIT";
};

void add_torchrun_flags(CLI::App& app, TorchrunFlags& flags);

// Which of a local rank's streams go to files: bit 0 stdout, bit 1 stderr.
// From -r/-t text: "3" for every local rank, or "LOCAL:VALUE,..." per rank.
struct StreamSpec {
  std::optional<int> all;
  std::vector<std::pair<int, int>> per_rank;
  int for_rank(int local_rank) const;
};
StreamSpec parse_stream_spec(const std::string& text, const std::string& flag);

// "0,2" -> {0, 2}; empty: every local rank.
std::optional<std::set<int>> parse_local_ranks_filter(const std::string& text);

// The rendezvous settings --rdzv-conf can change (torchrun's keys
// join_timeout and last_call_timeout, in seconds); other keys are accepted
// as torchrun accepts them.
struct RdzvConf {
  std::optional<std::chrono::milliseconds> join_timeout;
  std::optional<std::chrono::milliseconds> last_call;
};
RdzvConf parse_rdzv_conf(const std::string& text);

// Checks the flags that select something Myriad does not have (an etcd
// rendezvous, a logs-specs plugin) or take a closed set of values.
void check_torchrun_flags(const TorchrunFlags& flags);

// --nproc-per-node: a count, or torchrun's "auto" (the GPUs, else the CPUs),
// "cpu" (the CPUs this process may run on) or "gpu" (the GPUs; none is an error).
int parse_nproc_per_node(const std::string& text);

// torchrun's console prefix template (${role_name}, ${local_rank},
// ${rank}, ${hostname}) filled in; empty template: empty.
std::string expand_prefix_template(const std::string& templ, const std::string& role, int local_rank,
                                   int rank, const std::string& hostname);

}  // namespace myriad::launcher
