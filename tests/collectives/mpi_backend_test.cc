// The mpi backend on real MPI ranks: mpi_collectives_check runs and checks
// every op under mpirun, started directly (with a store served here, passed
// through MYRIAD_STORE) and through `myriad run --engine mpi` (whose
// embedded store the launcher passes on).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "runtime/tcp_store.h"
#include "tests/harness/process.h"

namespace myriad::test {
namespace {

constexpr char kToken[] = "mpi-backend-test-token";
constexpr int kRanks = 4;
constexpr std::chrono::milliseconds kRunTimeout{300'000};

// Variables that would take precedence over Open MPI's in the bootstrap.
const std::vector<std::string> kForeignRankVariables = {
    "MYRIAD_RANK",  "MYRIAD_WORLD_SIZE", "MYRIAD_LOCAL_RANK", "MYRIAD_LOCAL_WORLD_SIZE",
    "RANK",         "WORLD_SIZE",        "LOCAL_RANK",        "LOCAL_WORLD_SIZE",
    "SLURM_PROCID", "SLURM_NTASKS",      "MYRIAD_BACKEND"};

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// Every rank printed its summary for both communicators with no wrong case.
void expect_all_checked(const CommandResult& result) {
  EXPECT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_EQ(occurrences(result.out, "mpi check: world: rank"), static_cast<size_t>(kRanks))
      << result.describe();
  EXPECT_EQ(occurrences(result.out, "mpi check: split: rank"), static_cast<size_t>(kRanks))
      << result.describe();
  EXPECT_EQ(occurrences(result.out, ", 0 wrong"), static_cast<size_t>(2 * kRanks)) << result.describe();
}

TEST(MpiBackend, EveryOpUnderMpirun) {
  TcpStoreServer server(TcpStoreServerOptions{.token = kToken});
  CommandOptions options;
  options.argv = {"mpirun",
                  "--allow-run-as-root",
                  "--oversubscribe",
                  "-np",
                  std::to_string(kRanks),
                  "-x",
                  fmt::format("MYRIAD_STORE=127.0.0.1:{}", server.port()),
                  "-x",
                  fmt::format("MYRIAD_TOKEN={}", kToken),
                  MPI_CHECK_PATH};
  options.unset_env = kForeignRankVariables;
  options.timeout = kRunTimeout;
  expect_all_checked(run_command(options));
}

TEST(MpiBackend, EveryOpUnderMyriadRunWithTheMpiEngine) {
  CommandOptions options;
  options.argv = {MYRIAD_CLI_PATH, "run", "--engine", "mpi", "-np", std::to_string(kRanks), MPI_CHECK_PATH};
  options.unset_env = kForeignRankVariables;
  options.unset_env.push_back("MYRIAD_STORE");
  options.unset_env.push_back("MYRIAD_TOKEN");
  options.timeout = kRunTimeout;
  expect_all_checked(run_command(options));
}

}  // namespace
}  // namespace myriad::test
