// The `myriad` command maps MPI, NCCL, the CUDA runtime and cuBLAS only when
// a command uses them (collectives/plugin.h): `myriad --help`, a running
// `myriad store` and an idle `myriad agent` map none of them, and
// `myriad bench gemm` loads its CUDA plugin when it looks for GPUs.
//
// A running process is checked through /proc/<pid>/maps; one that exits at
// once through the dynamic loader's own account (LD_DEBUG=files lists every
// object it loads, dlopen'd ones included).
#include <gtest/gtest.h>
#include <signal.h>

#include "myriad_config.h"
#include "runtime/tcp_store.h"
#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

constexpr std::chrono::milliseconds kStartTimeout{20'000};
const std::vector<std::string> kHeavyLibraries = {
    "libnccl",     "libcublas",   "libcudart",          "libmpi",
    "libopen-pal", "libopen-rte", "libmyriad_backend_", "libmyriad_bench_cuda"};

std::string maps_of(pid_t pid) {
  return read_text("/proc/" + std::to_string(pid) + "/maps");
}

// The heavy libraries that `text` (a maps file or a loader trace) names.
std::vector<std::string> heavy_in(const std::string& text) {
  std::vector<std::string> found;
  for (const std::string& library : kHeavyLibraries) {
    if (text.find(library) != std::string::npos) found.push_back(library);
  }
  return found;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::string store_address(const std::string& out) {
  for (const std::string& line : lines_of(out)) {
    if (line.starts_with("MYRIAD_STORE=")) return line.substr(std::string("MYRIAD_STORE=").size());
  }
  return "";
}

TEST(HeavyLibraries, HelpLoadsNone) {
  CommandResult result = run_myriad({"--help"}, {{"LD_DEBUG", "files"}});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  // The trace is real: it names the libraries the command does load.
  ASSERT_NE(result.err.find("libmyriad_collectives"), std::string::npos) << result.err.substr(0, 2000);
  EXPECT_TRUE(heavy_in(result.err).empty()) << "loaded: " << joined(heavy_in(result.err));
}

TEST(HeavyLibraries, ARunningStoreAndAnIdleAgentMapNone) {
  std::unique_ptr<RunningCommand> store =
      start_myriad({"store", "--port", "0", "--host", "127.0.0.1", "--token", "heavy-test"});
  ASSERT_TRUE(wait_until([&] { return !store_address(store->out_so_far()).empty(); }, kStartTimeout))
      << store->out_so_far();
  std::string store_maps = maps_of(store->pid());
  ASSERT_NE(store_maps.find("libmyriad_runtime"), std::string::npos) << "maps of the store were read";
  EXPECT_TRUE(heavy_in(store_maps).empty()) << "myriad store maps: " << joined(heavy_in(store_maps));

  // An agent of a two-node job with one node: it joins and waits, idle.
  HostPort address = parse_host_port(store_address(store->out_so_far()), "MYRIAD_STORE");
  TcpStore client(TcpStoreOptions{.host = address.host, .port = address.port, .token = "heavy-test"});
  int64_t keys_before = client.num_keys();
  std::unique_ptr<RunningCommand> agent = start_command(myriad_options(
      {"agent", "--rdzv-endpoint", address.to_string(), "--nnodes", "2", "--nproc-per-node", "1", "true"},
      {{"MYRIAD_TOKEN", "heavy-test"}}));
  // Its rendezvous keys in the store show it is past start-up, in its loop.
  ASSERT_TRUE(wait_until([&] { return client.num_keys() > keys_before; }, kStartTimeout))
      << agent->out_so_far();
  ASSERT_TRUE(process_alive(agent->pid()));
  std::string agent_maps = maps_of(agent->pid());
  ASSERT_NE(agent_maps.find("libmyriad_elastic"), std::string::npos) << "maps of the agent were read";
  EXPECT_TRUE(heavy_in(agent_maps).empty()) << "myriad agent maps: " << joined(heavy_in(agent_maps));

  // SIGKILL: the maps were the subject; how an idle agent stops on SIGTERM
  // is agent_signal_test's.
  agent->send_signal(SIGKILL);
  agent->wait();
  store->send_signal(SIGTERM);
  EXPECT_EQ(store->wait().shell_code(), 0);
}

TEST(HeavyLibraries, BenchGemmLoadsItsCudaPluginWhenItLooksForGpus) {
  if (!MYRIAD_HAVE_CUDA) GTEST_SKIP() << "built without CUDA: there is no bench CUDA plugin to load";
  CommandResult result =
      run_myriad({"bench", "gemm", "--sizes", "256", "-n", "1", "-w", "0"}, {{"LD_DEBUG", "files"}});
  ASSERT_EQ(result.shell_code(), 0) << result.describe().substr(0, 4000);
  EXPECT_NE(result.err.find("libmyriad_bench_cuda.so"), std::string::npos)
      << "the CUDA plugin was not loaded";
  EXPECT_NE(result.err.find("libcublas"), std::string::npos) << "cuBLAS came with it";
  EXPECT_EQ(result.err.find("libnccl"), std::string::npos) << "NCCL is the nccl backend's, not gemm's";
}

}  // namespace
}  // namespace myriad::test
