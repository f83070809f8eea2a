// The subcommands of `myriad`. Each lives in its own file
// (<name>_command.cc) and registers itself on the top-level CLI::App; the
// function it returns runs the subcommand after a successful parse and
// returns the process's exit code. A new subcommand (agent, bench, ckpt,
// topo) adds one file and one line in cli.cc's table.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace myriad::launcher {

using CommandMain = std::function<int()>;

CommandMain add_run_command(CLI::App& app);
CommandMain add_store_command(CLI::App& app);
CommandMain add_ckpt_command(CLI::App& app);
CommandMain add_bench_command(CLI::App& app);
CommandMain add_agent_command(CLI::App& app);
CommandMain add_rank_exec_command(CLI::App& app);
CommandMain add_sim_command(CLI::App& app);
CommandMain add_plan_command(CLI::App& app);

}  // namespace myriad::launcher
