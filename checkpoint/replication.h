// Buddy replication: after a step is committed, each rank sends its sealed
// snapshot to a buddy rank on another node, which keeps it in its node's
// memory tier (SNAPDIR/replicas/step-N/rank-S.bin), so that a lost node's
// snapshots can be restored from memory by the ranks that take its place on
// a surviving node (docs/checkpoint-format.md, "Memory tier").
//
// The buddy of rank r is (r + L) % W, L being the number of ranks on r's
// node (from the ranks' node ids), W the world size. A rank whose buddy is on
// its own node (a single-node job) replicates nothing.
//
// replicate() is collective over the persist communicator: every rank calls
// it for the same step, in the same order relative to the other operations
// there. It returns what went wrong instead of throwing, so that a failed
// replication never undoes a commit; a failed send or receive (a dead peer)
// breaks the communicator, as any failed collective does. Not thread-safe:
// the persist thread calls it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/memory_tier.h"
#include "checkpoint/snapshot.h"
#include "collectives/communicator.h"

namespace myriad::checkpoint {

// Largest single message of a replica: larger snapshots go in pieces, so
// that no transport is handed one unbounded message.
inline constexpr uint64_t kReplicaPieceBytes = 64ull << 20;

struct BuddyPlan {
  int send_to = -1;               // -1: this rank sends no replica
  std::vector<int> receive_from;  // ranks whose replicas this rank keeps, ascending
};

// Who sends to whom: `nodes[r]` is rank r's node, `enabled[r]` whether rank
// r replicates (a memory tier and replicas >= 1). Pure.
BuddyPlan plan_buddies(const std::vector<std::string>& nodes, const std::vector<bool>& enabled, int rank);

struct ReplicationResult {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  std::string error;  // empty: every replica sent and stored
};

// Sends `snapshot` (sealed) to the plan's buddy and stores the replicas that
// arrive in `tier` (null: received and dropped, the receiver has no tier).
ReplicationResult replicate(Communicator& comm, const BuddyPlan& plan, const SnapshotBuffer& snapshot,
                            uint64_t step, MemoryTier* tier);

}  // namespace myriad::checkpoint
