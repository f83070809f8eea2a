#include "checkpoint/replication.h"

#include <algorithm>
#include <array>

#include <fmt/ranges.h>

#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::checkpoint {
namespace {

// Tags on the persist communicator's point-to-point channel.
constexpr uint64_t kSizeTag = 1;
constexpr uint64_t kPieceTag = 2;

TensorView bytes_view(void* data, uint64_t bytes) {
  return TensorView{data, bytes, DType::U8};
}

void wait_all(std::vector<WorkPtr>& works) {
  // Every Work is waited for even after a failure: none may outlive the
  // buffers it uses (a failure is sticky, so the rest fail fast).
  std::exception_ptr first;
  for (WorkPtr& w : works) {
    try {
      w->wait();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  works.clear();
  if (first) std::rethrow_exception(first);
}

void post_pieces(Communicator& comm, unsigned char* data, uint64_t bytes, int peer, bool send,
                 std::vector<WorkPtr>& works) {
  for (uint64_t at = 0; at < bytes; at += kReplicaPieceBytes) {
    const TensorView piece = bytes_view(data + at, std::min(kReplicaPieceBytes, bytes - at));
    works.push_back(send ? comm.send(piece, peer, kPieceTag) : comm.recv(piece, peer, kPieceTag));
  }
}

}  // namespace

BuddyPlan plan_buddies(const std::vector<std::string>& nodes, const std::vector<bool>& enabled, int rank) {
  const int world = static_cast<int>(nodes.size());
  auto buddy_of = [&](int r) {
    if (!enabled[r]) return -1;
    const int local = static_cast<int>(std::count(nodes.begin(), nodes.end(), nodes[r]));
    const int buddy = (r + local) % world;
    return nodes[buddy] != nodes[r] && enabled[buddy] ? buddy : -1;
  };
  BuddyPlan plan;
  plan.send_to = buddy_of(rank);
  for (int r = 0; r < world; ++r) {
    if (r != rank && buddy_of(r) == rank) plan.receive_from.push_back(r);
  }
  return plan;
}

ReplicationResult replicate(Communicator& comm, const BuddyPlan& plan, const SnapshotBuffer& snapshot,
                            uint64_t step, MemoryTier* tier) {
  ReplicationResult result;
  std::string stage = "exchange of sizes";
  try {
    // 1. Sizes first: a receiver maps a file of the right size and receives
    //    straight into it.
    std::array<uint64_t, 2> mine{step, snapshot.size()};
    std::vector<std::array<uint64_t, 2>> theirs(plan.receive_from.size());
    std::vector<WorkPtr> works;
    if (plan.send_to >= 0)
      works.push_back(comm.send(bytes_view(mine.data(), sizeof(mine)), plan.send_to, kSizeTag));
    for (size_t i = 0; i < theirs.size(); ++i) {
      works.push_back(
          comm.recv(bytes_view(theirs[i].data(), sizeof(theirs[i])), plan.receive_from[i], kSizeTag));
    }
    wait_all(works);

    // 2. Where the replicas go. A receiver that cannot store one still
    //    receives it (its buddy's sends must complete) and drops it.
    stage = "receive buffers";
    std::vector<SnapshotBuffer> in(theirs.size());
    for (size_t i = 0; i < theirs.size(); ++i) {
      const int source = plan.receive_from[i];
      if (theirs[i][0] != step) {
        raise(ErrorCode::Internal, "rank {} sent a replica of step {} during step {}", source, theirs[i][0],
              step);
      }
      if (tier != nullptr) {
        try {
          in[i] = tier->replica_buffer(step, source, theirs[i][1]);
        } catch (const Error& e) {
          result.error += fmt::format("{}replica of rank {} not kept: {}", result.error.empty() ? "" : "; ",
                                      source, e.message());
        }
      }
      if (!in[i].mapped()) in[i].resize(theirs[i][1]);
    }

    // 3. The bytes, in pieces, every send and receive posted at once (a ring
    //    of ranks that all send before they receive must not deadlock).
    stage = "transfer";
    if (plan.send_to >= 0) {
      post_pieces(comm, const_cast<unsigned char*>(snapshot.data()), snapshot.size(), plan.send_to, true,
                  works);
    }
    for (size_t i = 0; i < in.size(); ++i) {
      post_pieces(comm, in[i].data(), in[i].size(), plan.receive_from[i], false, works);
    }
    wait_all(works);
    if (plan.send_to >= 0) result.bytes_sent = snapshot.size();

    // 4. Published only whole.
    stage = "publish";
    for (size_t i = 0; i < in.size(); ++i) {
      result.bytes_received += in[i].size();
      if (in[i].mapped()) tier->publish_replica(step, plan.receive_from[i], std::move(in[i]));
    }
  } catch (const std::exception& e) {
    result.error +=
        fmt::format("{}rank {}: replication of step {} (to rank {}, from {}) failed in the {}: {}",
                    result.error.empty() ? "" : "; ", comm.rank(), step, plan.send_to,
                    fmt::join(plan.receive_from, ", "), stage, e.what());
  }
  return result;
}

}  // namespace myriad::checkpoint
