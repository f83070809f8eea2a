#include "launcher/agent.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <system_error>

#include "launcher/agent_workers.h"
#include "launcher/output_forwarder.h"
#include "launcher/process_workers.h"
#include "launcher/supervisor.h"
#include "runtime/error.h"
#include "runtime/tcp_store.h"

namespace myriad::launcher {
namespace {

namespace fs = std::filesystem;

// Removes the node's files when the agent ends, however it ends.
class WorkerFilesGuard {
 public:
  explicit WorkerFilesGuard(const WorkerFiles& files) : files_(files) {}
  ~WorkerFilesGuard() {
    std::error_code ec;
    if (!files_.snapshot_dir.empty()) fs::remove_all(files_.snapshot_dir, ec);
    if (!files_.heartbeat.empty()) fs::remove(files_.heartbeat, ec);
    if (!files_.error_dir.empty()) fs::remove_all(files_.error_dir, ec);
  }
  WorkerFilesGuard(const WorkerFilesGuard&) = delete;
  WorkerFilesGuard& operator=(const WorkerFilesGuard&) = delete;

 private:
  const WorkerFiles& files_;
};

}  // namespace

int run_agent(const AgentOptions& given) {
  Supervisor::block_signals();
  AgentOptions options = given;
  elastic::AgentOptions& agent = options.elastic;
  if (agent.rdzv_id.empty()) agent.rdzv_id = options.run_id;
  if (agent.events_path.empty() && !options.log_dir.empty())
    agent.events_path = options.log_dir + "/events.jsonl";
  agent.store_address = options.store.to_string();
  agent.master_host = options.local_addr.empty() ? master_host(options.store.host) : options.local_addr;
  const std::string name = fmt::format("myriad agent {}", agent.node_id);

  auto store = std::make_shared<TcpStore>(TcpStoreOptions{.host = options.store.host,
                                                          .port = options.store.port,
                                                          .token = options.token,
                                                          .timeout = kStoreDefaultTimeout,
                                                          .connect_timeout = agent.store_lost_after});
  WorkerFiles files = make_worker_files(options.run_id, agent.node_id);
  WorkerFilesGuard remove_files(files);
  if (!options.redirects.empty() || !options.tee.empty()) {
    files.run_log_dir = make_run_log_dir(options.log_dir, agent.rdzv_id);
    if (options.log_dir.empty()) {
      write_all(STDERR_FILENO, fmt::format("{}: ranks' log files are in {}\n", name, files.run_log_dir));
    }
  }
  agent.heartbeat_file = files.heartbeat;
  agent.snapshot_dir = files.snapshot_dir;
  ProcessWorkers workers(options, files, name);
  return elastic::run_agent(agent, store, workers);
}

}  // namespace myriad::launcher
