#include "collectives/native/executor.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include <sched.h>

#include "collectives/native/progress_thread.h"
#include "collectives/work_control.h"
#include "runtime/error.h"

namespace myriad {
namespace {

// Longest single sleep while waiting: bounds how late a deadline is noticed.
constexpr std::chrono::microseconds kMaxSleep{2000};
// A round that waits on two transports (shm within the node, tcp across)
// sleeps in each in turn: first briefly, doubling while nothing comes, so
// that data arriving on the other one waits microseconds, not milliseconds.
constexpr std::chrono::microseconds kFirstSharedSleep{20};

}  // namespace

Executor::Executor(int rank, std::vector<Transport*> transport_of, std::chrono::nanoseconds spin, bool yield)
    : rank_(rank), spin_(spin), yield_(yield), transport_of_(std::move(transport_of)) {
  for (Transport* t : transport_of_) {
    if (t != nullptr && std::find(transports_.begin(), transports_.end(), t) == transports_.end()) {
      transports_.push_back(t);
    }
  }
}

void Executor::post(SendRequest* request) {
  transport_of_.at(request->peer)->post(request);
}

void Executor::post(RecvRequest* request) {
  transport_of_.at(request->peer)->post(request);
}

std::optional<MessageHeader> Executor::probe(int peer) {
  return transport_of_.at(peer)->probe(peer);
}

bool Executor::finished(int peer) {
  return transport_of_.at(peer)->finished(peer);
}

void Executor::add_waiting(Transport* transport) {
  if (std::find(waiting_.begin(), waiting_.end(), transport) == waiting_.end()) waiting_.push_back(transport);
}

uint8_t* Executor::resolve(const ExecutorBuffers& buffers, const Span& span) const {
  void* base = nullptr;
  switch (span.buffer) {
    case BufferId::Input: base = buffers.input; break;
    case BufferId::Output: base = buffers.output; break;
    case BufferId::Scratch: base = buffers.scratch; break;
  }
  if (span.bytes == 0) return static_cast<uint8_t*>(base);
  MYRIAD_CHECK(base != nullptr, "rank {}: schedule uses an unbound buffer {}", rank_,
               static_cast<int>(span.buffer));
  return static_cast<uint8_t*>(base) + span.offset;
}

void Executor::run(const Schedule& schedule, const ExecutorBuffers& buffers, const ExecutorOp& op) {
  const size_t elem = op.element_bytes;
  for (const Round& round : schedule.rounds) {
    sends_.clear();
    recvs_.clear();
    size_t reduce_recvs = 0;
    for (const Step& step : round.steps) {
      if (step.kind == StepKind::RecvReduce) ++reduce_recvs;
    }
    if (partial_.size() < reduce_recvs) partial_.resize(reduce_recvs);
    size_t partial_index = 0;

    for (const Step& step : round.steps) {
      switch (step.kind) {
        case StepKind::Copy: {
          uint8_t* src = resolve(buffers, step.src);
          uint8_t* dst = resolve(buffers, step.dst);
          if (src != dst && step.src.bytes > 0) std::memmove(dst, src, step.src.bytes);
          break;
        }
        case StepKind::Reduce: {
          MYRIAD_CHECK(op.reduce != nullptr, "{}: schedule reduces without a reduction", op.what());
          op.reduce(resolve(buffers, step.dst), resolve(buffers, step.local), resolve(buffers, step.src),
                    step.src.bytes / elem);
          break;
        }
        case StepKind::Send: {
          MYRIAD_CHECK(transport_of_.at(step.peer) != nullptr, "rank {}: no transport to peer {}", rank_,
                       step.peer);
          sends_.push_back(SendRequest{
              .peer = step.peer, .data = resolve(buffers, step.src), .bytes = step.src.bytes, .tag = op.tag});
          break;
        }
        case StepKind::Recv: {
          MYRIAD_CHECK(transport_of_.at(step.peer) != nullptr, "rank {}: no transport to peer {}", rank_,
                       step.peer);
          uint8_t* dst = resolve(buffers, step.dst);
          recvs_.push_back(RecvRequest{.peer = step.peer,
                                       .bytes = step.dst.bytes,
                                       .tag = op.tag,
                                       .consumer = [dst](uint64_t offset, const void* data, size_t bytes) {
                                         std::memcpy(dst + offset, data, bytes);
                                       }});
          break;
        }
        case StepKind::RecvReduce: {
          MYRIAD_CHECK(transport_of_.at(step.peer) != nullptr, "rank {}: no transport to peer {}", rank_,
                       step.peer);
          MYRIAD_CHECK(op.reduce != nullptr, "{}: schedule reduces without a reduction", op.what());
          uint8_t* dst = resolve(buffers, step.dst);
          const uint8_t* local = resolve(buffers, step.local);
          std::vector<uint8_t>* carry = &partial_[partial_index++];
          carry->clear();
          kernels::ReduceFn reduce = op.reduce;
          // Pieces may end inside an element (a TCP read does); the bytes of
          // a split element wait in `carry` until the element is whole.
          recvs_.push_back(RecvRequest{
              .peer = step.peer,
              .bytes = step.dst.bytes,
              .tag = op.tag,
              .consumer = [dst, local, carry, reduce, elem](uint64_t offset, const void* data, size_t bytes) {
                const uint8_t* in = static_cast<const uint8_t*>(data);
                if (!carry->empty()) {
                  size_t need = std::min(elem - carry->size(), bytes);
                  carry->insert(carry->end(), in, in + need);
                  in += need;
                  bytes -= need;
                  offset += need;
                  if (carry->size() < elem) return;
                  uint64_t at = offset - elem;
                  reduce(dst + at, local + at, carry->data(), 1);
                  carry->clear();
                }
                size_t whole = bytes - bytes % elem;
                if (whole > 0) reduce(dst + offset, local + offset, in, whole / elem);
                if (whole < bytes) carry->assign(in + whole, in + bytes);
              }});
          break;
        }
      }
    }
    if (!sends_.empty() || !recvs_.empty()) complete(sends_, recvs_, op);
  }
}

namespace {

// The requests of one round (or of the handshake), under one deadline.
class RoundWait final : public WaitTarget {
 public:
  RoundWait(int rank, std::vector<SendRequest>& sends, std::vector<RecvRequest>& recvs, const ExecutorOp& op)
      : rank_(rank), sends_(sends), recvs_(recvs), op_(op) {}

  Pass after_pass() override {
    for (const SendRequest& s : sends_) {
      if (!s.complete) return {};
    }
    for (const RecvRequest& r : recvs_) {
      if (!r.complete) return {};
    }
    return {.done = true};
  }

  std::chrono::steady_clock::time_point idle(std::chrono::steady_clock::time_point now,
                                             std::vector<int>& peers) override {
    if (now >= op_.check_in_at && op_.check_in) op_.check_in();
    for (const SendRequest& s : sends_) {
      if (!s.complete) peers.push_back(s.peer);
    }
    for (const RecvRequest& r : recvs_) {
      if (!r.complete) peers.push_back(r.peer);
    }
    if (now >= op_.deadline) {
      std::sort(peers.begin(), peers.end());
      peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
      raise(ErrorCode::Timeout, "rank {}: {}: Timed out: peer(s) {} did not arrive", rank_, op_.what(),
            fmt::join(peers, ", "));
    }
    return op_.deadline;
  }

  bool waited() const override { return op_.work != nullptr && WorkControl::waited(*op_.work); }

 private:
  int rank_;
  std::vector<SendRequest>& sends_;
  std::vector<RecvRequest>& recvs_;
  const ExecutorOp& op_;
};

}  // namespace

void Executor::complete(std::vector<SendRequest>& sends, std::vector<RecvRequest>& recvs,
                        const ExecutorOp& op) {
  // Requests are posted only now that both vectors are final: the transport
  // keeps pointers to them.
  for (SendRequest& s : sends) transport_of_[s.peer]->post(&s);
  for (RecvRequest& r : recvs) transport_of_[r.peer]->post(&r);
  RoundWait round(rank_, sends, recvs, op);
  wait(round);
}

void Executor::wait(WaitTarget& target) {
  using Clock = std::chrono::steady_clock;
  const bool on_progress_thread = ProgressThread::on_progress_thread();
  bool spinning = false;
  bool polled = false;  // this idle spell has had its polling time
  Clock::time_point spin_end;
  std::chrono::microseconds shared_sleep = kFirstSharedSleep;
  while (true) {
    bool moved = false;
    for (Transport* t : transports_) moved |= t->progress();
    const WaitTarget::Pass pass = target.after_pass();
    if (pass.done) return;
    if (moved || pass.moved) {
      spinning = false;
      shared_sleep = kFirstSharedSleep;
      continue;
    }
    auto now = Clock::now();
    if (!spinning) {
      spinning = true;
      polled = false;
      spin_end = now;
    }
    // Poll only for a caller that waits on this operation; on the progress
    // thread the caller may be computing on the cores polling takes, until
    // it waits too (asked again before each sleep).
    if (!polled && (!on_progress_thread || target.waited())) {
      polled = true;
      spin_end = now + spin_;
    }
    if (now < spin_end) {
      if (yield_) sched_yield();
      continue;
    }
    waiting_peers_.clear();
    const Clock::time_point wake = target.idle(now, waiting_peers_);
    // Sleep only in the transports that still owe the target something;
    // with several, briefly in each in turn.
    waiting_.clear();
    for (int peer : waiting_peers_) {
      if (Transport* t = transport_of_.at(peer)) add_waiting(t);
    }
    if (waiting_.empty()) continue;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(wake - now);
    auto sleep = std::clamp(left, std::chrono::microseconds::zero(), kMaxSleep);
    if (waiting_.size() > 1) {
      sleep = std::min(sleep, shared_sleep);
      shared_sleep = std::min(kMaxSleep / static_cast<int>(waiting_.size()), shared_sleep * 2);
    }
    for (Transport* t : waiting_) t->wait_for_activity(sleep);
  }
}

}  // namespace myriad
