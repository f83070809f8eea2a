// ProcessWorkers: the elastic agent's workers as real processes (the
// launcher's implementation of elastic::WorkerGroup, elastic/workers.h).
//
// Each round's workers are spawned in their own process groups with the
// round's environment (agent_workers.h), or forked from the node's
// --preload fork server once it is ready (zygote.h); one Supervisor per
// round watches them, forwards their output and stops them (SIGTERM to each
// group, SIGKILL after the grace period, abandoned and reported if even that
// does not end them). A failed worker is described with its exit, stderr
// tail and error file (describe_worker_failure). Between rounds, what a
// forked rank left behind (re-parented to the agent, a child subreaper) is
// killed and reaped.
//
// Ownership: the options and files are borrowed and must outlive the
// object; the fork server is owned (stopped when the object is destroyed).
// Threading: the agent's main thread only, after Supervisor::block_signals().
#pragma once

#include <memory>
#include <string>

#include "elastic/workers.h"
#include "launcher/agent.h"
#include "launcher/agent_workers.h"
#include "launcher/zygote.h"

namespace myriad::launcher {

class ProcessWorkers : public elastic::WorkerGroup {
 public:
  // Starts the fork server when options.preload names modules and the program suits it (else says why
  // it is ignored). `name` prefixes messages ("myriad agent node-0").
  ProcessWorkers(const AgentOptions& options, const WorkerFiles& files, std::string name);

  // Waits for the fork server's imports (at most kZygoteImportTimeout): a rank exec'd meanwhile would
  // import the same modules again, no sooner.
  void prepare(const std::function<void()>& keep_alive) override;
  elastic::WorkersEnd run(const elastic::WorkerRound& round, const elastic::WorkerWatch& watch) override;

 private:
  // With a fork server the agent is a child subreaper: what a rank left behind is re-parented to it.
  // Reaps those (not the fork server, which Zygote reaps).
  void reap_orphans();

  const AgentOptions& options_;
  const WorkerFiles& files_;
  std::string name_;
  std::unique_ptr<Zygote> zygote_;  // --preload: forks the ranks once it has imported
  bool zygote_ready_ = false;       // as of the latest prepare()
};

}  // namespace myriad::launcher
