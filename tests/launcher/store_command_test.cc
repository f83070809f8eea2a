// `myriad store`: a standalone store that clients with the token can use,
// printing its address, until SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include "runtime/error.h"
#include "runtime/tcp_store.h"
#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

constexpr std::chrono::milliseconds kStartTimeout{20'000};

std::string store_address(const std::string& out) {
  for (const std::string& line : lines_of(out)) {
    if (line.starts_with("MYRIAD_STORE=")) return line.substr(std::string("MYRIAD_STORE=").size());
  }
  return "";
}

TEST(StoreCommand, ServesClientsWithTheTokenUntilSigterm) {
  std::unique_ptr<RunningCommand> store =
      start_myriad({"store", "--port", "0", "--host", "127.0.0.1", "--token", "job-secret"});
  ASSERT_TRUE(wait_until([&] { return !store_address(store->out_so_far()).empty(); }, kStartTimeout))
      << store->out_so_far();
  HostPort address = parse_host_port(store_address(store->out_so_far()), "MYRIAD_STORE");

  TcpStore client(TcpStoreOptions{.host = address.host, .port = address.port, .token = "job-secret"});
  client.set("key", "value");
  EXPECT_EQ(client.get("key", std::chrono::milliseconds(5'000)), "value");
  EXPECT_EQ(client.add("counter", 2), 2);

  TcpStore intruder(TcpStoreOptions{.host = address.host,
                                    .port = address.port,
                                    .token = "wrong",
                                    .timeout = std::chrono::milliseconds(5'000),
                                    .connect_timeout = std::chrono::milliseconds(5'000)});
  EXPECT_THROW(intruder.set("key", "stolen"), Error);

  store->send_signal(SIGTERM);
  CommandResult result = store->wait();
  EXPECT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_EQ(result.out.find("MYRIAD_TOKEN="), std::string::npos) << "a token the user gave is not echoed";
}

TEST(StoreCommand, PortIsRequired) {
  CommandResult result = run_myriad({"store"});
  EXPECT_EQ(result.shell_code(), 2) << result.describe();
  EXPECT_NE(result.err.find("--port"), std::string::npos) << result.describe();
}

}  // namespace
}  // namespace myriad::test
