// PointToPoint: the send(), recv() and recv_any() operations of one native
// communicator, run in batches on its progress thread.
//
// Operations submitted back to back run together, as if posted at once: a
// rank may send before it receives in a ring of ranks that all do the same,
// whatever the message size. Operations submitted while a batch runs join
// it, until close_batch() (a collective was submitted: call order) or the
// batch has nothing left to do. An any-source receive takes, after each
// progress pass, the first peer (round robin from the last one picked)
// whose next unclaimed message carries its tag, and then receives from it
// as recv() would; a message with another tag is left for its own receive.
//
// A batch waits through the executor's wait loop (executor.h: one waiting
// policy for the whole backend), sleeping at most kBatchJoinLatency at a
// time: that bounds how late an operation joining the batch starts, and how
// late an any-source receive sees a message arrive over shared memory,
// whose waiter does not wake for a message nobody has posted a receive for.
// Messages carry kPointToPointBit | the caller's tag (wire_tags.h). Each
// operation's timeout counts from when its batch posts it.
//
// Failure: the first error in a batch (a peer's death, an operation's
// timeout naming it, its peer and its tag, an abort) is recorded in the
// communicator's CommunicatorFailure; every operation of the batch not yet
// complete, running or about to join, then fails exactly once with that
// error, and every later batch fails at once.
//
// Thread-safety: submit() and close_batch() from the caller's thread (the
// Communicator serializes them); batches run on the progress thread.
// Ownership: borrows the executor, the progress thread and the failure,
// which must outlive this object; the owner stops the progress thread (so no
// batch is queued or running) before destroying it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>

#include "collectives/native/communicator_failure.h"
#include "collectives/native/executor.h"
#include "collectives/native/progress_thread.h"
#include "collectives/work.h"

namespace myriad {

inline constexpr std::chrono::microseconds kBatchJoinLatency{1000};

class PointToPoint {
 public:
  PointToPoint(int rank, int size, Executor& executor, ProgressThread& thread, CommunicatorFailure& failure)
      : rank_(rank), size_(size), executor_(executor), thread_(thread), failure_(failure) {}

  // Queues a Send or Recv of `buffer` with `peer` (-1: a receive from any
  // peer) into the open batch, opening one if there is none.
  WorkPtr submit(OpKind kind, TensorView buffer, int peer, uint64_t tag, std::chrono::milliseconds timeout);
  // Later operations go into a new batch, which runs after what is queued
  // now on the progress thread.
  void close_batch();

 private:
  struct Operation {
    WorkPtr work;
    OpKind kind;
    TensorView buffer;
    int peer;  // -1: any source, until a peer's message is claimed
    uint64_t tag;
    std::chrono::milliseconds timeout;
    bool any_source = false;
    std::chrono::steady_clock::time_point deadline{};
    SendRequest* send = nullptr;
    RecvRequest* recv = nullptr;
    bool done = false;  // its Work is complete or failed
  };
  struct Batch {
    std::deque<Operation> waiting;  // under mutex_: submitted, not yet taken by the batch
  };
  class BatchWait;

  void run(const std::shared_ptr<Batch>& batch);
  // Moves what waits to join `batch` into `running`; returns whether there was any.
  bool take_new(Batch& batch, std::deque<Operation>& running);
  void close_if_open(const std::shared_ptr<Batch>& batch);
  // Closes `batch`, then fails each of its operations not yet done, once.
  void fail_pending(const std::shared_ptr<Batch>& batch, std::deque<Operation>& running,
                    const std::exception_ptr& error);
  // Completes (no error) or fails the Work of `op`; an operation ends once.
  static void finish(Operation& op, const std::exception_ptr& error);
  // The sender for an any-source receive with `wire_tag`, or -1 while
  // none has such a message first in line.
  int claim_any_source(uint64_t wire_tag);

  const int rank_;
  const int size_;
  Executor& executor_;
  ProgressThread& thread_;
  CommunicatorFailure& failure_;
  std::mutex mutex_;
  std::shared_ptr<Batch> open_;  // under mutex_: accepting operations
  int any_source_next_ = 0;      // progress thread only: where claim_any_source() starts
};

}  // namespace myriad
