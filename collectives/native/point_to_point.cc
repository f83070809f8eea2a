#include "collectives/native/point_to_point.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "collectives/native/wire_tags.h"
#include "collectives/work_control.h"
#include "runtime/error.h"

namespace myriad {

// One batch as the executor's wait loop drives it: posts what joins, claims
// senders for any-source receives, completes what has arrived, and says
// what it waits on.
class PointToPoint::BatchWait final : public WaitTarget {
 public:
  BatchWait(PointToPoint& owner, const std::shared_ptr<Batch>& batch, std::deque<Operation>& running)
      : owner_(owner), batch_(batch), running_(running) {}

  Pass after_pass() override {
    Pass pass;
    owner_.take_new(*batch_, running_);
    for (; started_ < running_.size(); ++started_) {
      Operation& p = running_[started_];
      p.deadline = std::chrono::steady_clock::now() + p.timeout;
      pass.moved = true;           // posted: the next progress pass moves it
      if (p.any_source) continue;  // posted once a sender is claimed, below
      if (p.kind == OpKind::Send) {
        sends_.push_back(SendRequest{.peer = p.peer,
                                     .data = p.buffer.data,
                                     .bytes = p.buffer.bytes(),
                                     .tag = kPointToPointBit | p.tag});
        p.send = &sends_.back();
        owner_.executor_.post(p.send);
      } else {
        post_recv(p);
      }
    }
    // Any-source receives in call order, each after the progress pass that
    // read what has arrived. A claimed peer has a posted receive, so the
    // next one cannot claim its message again.
    for (size_t i = 0; i < started_; ++i) {
      Operation& p = running_[i];
      if (!p.any_source || p.recv != nullptr) continue;
      const int peer = owner_.claim_any_source(kPointToPointBit | p.tag);
      if (peer < 0) continue;
      p.peer = peer;
      post_recv(p);
      pass.moved = true;
    }
    bool all_done = true;
    for (Operation& p : running_) {
      if (p.done) continue;
      if ((p.send != nullptr && p.send->complete) || (p.recv != nullptr && p.recv->complete)) {
        finish(p, nullptr);
      } else {
        all_done = false;
      }
    }
    if (all_done) {
      std::lock_guard lock(owner_.mutex_);
      if (batch_->waiting.empty()) {
        if (owner_.open_ == batch_) owner_.open_.reset();
        pass.done = true;
      } else {
        pass.moved = true;  // joiners: the next pass takes them
      }
    }
    return pass;
  }

  std::chrono::steady_clock::time_point idle(std::chrono::steady_clock::time_point now,
                                             std::vector<int>& peers) override {
    auto wake = now + kBatchJoinLatency;
    for (const Operation& p : running_) {
      if (p.done) continue;
      const bool unclaimed = p.any_source && p.recv == nullptr;
      if (now >= p.deadline) {
        raise(ErrorCode::Timeout, "rank {}: {} of {} {} elements with {} (tag {}): Timed out after {} ms",
              owner_.rank_, p.any_source ? "recv_any" : op_kind_name(p.kind), p.buffer.count,
              dtype_name(p.buffer.dtype),
              unclaimed ? std::string("any rank") : fmt::format("rank {}", p.peer), p.tag, p.timeout.count());
      }
      wake = std::min(wake, p.deadline);
      if (unclaimed) {
        for (int r = 0; r < owner_.size_; ++r) {
          if (r != owner_.rank_) peers.push_back(r);
        }
      } else {
        peers.push_back(p.peer);
      }
    }
    return wake;
  }

  bool waited() const override {
    return std::any_of(running_.begin(), running_.end(),
                       [](const Operation& p) { return !p.done && WorkControl::waited(*p.work); });
  }

 private:
  void post_recv(Operation& p) {
    auto* dst = static_cast<uint8_t*>(p.buffer.data);
    recvs_.push_back(RecvRequest{.peer = p.peer,
                                 .bytes = p.buffer.bytes(),
                                 .tag = kPointToPointBit | p.tag,
                                 .consumer = [dst](uint64_t offset, const void* data, size_t bytes) {
                                   std::memcpy(dst + offset, data, bytes);
                                 }});
    p.recv = &recvs_.back();
    owner_.executor_.post(p.recv);
  }

  PointToPoint& owner_;
  const std::shared_ptr<Batch>& batch_;
  std::deque<Operation>& running_;
  size_t started_ = 0;             // operations of running_ posted (or, any-source, armed)
  std::deque<SendRequest> sends_;  // deques: posted requests must not move
  std::deque<RecvRequest> recvs_;
};

WorkPtr PointToPoint::submit(OpKind kind, TensorView buffer, int peer, uint64_t tag,
                             std::chrono::milliseconds timeout) {
  auto work = std::make_shared<Work>(
      OpDescriptor{.kind = kind, .dtype = buffer.dtype, .root = peer, .count = buffer.count, .seq = tag});
  std::lock_guard lock(mutex_);
  if (!open_) {
    open_ = std::make_shared<Batch>();
    thread_.submit([this, batch = open_] { run(batch); });
  }
  open_->waiting.push_back(Operation{work, kind, buffer, peer, tag, timeout, peer < 0});
  return work;
}

void PointToPoint::close_batch() {
  std::lock_guard lock(mutex_);
  open_.reset();
}

void PointToPoint::close_if_open(const std::shared_ptr<Batch>& batch) {
  std::lock_guard lock(mutex_);
  if (open_ == batch) open_.reset();
}

bool PointToPoint::take_new(Batch& batch, std::deque<Operation>& running) {
  std::lock_guard lock(mutex_);
  const bool any = !batch.waiting.empty();
  while (!batch.waiting.empty()) {
    running.push_back(std::move(batch.waiting.front()));
    batch.waiting.pop_front();
  }
  return any;
}

void PointToPoint::run(const std::shared_ptr<Batch>& batch) {
  std::deque<Operation> running;
  if (failure_.failed()) {
    fail_pending(batch, running, failure_.error());
    return;
  }
  // The wait (and with it the requests the transports point to) outlives
  // the catch below: recording the failure aborts the transports first.
  BatchWait wait(*this, batch, running);
  try {
    executor_.wait(wait);
  } catch (...) {
    fail_pending(batch, running, failure_.record(std::current_exception()));
  }
}

void PointToPoint::fail_pending(const std::shared_ptr<Batch>& batch, std::deque<Operation>& running,
                                const std::exception_ptr& error) {
  // Closed first: an operation submitted from a failing Work's callback
  // starts a new batch (which fails at once) instead of joining this one
  // after it has been failed.
  close_if_open(batch);
  take_new(*batch, running);
  for (Operation& p : running) {
    if (!p.done) finish(p, error);
  }
}

void PointToPoint::finish(Operation& op, const std::exception_ptr& error) {
  MYRIAD_CHECK(!op.done, "{} with peer {} (tag {}) finished twice", op_kind_name(op.kind), op.peer, op.tag);
  op.done = true;
  if (error) {
    WorkControl::fail(*op.work, error);
    return;
  }
  if (op.any_source) WorkControl::set_source_rank(*op.work, op.peer);
  WorkControl::complete(*op.work);
}

int PointToPoint::claim_any_source(uint64_t wire_tag) {
  int finished = 0;
  for (int i = 0; i < size_; ++i) {
    const int peer = (any_source_next_ + i) % size_;
    if (peer == rank_) continue;
    // A dead peer with nothing buffered throws here: an any-source receive
    // needs every live peer, as the first message might be any one's. A
    // peer that closed its communicator sends nothing more: it is skipped.
    std::optional<MessageHeader> next = executor_.probe(peer);
    if (!next) {
      if (executor_.finished(peer)) ++finished;
      continue;
    }
    if (next->tag != wire_tag) continue;  // another tag waits for its own receive
    any_source_next_ = (peer + 1) % size_;
    return peer;
  }
  if (finished == size_ - 1) {
    raise(ErrorCode::PeerFailure,
          "rank {}: recv_any (tag {}): every other rank has closed its communicator: nothing can arrive",
          rank_, wire_tag & ~kPointToPointBit);
  }
  return -1;
}

}  // namespace myriad
