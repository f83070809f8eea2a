// The simulator's engine: posts rounds, matches messages per ordered pair,
// moves data, keeps the clock, and detects deadlock.
#include "collectives/native/simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <utility>

#include "collectives/native/schedule_check.h"
#include "collectives/native/simulator_data.h"
#include "runtime/error.h"

namespace myriad {
namespace {

// Ranks a deadlock report names before it stops listing.
constexpr int kDeadlockRanksShown = 4;
// Drained message queues a receiver keeps for reuse.
constexpr size_t kIdleQueuesKept = 8;

struct Failure {
  std::string what;
};

struct Posted {
  int rank = 0;
  uint32_t step = 0;
  double ready = 0;  // when this end is ready to move the message
};

// The messages from `from` to one receiver not matched yet.
struct PairQueue {
  int from = 0;
  std::vector<Posted> sends;
  std::vector<Posted> recvs;
  size_t send_head = 0;
  size_t recv_head = 0;
};

struct RankState {
  size_t round = 0;
  bool posted = false;
  bool done = false;
  Round current;                        // the round being run (the source hands out one at a time)
  size_t pending = 0;                   // communication steps of the round not yet matched
  uint64_t sent = 0;                    // bytes this rank has sent
  double end = 0;                       // latest completion in the round so far
  double send_clock = 0;                // when the rank's link is free for its next send
  double recv_clock = 0;                // when the rank can take in its next receive
  std::vector<uint64_t> heard;          // barrier: ranks this one has heard from
  std::vector<uint64_t> heard_at_post;  // what its messages of this round carry
};

class Engine {
 public:
  Engine(const CollectiveArgs& args, std::vector<ScheduleSource> sources, const Topology& topology,
         const CostModel& model, const SimulationOptions& options)
      : args_(args),
        sources_(std::move(sources)),
        topology_(topology),
        model_(model),
        states_(args.size),
        incoming_(args.size) {
    std::vector<uint64_t> scratch;
    scratch.reserve(sources_.size());
    for (const ScheduleSource& source : sources_) scratch.push_back(source.scratch_bytes());
    if (options.check_data)
      data_ = std::make_unique<SimulatedData>(args, options.in_place, scratch, options.seed);
    for (int rank = 0; rank < args.size; ++rank) {
      bindings_.push_back(bind_buffers(args, rank, options.in_place, scratch[rank]));
      if (args.kind == OpKind::Barrier) {
        states_[rank].heard.assign((args.size + 63) / 64, 0);
        states_[rank].heard[rank / 64] |= 1ULL << (rank % 64);
      }
    }
  }

  SimulationResult run() {
    SimulationResult result;
    try {
      for (int rank = 0; rank < args_.size; ++rank) worklist_.push_back(rank);
      while (!worklist_.empty()) {
        const int rank = worklist_.front();
        worklist_.pop_front();
        advance(rank);
      }
      for (const RankState& state : states_) {
        if (!state.done) throw Failure{describe_deadlock()};
      }
      if (args_.kind == OpKind::Barrier) check_barrier();
      if (data_) {
        if (auto problem = data_->check()) throw Failure{"wrong result: " + *problem};
      }
    } catch (const Failure& failure) {
      result.error = fmt::format("{}: {}", sources_.empty() ? "" : sources_[0].algorithm(), failure.what);
      return result;
    }
    for (const RankState& state : states_) {
      result.seconds = std::max(result.seconds, state.end);
      result.max_rounds = std::max(result.max_rounds, state.round);
      result.max_rank_bytes = std::max(result.max_rank_bytes, state.sent);
    }
    result.messages = messages_;
    result.bytes = bytes_;
    result.ok = true;
    return result;
  }

 private:
  const Step& step_of(const Posted& posted) const { return states_[posted.rank].current.steps[posted.step]; }

  void advance(int rank) {
    RankState& state = states_[rank];
    while (!state.done) {
      if (!state.posted) {
        if (!sources_[rank].next(state.current)) {
          state.done = true;
          return;
        }
        state.posted = true;
        post(rank);
      }
      if (state.pending > 0) return;
      ++state.round;
      state.posted = false;
    }
  }

  void post(int rank) {
    RankState& state = states_[rank];
    const Round& round = state.current;
    const ScheduleCheckContext context{rank, args_.size, args_.element_bytes, bindings_[rank]};
    if (auto problem = check_round(round, context)) {
      throw Failure{fmt::format("rank {} round {} {}", rank, state.round, *problem)};
    }
    const double start = state.end;
    double local = 0;
    state.send_clock = start;
    state.recv_clock = start;
    if (!state.heard.empty()) state.heard_at_post = state.heard;
    touched_.clear();
    for (size_t i = 0; i < round.steps.size(); ++i) {
      const Step& step = round.steps[i];
      switch (step.kind) {
        case StepKind::Copy:
          if (data_ && step.dst.bytes > 0 && !same_memory(bindings_[rank], step.src, step.dst)) {
            std::memcpy(data_->at(rank, step.dst), data_->at(rank, step.src), step.dst.bytes);
          }
          local += copy_cost(step.dst.bytes);
          break;
        case StepKind::Reduce:
          if (data_ && step.dst.bytes > 0) reduce_into(rank, step.dst, step.local, data_->at(rank, step.src));
          local += static_cast<double>(step.dst.bytes) * model_.gamma();
          break;
        case StepKind::Send: {
          const LinkCost& link = model_.link(topology_.link(rank, step.peer));
          queue(rank, step.peer).sends.push_back({rank, static_cast<uint32_t>(i), state.send_clock});
          state.send_clock += static_cast<double>(step.src.bytes) * link.beta;
          touched_.emplace_back(rank, step.peer);
          ++state.pending;
          break;
        }
        case StepKind::Recv:
        case StepKind::RecvReduce: {
          queue(step.peer, rank).recvs.push_back({rank, static_cast<uint32_t>(i), start});
          touched_.emplace_back(step.peer, rank);
          ++state.pending;
          break;
        }
      }
    }
    state.end = start + local;
    for (const auto& [from, to] : touched_) {
      std::vector<PairQueue>& queues = incoming_[to];
      for (size_t q = 0; q < queues.size(); ++q) {
        if (queues[q].from != from) continue;
        match(queues[q]);
        PairQueue& drained = queues[q];
        if (drained.send_head == drained.sends.size() && drained.recv_head == drained.recvs.size()) {
          // Kept for reuse (no allocation per message) while the receiver
          // has few; beyond that dropped, so that a receiver of n senders
          // (alltoall) does not hold n queues.
          if (queues.size() > kIdleQueuesKept) {
            queues[q] = std::move(queues.back());
            queues.pop_back();
          } else {
            drained.sends.clear();
            drained.recvs.clear();
            drained.send_head = 0;
            drained.recv_head = 0;
          }
        }
        break;
      }
    }
  }

  // The queue of messages from `from` to `to`, created when first needed.
  // A receiver has few peers with messages outstanding at once, so a
  // linear search beats hashing every pair.
  PairQueue& queue(int from, int to) {
    std::vector<PairQueue>& queues = incoming_[to];
    PairQueue* idle = nullptr;
    for (PairQueue& queue : queues) {
      if (queue.from == from) return queue;
      if (idle == nullptr && queue.sends.empty() && queue.recvs.empty()) idle = &queue;
    }
    if (idle != nullptr) {
      idle->from = from;
      return *idle;
    }
    queues.emplace_back().from = from;
    return queues.back();
  }

  double copy_cost(uint64_t bytes) const {
    return model_.message(LinkClass::Self, static_cast<double>(bytes));
  }

  // dst = local + src, where src is another memory (a message or a span).
  void reduce_into(int rank, const Span& dst, const Span& local, const uint8_t* src) {
    uint8_t* out = data_->at(rank, dst);
    if (!same_memory(bindings_[rank], dst, local)) std::memcpy(out, data_->at(rank, local), dst.bytes);
    reduce_bytes(out, src, dst.bytes, args_.element_bytes);
  }

  void match(PairQueue& queue) {
    while (queue.send_head < queue.sends.size() && queue.recv_head < queue.recvs.size()) {
      const Posted sent = queue.sends[queue.send_head++];
      const Posted taken = queue.recvs[queue.recv_head++];
      const Step& send = step_of(sent);
      const Step& recv = step_of(taken);
      if (send.src.bytes != recv.dst.bytes) {
        throw Failure{fmt::format(
            "byte count mismatch: rank {} round {} step {} sends {} bytes to rank {}, whose matching receive "
            "(round {} step {}) expects {} bytes",
            sent.rank, states_[sent.rank].round, sent.step, send.src.bytes, taken.rank,
            states_[taken.rank].round, taken.step, recv.dst.bytes)};
      }
      const uint64_t bytes = send.src.bytes;
      if (data_ && bytes > 0) {
        const uint8_t* src = data_->at(sent.rank, send.src);
        if (recv.kind == StepKind::Recv) {
          std::memcpy(data_->at(taken.rank, recv.dst), src, bytes);
        } else {
          reduce_into(taken.rank, recv.dst, recv.local, src);
        }
      }
      RankState& sender = states_[sent.rank];
      RankState& receiver = states_[taken.rank];
      const LinkCost& link = model_.link(topology_.link(sent.rank, taken.rank));
      const double transfer = static_cast<double>(bytes) * link.beta;
      const double arrival = std::max(sent.ready, taken.ready) + link.alpha + transfer;
      double done = std::max(arrival, receiver.recv_clock + transfer);
      receiver.recv_clock = done;
      if (recv.kind == StepKind::RecvReduce) done += static_cast<double>(bytes) * model_.gamma();
      sender.end = std::max(sender.end, arrival);
      receiver.end = std::max(receiver.end, done);
      if (!receiver.heard.empty()) {
        for (size_t w = 0; w < receiver.heard.size(); ++w) receiver.heard[w] |= sender.heard_at_post[w];
      }
      ++messages_;
      bytes_ += bytes;
      sender.sent += bytes;
      for (RankState* state : {&sender, &receiver}) {
        if (--state->pending == 0) worklist_.push_back(static_cast<int>(state - states_.data()));
      }
    }
  }

  std::string describe_deadlock() const {
    std::map<int, std::vector<std::string>> waits;
    for (int to = 0; to < args_.size; ++to) {
      for (const PairQueue& queue : incoming_[to]) {
        const int from = queue.from;
        for (size_t i = queue.send_head; i < queue.sends.size(); ++i) {
          waits[from].push_back(
              fmt::format("send {} bytes to rank {}", step_of(queue.sends[i]).src.bytes, to));
        }
        for (size_t i = queue.recv_head; i < queue.recvs.size(); ++i) {
          waits[to].push_back(
              fmt::format("receive {} bytes from rank {}", step_of(queue.recvs[i]).dst.bytes, from));
        }
      }
    }
    int stuck = 0;
    for (const RankState& state : states_) stuck += state.done ? 0 : 1;
    std::string text = fmt::format("deadlock: {} of {} ranks cannot finish", stuck, args_.size);
    int shown = 0;
    for (const auto& [rank, what] : waits) {
      if (shown++ == kDeadlockRanksShown) break;
      text +=
          fmt::format("; rank {} in round {} waits to {}", rank, states_[rank].round, fmt::join(what, ", "));
    }
    return text;
  }

  void check_barrier() const {
    for (int rank = 0; rank < args_.size; ++rank) {
      for (int other = 0; other < args_.size; ++other) {
        if ((states_[rank].heard[other / 64] >> (other % 64) & 1) == 0) {
          throw Failure{
              fmt::format("barrier: rank {} leaves without having heard from rank {}", rank, other)};
        }
      }
    }
  }

  const CollectiveArgs& args_;
  std::vector<ScheduleSource> sources_;
  const Topology& topology_;
  const CostModel& model_;
  std::vector<RankState> states_;
  std::vector<BufferBinding> bindings_;
  std::unique_ptr<SimulatedData> data_;
  std::vector<std::vector<PairQueue>> incoming_;  // per receiving rank
  std::deque<int> worklist_;
  std::vector<std::pair<int, int>> touched_;  // (from, to) pairs the round being posted posted to
  uint64_t messages_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace

SimulationResult simulate_schedules(const CollectiveArgs& base, const std::vector<Schedule>& schedules,
                                    const Topology& topology, const CostModel& model,
                                    const SimulationOptions& options) {
  if (static_cast<int>(schedules.size()) != base.size) {
    raise(ErrorCode::InvalidArgument, "simulate: {} ranks, but {} schedules", base.size, schedules.size());
  }
  std::vector<ScheduleSource> sources;
  sources.reserve(schedules.size());
  for (const Schedule& schedule : schedules) sources.push_back(ScheduleSource::of(schedule));
  return simulate_sources(base, std::move(sources), topology, model, options);
}

SimulationResult simulate_sources(const CollectiveArgs& base, std::vector<ScheduleSource> sources,
                                  const Topology& topology, const CostModel& model,
                                  const SimulationOptions& options) {
  if (topology.size() != base.size || static_cast<int>(sources.size()) != base.size) {
    raise(ErrorCode::InvalidArgument, "simulate: {} ranks, but a topology of {} and {} schedules", base.size,
          topology.size(), sources.size());
  }
  CollectiveArgs args = base;
  args.topology = &topology;
  return Engine(args, std::move(sources), topology, model, options).run();
}

SimulationResult simulate(const CollectiveArgs& base, const Algorithm& algorithm, const Topology& topology,
                          const CostModel& model, const SimulationOptions& options) {
  if (topology.size() != base.size) {
    raise(ErrorCode::InvalidArgument, "simulate: {} ranks, but a topology of {}", base.size, topology.size());
  }
  // Sources, not listed schedules: a ring's rounds are computed as the
  // engine reaches them, so memory stays O(n) (schedule_source.h).
  std::vector<ScheduleSource> sources;
  sources.reserve(base.size);
  CollectiveArgs args = base;
  args.topology = &topology;
  for (int rank = 0; rank < base.size; ++rank) {
    args.rank = rank;
    SimulationResult failed;
    if (!algorithm.supports(args)) {
      failed.error =
          fmt::format("{} does not support {} at rank {}", algorithm.name(), op_kind_name(args.kind), rank);
      return failed;
    }
    try {
      sources.push_back(algorithm.build_source(args));
    } catch (const Error& error) {
      failed.error =
          fmt::format("{} failed to build rank {}'s schedule: {}", algorithm.name(), rank, error.what());
      return failed;
    }
  }
  args.rank = 0;
  return simulate_sources(args, std::move(sources), topology, model, options);
}

}  // namespace myriad
