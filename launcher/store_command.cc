// `myriad store`: a standalone rendezvous store, for jobs whose ranks are
// started by something other than `myriad run` (a batch system, by hand).
// Serves until SIGINT, SIGTERM or SIGHUP, then exits 0.
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <memory>

#include "launcher/commands.h"
#include "launcher/job_env.h"
#include "launcher/output_forwarder.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/tcp_store.h"

namespace myriad::launcher {
namespace {

struct StoreOptions {
  std::string host = "0.0.0.0";
  int port = 0;
  std::string token;
};

std::string this_host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) raise_errno(errno, "gethostname");
  return name;
}

int serve(const StoreOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    raise(ErrorCode::InvalidArgument, "--port {} is out of range: accepted values are 0 to 65535",
          options.port);
  }
  std::string token = options.token;
  bool generated = false;
  if (token.empty()) token = config::get_string(Env::process(), "MYRIAD_TOKEN").value_or("");
  if (token.empty()) {
    token = make_token();
    generated = true;
  }
  sigset_t stop_signals;
  ::sigemptyset(&stop_signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaddset(&stop_signals, sig);
  // Blocked before the server's thread starts, so that only sigwait below receives them.
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  TcpStoreServer server(TcpStoreServerOptions{
      .host = options.host, .port = static_cast<uint16_t>(options.port), .token = token});
  // A wildcard bind is reached through the host's name.
  std::string reach = options.host == "0.0.0.0" || options.host == "::"
                          ? HostPort{this_host_name(), server.port()}.to_string()
                          : server.address();
  std::string lines = fmt::format("myriad store: serving on {}\nMYRIAD_STORE={}\n", server.address(), reach);
  // Print a generated token so that ranks can be given it; a token the user supplied is not echoed.
  if (generated) lines += fmt::format("MYRIAD_TOKEN={}\n", token);
  write_all(STDOUT_FILENO, lines);

  int sig = 0;
  while (::sigwait(&stop_signals, &sig) != 0) {
  }
  server.stop();
  return 0;
}

}  // namespace

CommandMain add_store_command(CLI::App& app) {
  auto options = std::make_shared<StoreOptions>();
  CLI::App* store = app.add_subcommand("store", "Run a standalone rendezvous store until SIGINT/SIGTERM");
  store->add_option("--port,-p", options->port, "Port to listen on (0: a free port, printed)")->required();
  store->add_option("--host", options->host, "Address to bind")->default_str("0.0.0.0");
  store->add_option("--token", options->token,
                    "Token every client must present (default: MYRIAD_TOKEN, else a generated one, printed)");
  return [options]() { return serve(*options); };
}

}  // namespace myriad::launcher
