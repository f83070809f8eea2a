// The end of a local job: its exit code and what `myriad run` prints last.
//
// report_job() reads the job's outcome that the agents published in the
// store (elastic/rendezvous.h) and waits, bounded, for agents this launcher
// did not start (spares started by hand) to see it before the store goes
// with this process; it reads the goodput ledger the agents wrote
// (elastic/ledger.h), then prints to stderr:
//   - when the job failed, the root cause — the earliest failure: its rank,
//     pid, node and exit code or signal, why the job was not restarted
//     again, and the rank's error (the traceback from its error file, else
//     the last lines of its stderr);
//   - for an elastic job (--nnodes, --max-restarts) or one that restarted,
//     the goodput summary: wall time, productive time, time lost per cause,
//     restarts, effective training time ratio.
// The exit code: 128+S when myriad run got signal S, 124 after --timeout,
// else the root-cause rank's code, else an agent's own failure, else 0.
// Never throws: a store that cannot be read leaves the agents' codes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "launcher/job_env.h"
#include "launcher/run_plan.h"
#include "launcher/supervisor.h"

namespace myriad::launcher {

struct JobEnd {
  const RunPlan* plan = nullptr;
  const JobEnv* job = nullptr;
  std::string events_path;
  int supervisor_code = 0;  // what the agents' supervisor returned
  int received_signal = 0;
  std::optional<ChildExit> failed_agent;
  // Node ids of the agents this launcher started and saw exit: the store
  // waits only for the others (agents started by hand) to see the end.
  std::vector<std::string> own_nodes;
};

int report_job(const JobEnd& end) noexcept;

}  // namespace myriad::launcher
