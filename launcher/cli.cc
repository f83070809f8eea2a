#include "launcher/cli.h"

#include <algorithm>
#include <iostream>
#include <string_view>
#include <utility>

#include "launcher/commands.h"
#include "myriad_config.h"
#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::launcher {
namespace {

struct MpirunSpelling {
  std::string_view mpirun;
  std::string_view ours;
};
constexpr MpirunSpelling kMpirunSpellings[] = {
    {"-np", "--np"}, {"-host", "--host"}, {"-hostfile", "--hostfile"}, {"-machinefile", "--hostfile"}};

// One entry per subcommand: a new one is one line here and one file.
using AddCommand = CommandMain (*)(CLI::App&);
constexpr std::pair<std::string_view, AddCommand> kSubcommands[] = {
    {"run", add_run_command},     {"store", add_store_command}, {"ckpt", add_ckpt_command},
    {"bench", add_bench_command}, {"agent", add_agent_command}, {"rank-exec", add_rank_exec_command},
    {"plan", add_plan_command},   {"sim", add_sim_command},
};

bool takes_value(const CLI::App& sub, std::string_view token) {
  std::string name(token.substr(0, token.find('=')));
  const CLI::Option* option = sub.get_option_no_throw(name);
  return option != nullptr && option->get_items_expected_max() > 0 &&
         token.find('=') == std::string_view::npos;
}

// torchrun's underscore spelling (--nproc_per_node, --max_restarts=3) of one of `sub`'s options.
void dash_spelling(const CLI::App& sub, std::string& token) {
  if (!token.starts_with("--")) return;
  size_t end = std::min(token.find('='), token.size());
  std::string dashed = token.substr(0, end);
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  if (dashed != token.substr(0, end) && sub.get_option_no_throw(dashed) != nullptr) {
    token = dashed + token.substr(end);
  }
}

}  // namespace

std::vector<std::string> normalize_run_args(CLI::App& app, std::vector<std::string> args) {
  if (args.empty() || (args[0] != "run" && args[0] != "agent" && args[0] != "rank-exec")) return args;
  const CLI::App* sub = app.get_subcommand(args[0]);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& token = args[i];
    if (token == "--") {
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
    if (!token.starts_with('-')) break;  // PROGRAM: the rest is the program's
    if (args[0] == "run") {
      for (const MpirunSpelling& spelling : kMpirunSpellings) {
        if (token == spelling.mpirun) token = std::string(spelling.ours);
      }
    }
    dash_spelling(*sub, token);
    if (takes_value(*sub, token)) ++i;
  }
  return args;
}

int run_cli(int argc, char** argv) {
  CLI::App app{"myriad: start and serve Myriad distributed jobs", "myriad"};
  app.require_subcommand(1);
  app.set_version_flag("--version", MYRIAD_VERSION);
  std::vector<std::pair<CLI::App*, CommandMain>> commands;
  for (const auto& [name, add] : kSubcommands) {
    CommandMain main = add(app);
    commands.emplace_back(app.get_subcommand(std::string(name)), std::move(main));
  }

  std::vector<std::string> args = normalize_run_args(app, std::vector<std::string>(argv + 1, argv + argc));
  bool known = std::any_of(std::begin(kSubcommands), std::end(kSubcommands),
                           [&args](const auto& entry) { return !args.empty() && entry.first == args[0]; });
  if (!args.empty() && !args[0].starts_with('-') && !known) {
    std::string names;
    for (const auto& [name, add] : kSubcommands) {
      if (name == "rank-exec") continue;  // internal
      names += names.empty() ? std::string(name) : ", " + std::string(name);
    }
    std::cerr << "myriad: unknown command '" << args[0] << "': the commands are " << names
              << " (see myriad --help)" << std::endl;
    return kUsageExitCode;
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kUsageExitCode;
  }

  for (auto& [sub, main] : commands) {
    if (!sub->parsed()) continue;
    std::string name = sub->get_name();
    set_log_role(fmt::format("myriad {}", name));
    try {
      return main();
    } catch (const Error& e) {
      std::cerr << "myriad " << name << ": error: " << e.message() << std::endl;
      return e.code() == ErrorCode::InvalidArgument ? kUsageExitCode : 1;
    } catch (const std::exception& e) {
      std::cerr << "myriad " << name << ": error: " << e.what() << std::endl;
      return 1;
    }
  }
  return kUsageExitCode;
}

}  // namespace myriad::launcher
