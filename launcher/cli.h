// The `myriad` command line: a dispatcher over the subcommands of
// commands.h.
//
// run_cli() parses argv with CLI11 and runs the chosen subcommand. Exit
// codes: the subcommand's own; 0 for --help and --version; kUsageExitCode
// for a usage error (a flag CLI11 rejects, or an Error(InvalidArgument)
// from the subcommand); 1 for any other error. Errors are printed on stderr
// as "myriad <subcommand>: error: <message>".
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace myriad::launcher {

inline constexpr int kUsageExitCode = 2;

int run_cli(int argc, char** argv);

// Prepares `myriad run`'s arguments for CLI11: rewrites mpirun's
// single-dash long flags (-np, -host, -hostfile, -machinefile) into run's
// long options (CLI11 would read -np as -n p), and drops a "--" placed
// before PROGRAM. Only the launcher's own flags are touched: scanning stops
// at PROGRAM, so the program's arguments pass unchanged. `args` excludes
// argv[0]; `app` must have its subcommands registered.
std::vector<std::string> normalize_run_args(CLI::App& app, std::vector<std::string> args);

}  // namespace myriad::launcher
