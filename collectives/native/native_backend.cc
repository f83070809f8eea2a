#include "collectives/native/native_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "collectives/native/collective_call.h"
#include "collectives/native/communicator_failure.h"
#include "collectives/native/endpoint_exchange.h"
#include "collectives/native/executor.h"
#include "collectives/native/late_ranks.h"
#include "collectives/native/op_handshake.h"
#include "collectives/native/point_to_point.h"
#include "collectives/native/progress_thread.h"
#include "collectives/native/schedule_cache.h"
#include "collectives/validate.h"
#include "collectives/work_control.h"
#include "kernels/reduce.h"

namespace myriad {
namespace {

// Ties the native engine's parts together: the transports (endpoint
// exchange), the executor, the collectives (handshake, schedule cache, run)
// and the point-to-point batches, all on one progress thread, with one
// sticky failure (native_backend.h).
class NativeBackend : public Backend {
 public:
  explicit NativeBackend(const BackendContext& context);
  ~NativeBackend() override;

  std::string_view name() const override { return "native"; }

  WorkPtr allreduce(TensorView input, TensorView output, const AllreduceOptions& options) override {
    return submit(calls_.allreduce(input, output, options), options.timeout);
  }
  WorkPtr reduce(TensorView input, TensorView output, const ReduceOptions& options) override {
    return submit(calls_.reduce(input, output, options), options.timeout);
  }
  WorkPtr broadcast(TensorView buffer, const RootOptions& options) override {
    return submit(calls_.broadcast(buffer, options), options.timeout);
  }
  WorkPtr allgather(TensorView input, TensorView output, const CollectiveOptions& options) override {
    return submit(calls_.allgather(input, output, options), options.timeout);
  }
  WorkPtr allgatherv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                     const CollectiveOptions& options) override {
    return submit(calls_.allgatherv(input, output, counts, options), options.timeout);
  }
  WorkPtr reduce_scatter(TensorView input, TensorView output, const ReduceScatterOptions& options) override {
    return submit(calls_.reduce_scatter(input, output, options), options.timeout);
  }
  WorkPtr reduce_scatterv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                          const ReduceScatterOptions& options) override {
    return submit(calls_.reduce_scatterv(input, output, counts, options), options.timeout);
  }
  WorkPtr alltoall(TensorView input, TensorView output, const CollectiveOptions& options) override {
    return submit(calls_.alltoall(input, output, options), options.timeout);
  }
  WorkPtr alltoallv(TensorView input, TensorView output, const std::vector<uint64_t>& send_counts,
                    const std::vector<uint64_t>& recv_counts, const CollectiveOptions& options) override {
    return submit(calls_.alltoallv(input, output, send_counts, recv_counts, options), options.timeout);
  }
  WorkPtr gather(TensorView input, TensorView output, const RootOptions& options) override {
    return submit(calls_.gather(input, output, options), options.timeout);
  }
  WorkPtr scatter(TensorView input, TensorView output, const RootOptions& options) override {
    return submit(calls_.scatter(input, output, options), options.timeout);
  }
  WorkPtr barrier(const CollectiveOptions& options) override {
    return submit(calls_.barrier(options), options.timeout);
  }
  WorkPtr send(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options) override {
    return submit_p2p(OpKind::Send, buffer, peer, tag, options.timeout);
  }
  WorkPtr recv(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options) override {
    return submit_p2p(OpKind::Recv, buffer, peer, tag, options.timeout);
  }
  WorkPtr recv_any(TensorView buffer, uint64_t tag, const CollectiveOptions& options) override {
    return submit_p2p(OpKind::Recv, buffer, -1, tag, options.timeout);
  }
  void abort(const Error& reason) override;

 private:
  std::chrono::milliseconds timeout_of(std::chrono::milliseconds requested) const {
    return requested.count() > 0 ? requested : context_.timeout;
  }
  WorkPtr submit(CollectiveCall call, std::chrono::milliseconds requested_timeout);
  WorkPtr submit_p2p(OpKind kind, TensorView buffer, int peer, uint64_t tag,
                     std::chrono::milliseconds requested_timeout);
  // Runs `call` on the progress thread (or the caller's thread it is lent
  // to) unless the communicator has failed; completes or fails `work`, once.
  void run_guarded(const WorkPtr& work, CollectiveCall& call, std::chrono::milliseconds timeout);
  void run_collective(const Work& work, CollectiveCall& call, std::chrono::milliseconds timeout);
  void run_schedule(CollectiveCall& call, const ExecutorOp& op);

  BackendContext context_;
  // Before the transports: a bad MYRIAD_ALGO or tuning file fails the
  // construction before this rank connects to anyone.
  ScheduleCache schedules_;
  Topology topology_;
  NativeLinks links_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<CommunicatorFailure> failure_;
  CollectiveCalls calls_;
  uint64_t next_seq_ = 0;         // caller side, under the Communicator's lock
  std::vector<uint8_t> scratch_;  // persistent: no allocation per operation
  std::vector<uint8_t> stand_in_;
  std::shared_ptr<ProgressThread> thread_;  // stopped first by the destructor
  std::unique_ptr<PointToPoint> p2p_;
};

std::vector<Transport*> transports_of(const NativeLinks& links) {
  std::vector<Transport*> transports;
  if (links.shm) transports.push_back(links.shm.get());
  if (links.tcp) transports.push_back(links.tcp.get());
  return transports;
}

NativeBackend::NativeBackend(const BackendContext& context)
    : context_(context),
      topology_(communicator_topology(context_)),
      links_(connect_transports(context_, topology_)),
      executor_(std::make_unique<Executor>(context_.rank, links_.transport_of, links_.spin, links_.yield)),
      failure_(std::make_unique<CommunicatorFailure>(context_.comm_id, transports_of(links_))),
      calls_(context_.rank, context_.size(), &topology_),
      thread_(std::make_shared<ProgressThread>(fmt::format("myriad-{}", context_.comm_id))),
      p2p_(std::make_unique<PointToPoint>(context_.rank, context_.size(), *executor_, *thread_, *failure_)) {}

NativeBackend::~NativeBackend() {
  // Runs what is queued and joins. A Work's runner may still hold the
  // thread object, but finds nothing left to run.
  thread_->stop();
  if (links_.shm) links_.shm->close();
  if (links_.tcp) links_.tcp->close();
}

WorkPtr NativeBackend::submit(CollectiveCall call, std::chrono::milliseconds requested_timeout) {
  p2p_->close_batch();  // later point-to-point operations run after this collective
  const std::chrono::milliseconds timeout = timeout_of(requested_timeout);
  call.descriptor.seq = next_seq_++;
  auto work = std::make_shared<Work>(call.descriptor);
  uint64_t ticket = thread_->submit(
      [this, work, call = std::move(call), timeout]() mutable { run_guarded(work, call, timeout); });
  // Whoever waits on a Work whose operation has not started runs it on its
  // own thread: two thread hand-offs fewer (docs/collectives.md, Progress).
  WorkControl::set_runner(*work, [weak = std::weak_ptr<ProgressThread>(thread_), ticket] {
    auto thread = weak.lock();
    return thread && thread->run_if_next(ticket);
  });
  return work;
}

WorkPtr NativeBackend::submit_p2p(OpKind kind, TensorView buffer, int peer, uint64_t tag,
                                  std::chrono::milliseconds requested_timeout) {
  validate::on_cpu(peer < 0 ? "recv_any" : op_kind_name(kind), "native", "buffer", buffer);
  return p2p_->submit(kind, buffer, peer, tag, timeout_of(requested_timeout));
}

void NativeBackend::run_guarded(const WorkPtr& work, CollectiveCall& call,
                                std::chrono::milliseconds timeout) {
  if (failure_->failed()) {
    WorkControl::fail(*work, failure_->error());
    return;
  }
  try {
    run_collective(*work, call, timeout);
  } catch (...) {
    WorkControl::fail(*work, failure_->record(std::current_exception()));
    return;
  }
  WorkControl::complete(*work);
}

void NativeBackend::abort(const Error& reason) {
  if (!failure_->abort_transports(reason)) return;
  // An operation blocked in the executor fails through the transports; the
  // queued ones fail through the sticky error, recorded in call order.
  thread_->submit([this, reason] { failure_->adopt(std::make_exception_ptr(reason)); });
}

void NativeBackend::run_collective(const Work& work, CollectiveCall& c, std::chrono::milliseconds timeout) {
  LateRanks late(context_, c.descriptor.seq);
  ExecutorOp op;
  op.work = &work;
  op.tag = c.descriptor.seq;
  op.element_bytes = c.args.element_bytes;
  op.deadline = std::chrono::steady_clock::now() + timeout;
  op.check_in_at = LateRanks::check_in_time(op.deadline, timeout);
  op.check_in = [&late] { late.check_in(); };
  op.describe = [&c] { return fmt::format("{} #{}", c.descriptor.to_string(), c.descriptor.seq); };
  op.reduce = reduction_of(c.descriptor);
  try {
    run_schedule(c, op);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::Timeout) throw;
    raise(ErrorCode::Timeout, "{}; rank(s) {} did not reach it", error.message(), late.late());
  }
}

void NativeBackend::run_schedule(CollectiveCall& c, const ExecutorOp& op) {
  exchange_op_descriptor(*executor_, context_.rank, context_.size(), c.descriptor, op);
  const Schedule& schedule = schedules_.get(c.args, c.algorithm, op);
  if (scratch_.size() < schedule.scratch_bytes) scratch_.resize(schedule.scratch_bytes);
  c.buffers.scratch = scratch_.data();
  if (c.stand_in_bytes > 0) {
    if (stand_in_.size() < c.stand_in_bytes) stand_in_.resize(c.stand_in_bytes);
    (c.stand_in == BufferId::Output ? c.buffers.output : c.buffers.input) = stand_in_.data();
  }
  executor_->run(schedule, c.buffers, op);
  if (c.scale_count > 0) {
    kernels::scale(static_cast<kernels::ElementType>(c.descriptor.dtype), c.buffers.output, c.scale_count,
                   1.0 / context_.size());
  }
}

}  // namespace

std::unique_ptr<Backend> make_native_backend(const BackendContext& context) {
  return std::make_unique<NativeBackend>(context);
}

}  // namespace myriad
