// Helpers shared by the launcher tests (tests/launcher/): the paths of the binaries under
// test (compile definitions set in CMakeLists.txt) and a one-line way to
// run `myriad` with the multi-process harness.
#pragma once

#include <sys/types.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace myriad::test {

inline constexpr std::chrono::milliseconds kMyriadTimeout{60'000};

inline std::string myriad_path() {
  return MYRIAD_CLI_PATH;
}
inline std::string probe_path() {
  return RANK_PROBE_PATH;
}
inline std::string hello_path() {
  return HELLO_PATH;
}

// The options to run `myriad ARGS...`; MYRIAD_LOG_LEVEL and MYRIAD_PYTHON are
// unset so that the tests see the launcher's defaults.
inline CommandOptions myriad_options(std::vector<std::string> args,
                                     std::map<std::string, std::string> env = {},
                                     std::chrono::milliseconds timeout = kMyriadTimeout) {
  CommandOptions options;
  options.argv.push_back(myriad_path());
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = std::move(env);
  options.unset_env = {"MYRIAD_LOG_LEVEL", "MYRIAD_PYTHON"};
  options.timeout = timeout;
  return options;
}

inline CommandResult run_myriad(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                                std::chrono::milliseconds timeout = kMyriadTimeout) {
  return run_command(myriad_options(std::move(args), std::move(env), timeout));
}

// Starts `myriad ARGS...` in the background (to signal it while it runs).
inline std::unique_ptr<RunningCommand> start_myriad(std::vector<std::string> args) {
  return start_command(myriad_options(std::move(args)));
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The pids rank_probe wrote as DIR/<prefix><rank> for ranks 0..n-1 (0 where missing).
inline std::vector<pid_t> read_pids(const std::string& dir, const std::string& prefix, int n) {
  std::vector<pid_t> pids;
  for (int rank = 0; rank < n; ++rank) {
    std::string text = read_text(dir + "/" + prefix + std::to_string(rank));
    pids.push_back(text.empty() ? 0 : static_cast<pid_t>(std::stol(text)));
  }
  return pids;
}

// Splits text into lines (without the '\n'); a last line without a newline is kept.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace myriad::test

namespace myriad::test {

// True when mpirun is on PATH (the mpi-engine tests skip without it).
inline bool have_mpirun() {
  return run_command(CommandOptions{.argv = {"sh", "-c", "command -v mpirun"},
                                    .env = {},
                                    .unset_env = {},
                                    .timeout = std::chrono::milliseconds(10'000)})
             .shell_code() == 0;
}

}  // namespace myriad::test
