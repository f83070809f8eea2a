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
    {"bench", add_bench_command}, {"agent", add_agent_command},
};

bool takes_value(const CLI::App& sub, std::string_view token) {
  std::string name(token.substr(0, token.find('=')));
  const CLI::Option* option = sub.get_option_no_throw(name);
  return option != nullptr && option->get_items_expected_max() > 0 &&
         token.find('=') == std::string_view::npos;
}

}  // namespace

std::vector<std::string> normalize_run_args(CLI::App& app, std::vector<std::string> args) {
  if (args.empty() || args[0] != "run") return args;
  const CLI::App* run = app.get_subcommand("run");
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& token = args[i];
    if (token == "--") {
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
    if (!token.starts_with('-')) break;  // PROGRAM: the rest is the program's
    for (const MpirunSpelling& spelling : kMpirunSpellings) {
      if (token == spelling.mpirun) token = std::string(spelling.ours);
    }
    if (takes_value(*run, token)) ++i;
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
