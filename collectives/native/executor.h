// Executor: runs one rank's Schedule over real transports, and owns the one
// loop by which the native backend waits on its transports.
//
// Rounds run in order. In a round, local copies and reductions run first,
// then every send and receive is posted at once and driven to completion.
// Received bytes are consumed as they arrive: a RecvReduce reduces straight
// out of the transport's buffer into its destination.
//
// Waiting (wait(), for a round, the start-of-op handshake and batches of
// point-to-point operations alike): progress passes over every transport;
// while nothing moves, the loop polls for a short while, then sleeps in the
// wait_for_activity() of the transports it still waits on, so a rank
// waiting on a slow peer does not burn a core. On a progress thread it
// polls only once a caller waits for the result (WaitTarget::waited()):
// until then the caller is computing, on the cores polling would take.
//
// Every message of one operation carries the operation's tag; a peer that
// sends another tag is out of step and the transport fails. A deadline
// bounds the whole schedule: when it passes, run() throws Error(Timeout)
// naming the operation and the peers still owed a message. A transport's
// failure propagates out of run(), complete() and wait() unchanged; the
// executor keeps no state across calls that a failure could leave behind.
//
// Thread-safety: one executor per communicator, used by its progress thread
// (or the caller thread it lends an operation to, never both at once).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "collectives/native/schedule.h"
#include "collectives/native/transport.h"
#include "collectives/work.h"
#include "kernels/reduce.h"

namespace myriad {

struct ExecutorBuffers {
  void* input = nullptr;
  void* output = nullptr;
  void* scratch = nullptr;
};

struct ExecutorOp {
  uint64_t tag = 0;
  size_t element_bytes = 1;
  kernels::ReduceFn reduce = nullptr;  // null for operations without a reduction
  std::chrono::steady_clock::time_point deadline;
  // "allreduce(f32, 1024, sum) #17", for error messages only: built when
  // needed, as formatting it for every operation costs a small one's time.
  std::function<std::string()> describe;
  std::string what() const { return describe ? describe() : std::string("operation"); }
  // Called, from the wait loop, each time the executor finds the operation
  // still waiting on peers once `check_in_at` has passed (the backend
  // records that this rank reached the operation, for its timeout error).
  std::chrono::steady_clock::time_point check_in_at = std::chrono::steady_clock::time_point::max();
  std::function<void()> check_in;
  // The operation's Work, when it has one: once a caller waits on it, the
  // wait loop polls on the progress thread too (see Executor::wait()).
  const Work* work = nullptr;
};

// What the executor's wait loop drives to completion: a round of requests,
// a batch of point-to-point operations that grows while it runs.
class WaitTarget {
 public:
  struct Pass {
    bool done = false;   // nothing is left to wait for: wait() returns
    bool moved = false;  // the target made progress of its own (posted, claimed)
  };
  virtual ~WaitTarget() = default;
  // After each progress pass over the transports: takes in what completed
  // and posts what is new.
  virtual Pass after_pass() = 0;
  // Called once nothing has moved for the polling time, before a sleep:
  // throws on a passed deadline; else adds to `peers` the peers it still
  // waits on and returns the latest time the sleep may last until.
  virtual std::chrono::steady_clock::time_point idle(std::chrono::steady_clock::time_point now,
                                                     std::vector<int>& peers) = 0;
  // Whether a caller blocks waiting for the target's result (its Work's
  // wait()): the progress thread then polls before it sleeps, as a caller's
  // own thread does.
  virtual bool waited() const = 0;
};

// How long the executor polls its transports before it sleeps in them: a
// peer that is mid-operation answers within a slice's transfer time (64 KiB
// at a few GB/s is ~15-30 us); past that, polling only takes the core from
// a peer that may need it.
inline constexpr std::chrono::nanoseconds kExecutorSpin{50'000};
// On a host with more ranks than cores: poll, yielding the core between
// polls, this long. A futex sleep and wake-up per message costs tens of
// microseconds there; yielding lets the peer run at once (4 ranks on 2
// cores, 4 KiB all-reduce: docs/BENCHMARKS.md).
inline constexpr std::chrono::nanoseconds kOversubscribedSpin{1'000'000};

class Executor {
 public:
  // transport_of[peer] is the transport that reaches peer (null for self).
  // While nothing moves, the executor polls for `spin`, then sleeps in the
  // transports. With `yield`, it gives up the core between polls (for hosts
  // with more ranks than cores, where the peer it waits for may be waiting
  // for that very core).
  Executor(int rank, std::vector<Transport*> transport_of, std::chrono::nanoseconds spin = kExecutorSpin,
           bool yield = false);

  void run(const Schedule& schedule, const ExecutorBuffers& buffers, const ExecutorOp& op);

  // Drives posted requests until every one is complete or the deadline passes.
  void complete(std::vector<SendRequest>& sends, std::vector<RecvRequest>& recvs, const ExecutorOp& op);

  // For callers that post requests over time (batched point-to-point
  // operations, from their WaitTarget): post one request to its peer's
  // transport, look at a peer's next unclaimed message (Transport::probe).
  void post(SendRequest* request);
  void post(RecvRequest* request);
  std::optional<MessageHeader> probe(int peer);
  bool finished(int peer);

  // The wait loop (see the top of this file): returns once `target` is
  // done; throws what the transports or the target throw.
  void wait(WaitTarget& target);

  const std::vector<Transport*>& transports() const { return transports_; }

 private:
  uint8_t* resolve(const ExecutorBuffers& buffers, const Span& span) const;
  void add_waiting(Transport* transport);

  int rank_;
  std::chrono::nanoseconds spin_;
  bool yield_;
  std::vector<Transport*> transport_of_;
  std::vector<Transport*> transports_;  // distinct transports in use
  // Reused across rounds so that steady-state execution allocates nothing.
  std::vector<SendRequest> sends_;
  std::vector<RecvRequest> recvs_;
  std::vector<int> waiting_peers_;
  std::vector<Transport*> waiting_;
  std::vector<std::vector<uint8_t>> partial_;  // bytes of an element split across pieces, per receive
};

}  // namespace myriad
