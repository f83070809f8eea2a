#include "collectives/native/executor.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include <sched.h>

#include "collectives/native/progress_thread.h"
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

bool Executor::progress() {
  bool moved = false;
  for (Transport* t : transports_) moved |= t->progress();
  return moved;
}

void Executor::wait_for(const std::vector<int>& peers, std::chrono::microseconds max) {
  waiting_.clear();
  for (int peer : peers) add_waiting(transport_of_.at(peer));
  if (waiting_.empty()) return;
  auto sleep = max / static_cast<int>(waiting_.size());
  for (Transport* t : waiting_) t->wait_for_activity(sleep);
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

void Executor::complete(std::vector<SendRequest>& sends, std::vector<RecvRequest>& recvs,
                        const ExecutorOp& op) {
  // Requests are posted only now that both vectors are final: the transport
  // keeps pointers to them.
  for (SendRequest& s : sends) transport_of_[s.peer]->post(&s);
  for (RecvRequest& r : recvs) transport_of_[r.peer]->post(&r);

  auto all_complete = [&] {
    for (const SendRequest& s : sends) {
      if (!s.complete) return false;
    }
    for (const RecvRequest& r : recvs) {
      if (!r.complete) return false;
    }
    return true;
  };

  using Clock = std::chrono::steady_clock;
  bool spinning = false;
  Clock::time_point spin_end;
  std::chrono::microseconds shared_sleep = kFirstSharedSleep;
  while (true) {
    bool moved = false;
    for (Transport* t : transports_) moved |= t->progress();
    if (all_complete()) return;
    if (moved) {
      spinning = false;
      shared_sleep = kFirstSharedSleep;
      continue;
    }
    auto now = Clock::now();
    if (!spinning) {
      spinning = true;
      // Poll only for a caller that waits on this operation; on the
      // progress thread the caller is computing on the cores polling takes.
      spin_end = ProgressThread::on_progress_thread() ? now : now + spin_;
    }
    if (now < spin_end) {
      if (yield_) sched_yield();
      continue;
    }
    if (now >= op.check_in_at && op.check_in) op.check_in();
    if (now >= op.deadline) {
      std::vector<int> late;
      for (const SendRequest& s : sends) {
        if (!s.complete) late.push_back(s.peer);
      }
      for (const RecvRequest& r : recvs) {
        if (!r.complete) late.push_back(r.peer);
      }
      std::sort(late.begin(), late.end());
      late.erase(std::unique(late.begin(), late.end()), late.end());
      raise(ErrorCode::Timeout, "rank {}: {}: Timed out: peer(s) {} did not arrive", rank_, op.what(),
            fmt::join(late, ", "));
    }
    // Sleep only in the transports that still owe this round something;
    // with several, briefly in each in turn.
    waiting_.clear();
    for (const SendRequest& s : sends) {
      if (!s.complete) add_waiting(transport_of_[s.peer]);
    }
    for (const RecvRequest& r : recvs) {
      if (!r.complete) add_waiting(transport_of_[r.peer]);
    }
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(op.deadline - now);
    auto sleep = std::min(left, kMaxSleep);
    if (waiting_.size() > 1) {
      sleep = std::min(sleep, shared_sleep);
      shared_sleep = std::min(kMaxSleep / static_cast<int>(waiting_.size()), shared_sleep * 2);
    }
    for (Transport* t : waiting_) t->wait_for_activity(sleep);
  }
}

}  // namespace myriad
