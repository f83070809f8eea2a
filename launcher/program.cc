#include "launcher/program.h"

#include <sys/stat.h>
#include <unistd.h>

#include "myriad_config.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// A directory passes access(X_OK) too; exec needs a regular file.
bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string python_interpreter(const Env& env) {
  if (std::optional<std::string> python = config::get_string(env, "MYRIAD_PYTHON")) return *python;
  std::string venv_python = std::string(MYRIAD_DEFAULT_VENV) + "/bin/python";
  if (executable(venv_python)) return venv_python;
  return "python3";
}

std::vector<std::string> program_argv(const std::vector<std::string>& command, const Env& env,
                                      const ProgramMode& mode) {
  MYRIAD_CHECK(!command.empty());
  if (mode.module) {
    std::vector<std::string> argv{python_interpreter(env), "-m"};
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
  }
  if (mode.no_python || (!mode.run_path && !command[0].ends_with(".py"))) return command;
  struct stat st {};
  if (::stat(command[0].c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      ::access(command[0].c_str(), R_OK) != 0) {
    raise(ErrorCode::InvalidArgument, "script '{}' does not exist or cannot be read (no rank was started)",
          command[0]);
  }
  std::vector<std::string> argv{python_interpreter(env)};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::string find_executable(std::string_view name, const Env& env) {
  if (name.find('/') != std::string_view::npos) {
    std::string path(name);
    if (!executable(path)) {
      raise(ErrorCode::InvalidArgument, "program '{}' does not exist or is not executable", name);
    }
    return path;
  }
  std::string search = config::get_string(env, "PATH").value_or(std::string(kDefaultPath));
  std::string_view rest = search;
  while (true) {
    size_t colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    // An empty PATH entry means the current directory.
    std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
    if (executable(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    rest = rest.substr(colon + 1);
  }
  raise(ErrorCode::InvalidArgument, "program '{}' was not found in PATH ({})", name, search);
}

}  // namespace myriad::launcher
