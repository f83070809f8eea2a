#include "launcher/agent.h"

#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "elastic/workers.h"
#include "launcher/agent_workers.h"
#include "launcher/output_forwarder.h"
#include "launcher/process_workers.h"
#include "launcher/supervisor.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/etcd_store.h"
#include "runtime/store_address.h"
#include "runtime/tcp_store.h"

namespace myriad::launcher {
namespace {

namespace fs = std::filesystem;

void remove_worker_files(const WorkerFiles& files) {
  std::error_code ec;
  if (!files.snapshot_dir.empty()) fs::remove_all(files.snapshot_dir, ec);
  if (!files.heartbeat.empty()) fs::remove(files.heartbeat, ec);
  if (!files.error_dir.empty()) fs::remove_all(files.error_dir, ec);
}

// Removes the node's files when the agent ends, however it ends.
class WorkerFilesGuard {
 public:
  explicit WorkerFilesGuard(const WorkerFiles& files) : files_(files) {}
  ~WorkerFilesGuard() { remove_worker_files(files_); }
  WorkerFilesGuard(const WorkerFilesGuard&) = delete;
  WorkerFilesGuard& operator=(const WorkerFilesGuard&) = delete;

 private:
  const WorkerFiles& files_;
};

// How often the idle watch looks at the pending signals.
constexpr std::chrono::milliseconds kIdleSignalPoll{100};

// The agent's stop signals are blocked in every thread (the supervisor
// reads them from a signalfd while a round's workers run). Between rounds,
// waiting in the rendezvous or for the fork server, nothing would read
// them, and the agent would ignore SIGTERM until the next round. This
// watch forwards the group's rounds and, while none runs, looks at the
// pending signals: on SIGINT, SIGTERM or SIGHUP it calls `stop`, which
// ends the process. Within a round the signal is the supervisor's.
class IdleSignalWatch final : public elastic::WorkerGroup {
 public:
  IdleSignalWatch(elastic::WorkerGroup& workers, std::function<void(int)> stop)
      : workers_(workers), stop_(std::move(stop)), thread_([this] { loop(); }) {}
  ~IdleSignalWatch() override {
    {
      std::lock_guard lock(mutex_);
      ending_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  IdleSignalWatch(const IdleSignalWatch&) = delete;
  IdleSignalWatch& operator=(const IdleSignalWatch&) = delete;

  void prepare(const std::function<void()>& keep_alive) override { workers_.prepare(keep_alive); }

  elastic::WorkersEnd run(const elastic::WorkerRound& round, const elastic::WorkerWatch& watch) override {
    {
      // Taken while the watch may be stopping the process: then run() never starts.
      std::lock_guard lock(mutex_);
      in_round_ = true;
    }
    struct Leave {
      IdleSignalWatch& watch;
      ~Leave() {
        std::lock_guard lock(watch.mutex_);
        watch.in_round_ = false;
      }
    } leave{*this};
    return workers_.run(round, watch);
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, kIdleSignalPoll, [&] { return ending_; })) {
      if (in_round_) continue;
      sigset_t pending;
      if (::sigpending(&pending) != 0) continue;
      for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
        if (::sigismember(&pending, sig) == 1) stop_(sig);  // does not return
      }
    }
  }

  elastic::WorkerGroup& workers_;
  std::function<void(int)> stop_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool in_round_ = false;
  bool ending_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

int run_agent(AgentOptions options) {
  Supervisor::block_signals();
  elastic::AgentOptions& agent = options.elastic;
  if (agent.rdzv_id.empty()) agent.rdzv_id = options.run_id;
  if (agent.events_path.empty() && !options.log_dir.empty())
    agent.events_path = options.log_dir + "/events.jsonl";
  agent.store_address = options.store;
  agent.store_lost_after = config::read_duration(Env::process(), "MYRIAD_STORE_LOST_AFTER");
  agent.master_host = options.local_addr.empty() ? master_host(store_host(options.store, "the job's store"))
                                                 : options.local_addr;
  // etcd holds the agents' rounds; each round's ranks get a TCP store from the agent of group rank 0.
  agent.round_store = is_etcd_address(options.store);
  const std::string name = fmt::format("myriad agent {}", agent.node_id);

  std::shared_ptr<Store> store = connect_store(
      options.store,
      StoreClientOptions{
          .token = options.token, .timeout = kStoreDefaultTimeout, .connect_timeout = agent.store_lost_after},
      "the job's store");
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
  // A signal between rounds ends the agent as one in a round would (128 +
  // the signal); the fork server sees its socket close and exits too.
  IdleSignalWatch watched(workers, [&files, &name](int sig) {
    write_all(STDERR_FILENO,
              fmt::format("{}: stopped by SIG{} while no workers ran\n", name, ::sigabbrev_np(sig)));
    remove_worker_files(files);
    ::_exit(128 + sig);
  });
  return elastic::run_agent(agent, store, watched);
}

}  // namespace myriad::launcher
