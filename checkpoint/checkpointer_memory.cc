// Checkpointer's memory tier and buddy replication (checkpointer.h says
// what they promise; docs/checkpoint-format.md, "Memory tier", says why the
// steps are in this order).
#include <algorithm>

#include "checkpoint/checkpointer.h"
#include "checkpoint/format.h"
#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::checkpoint {

using nlohmann::json;

void Checkpointer::setup_memory(const std::vector<json>& infos) {
  std::vector<std::string> nodes;
  std::vector<bool> replicate;
  for (const json& info : infos) {
    nodes.push_back(info.at("node").get<std::string>());
    replicate.push_back(info.at("replicate").get<bool>());
    any_memory_ = any_memory_ || info.at("memory").get<bool>();
  }
  buddies_ = plan_buddies(nodes, replicate, rank_);
  if (rank_ != 0) return;
  // One warning for the job, not one per rank: on a single node there is
  // nobody to replicate to.
  int alone = 0;
  for (int r = 0; r < size_; ++r) {
    if (replicate[r] && plan_buddies(nodes, replicate, r).send_to < 0) ++alone;
  }
  if (alone > 0) {
    MYRIAD_LOG_WARN(
        "checkpoint: buddy replication asked for, but {} of {} ranks have no buddy with a memory tier on "
        "another node (a single-node job?): their snapshots are not replicated",
        alone, size_);
  }
}

SnapshotBuffer Checkpointer::snapshot_buffer(uint64_t step, size_t bytes) {
  if (tier_ != nullptr) {
    try {
      return tier_->snapshot_buffer(step, bytes);
    } catch (const Error& e) {
      MYRIAD_LOG_WARN("checkpoint: rank {}: step {} not kept in memory ({}): taking it into process memory",
                      rank_, step, e.message());
    }
  }
  spare_.resize(bytes);
  return std::move(spare_);
}

uint64_t Checkpointer::memory_bytes() const {
  return memory_usage(snapshot_dir_).bytes;
}

std::string Checkpointer::keep_in_memory(const Snapshot& snapshot, const std::string& manifest_text) {
  if (tier_ != nullptr) {
    try {
      // Every rank of a node writes the same manifest: the node's files of
      // the step are complete (they were sealed before the agreement), and
      // no rank of the node has to wait for another.
      tier_->write_manifest(snapshot.step, manifest_text);
    } catch (const Error& e) {
      MYRIAD_LOG_WARN("checkpoint: rank {}: step {} is committed but not usable from memory: {}", rank_,
                      snapshot.step, e.message());
    }
  }
  std::string error;
  if (buddies_.send_to >= 0 || !buddies_.receive_from.empty()) {
    ReplicationResult r = replicate(*persist_comm_, buddies_, snapshot.buffer, snapshot.step, tier_.get());
    if (!r.error.empty()) {
      error = r.error;
      const int failures = ++replication_failures_;
      MYRIAD_LOG_WARN(
          "checkpoint: rank {}: step {} is committed, but its buddy replication failed ({} so far): {}",
          rank_, snapshot.step, failures, r.error);
    }
  }
  if (tier_ != nullptr) {
    const MemoryUsage usage = memory_usage(snapshot_dir_);
    MYRIAD_LOG_DEBUG("checkpoint: rank {}: snapshot memory on this node: {} steps, {} replica steps, {}",
                     rank_, usage.steps, usage.replica_steps, size_text(usage.bytes));
  }
  return error;
}

}  // namespace myriad::checkpoint
