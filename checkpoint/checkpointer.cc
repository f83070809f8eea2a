#include "checkpoint/checkpointer.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "checkpoint/commit.h"
#include "checkpoint/file_io.h"
#include "checkpoint/format.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/event_log.h"
#include "runtime/heartbeat.h"
#include "runtime/logging.h"

namespace myriad::checkpoint {

using nlohmann::json;

struct SaveHandle::Status {
  mutable std::mutex mutex;
  mutable std::condition_variable cv;
  bool done = false;
  bool skipped = false;
  bool reported = false;  // the error reached the caller (wait() or a throw)
  std::exception_ptr error;
  uint64_t step = 0;
  double blocking_seconds = 0;
  std::string replication_error;

  void finish(std::exception_ptr e) {
    {
      std::lock_guard lock(mutex);
      error = std::move(e);
      done = true;
    }
    cv.notify_all();
  }
};

namespace {

// Longest run id: it is part of file names.
constexpr size_t kMaxRunId = 64;

bool valid_run_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxRunId) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Every rank's report, indexed by rank: lengths first, then the texts.
std::vector<json> exchange_reports(Communicator& comm, const json& mine) {
  std::string text = mine.dump();
  const auto n = static_cast<size_t>(comm.size());
  int64_t length = static_cast<int64_t>(text.size());
  std::vector<int64_t> lengths(n);
  comm.allgather(TensorView{&length, 1, DType::I64}, TensorView{lengths.data(), n, DType::I64})->wait();
  std::vector<uint64_t> counts(lengths.begin(), lengths.end());
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  std::string all(total, '\0');
  comm.allgatherv(TensorView{text.data(), text.size(), DType::U8},
                  TensorView{all.data(), all.size(), DType::U8}, counts)
      ->wait();
  std::vector<json> reports;
  uint64_t at = 0;
  for (uint64_t c : counts) {
    reports.push_back(json::parse(all.substr(at, c)));
    at += c;
  }
  return reports;
}

}  // namespace

void SaveHandle::wait() const {
  MYRIAD_CHECK(status_ != nullptr, "wait() on an empty SaveHandle");
  std::unique_lock lock(status_->mutex);
  status_->cv.wait(lock, [&] { return status_->done; });
  if (status_->error) {
    status_->reported = true;
    std::rethrow_exception(status_->error);
  }
}

bool SaveHandle::done() const {
  MYRIAD_CHECK(status_ != nullptr, "done() on an empty SaveHandle");
  std::lock_guard lock(status_->mutex);
  return status_->done;
}

bool SaveHandle::skipped() const {
  return status_ != nullptr && status_->skipped;
}
uint64_t SaveHandle::step() const {
  return status_ == nullptr ? 0 : status_->step;
}
double SaveHandle::blocking_seconds() const {
  return status_ == nullptr ? 0 : status_->blocking_seconds;
}
std::string SaveHandle::replication_error() const {
  if (status_ == nullptr) return "";
  std::lock_guard lock(status_->mutex);
  return status_->replication_error;
}

Checkpointer::Checkpointer(const std::shared_ptr<Communicator>& comm, CheckpointerOptions options)
    : options_(std::move(options)),
      fs_(options_.file_system != nullptr ? options_.file_system.get() : &posix_file_system()) {
  MYRIAD_CHECK(comm != nullptr);
  rank_ = comm->rank();
  size_ = comm->size();
  if (options_.keep_last < 0)
    raise(ErrorCode::InvalidArgument, "keep_last must be >= 0, not {}", options_.keep_last);
  if (options_.chunk_bytes == 0) raise(ErrorCode::InvalidArgument, "chunk_bytes must be > 0");
  const Env env = Env::process();
  snapshot_dir_ = resolve_snapshot_dir(options_.snapshot_dir, env);
  const int keep = options_.snapshot_keep
                       ? *options_.snapshot_keep
                       : static_cast<int>(config::read_int(env, "MYRIAD_SNAPSHOT_KEEP", 1, INT32_MAX));
  const int replicas = options_.replicas
                           ? *options_.replicas
                           : static_cast<int>(config::read_int(env, "MYRIAD_CKPT_REPLICAS", 0, 1));
  if (keep < 1) raise(ErrorCode::InvalidArgument, "snapshot_keep must be >= 1, not {}", keep);
  if (replicas < 0 || replicas > 1)
    raise(ErrorCode::InvalidArgument, "replicas must be 0 or 1, not {}", replicas);
  const int64_t mbps =
      options_.write_mbps ? *options_.write_mbps : config::read_int(env, "MYRIAD_CKPT_WRITE_MBPS", 0);
  if (mbps < 0) raise(ErrorCode::InvalidArgument, "write_mbps must be >= 0, not {}", mbps);
  write_rate_ = static_cast<uint64_t>(mbps) * 1'000'000;
  if (!snapshot_dir_.empty()) tier_ = std::make_unique<MemoryTier>(snapshot_dir_, keep, rank_, *fs_);
  persist_comm_ = comm->split(0, rank_);
  control_comm_ = comm->split(0, rank_);

  // The temporary directory's name must be the same on every rank: rank 0
  // picks the run id and broadcasts it.
  char id[kMaxRunId + 1] = {};
  if (rank_ == 0) {
    std::string chosen = options_.run_id;
    if (chosen.empty()) {
      const char* env = std::getenv("MYRIAD_RUN_ID");
      chosen = env != nullptr && valid_run_id(env)
                   ? std::string(env)
                   : fmt::format("p{}-{:x}", ::getpid(),
                                 std::chrono::steady_clock::now().time_since_epoch().count() & 0xffffffff);
    }
    if (!valid_run_id(chosen)) {
      raise(ErrorCode::InvalidArgument, "run id '{}': letters, digits, '-', '_' and '.', at most {}", chosen,
            kMaxRunId);
    }
    chosen.copy(id, kMaxRunId);  // id[] was zeroed: it stays terminated
  }
  control_comm_->broadcast(TensorView{id, sizeof(id), DType::U8})->wait();
  run_id_ = id;
  // Every rank learns every rank's node and memory tier: the buddies and
  // the manifest broadcast depend on them.
  setup_memory(exchange_reports(*control_comm_, json{{"node", comm->node()},
                                                     {"memory", tier_ != nullptr},
                                                     {"replicate", tier_ != nullptr && replicas > 0}}));
}

Checkpointer::~Checkpointer() {
  if (worker_.joinable()) worker_.join();
}

void Checkpointer::join_and_surface() {
  if (worker_.joinable()) worker_.join();
  if (last_ == nullptr) return;
  std::lock_guard lock(last_->mutex);
  if (last_->error && !last_->reported) {
    last_->reported = true;
    std::rethrow_exception(last_->error);
  }
}

void Checkpointer::wait_all() {
  join_and_surface();
}

LoadResult Checkpointer::load(State& state, const std::string& dir, LoadOptions options) {
  join_and_surface();
  options.rank = rank_;
  if (!options.snapshot_dir) options.snapshot_dir = snapshot_dir_;
  return load_checkpoint(state, dir, options);
}

SaveHandle Checkpointer::save(const State& state, const std::string& dir, uint64_t step,
                              const json& metadata) {
  const auto start = std::chrono::steady_clock::now();
  heartbeat::beat();  // a long save is not a hang
  SaveHandle handle;
  handle.status_ = std::make_shared<SaveHandle::Status>();
  handle.status_->step = step;
  if (options_.skip_if_busy) {
    // Every rank must make the same choice, or one would wait in an
    // agreement the others never join: skip when any rank is still busy.
    int64_t busy = 0;
    if (last_ != nullptr) {
      std::lock_guard lock(last_->mutex);
      busy = last_->done ? 0 : 1;
    }
    control_comm_->allreduce(TensorView{&busy, 1, DType::I64}, AllreduceOptions{.op = ReduceOp::Max})->wait();
    if (busy != 0) {
      MYRIAD_LOG_INFO("checkpoint: step {} skipped: the previous save is still persisting", step);
      handle.status_->skipped = true;
      handle.status_->finish(nullptr);
      return handle;
    }
  }
  // Never two persists at once: wait for the previous one (and report its
  // error if nobody has seen it yet).
  join_and_surface();
  if (tier_ != nullptr && spare_.mapped()) tier_->adopt(std::move(spare_));

  Snapshot snapshot;
  std::exception_ptr caller_error;
  try {
    snapshot = Snapshot::take(state, step, rank_, size_, options_.chunk_bytes,
                              [&](size_t bytes) { return snapshot_buffer(step, bytes); });
    snapshot.metadata = metadata;
  } catch (const Error&) {
    caller_error = std::current_exception();
    snapshot.step = step;
  }
  handle.status_->blocking_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // For the job's goodput ledger (under an agent; a no-op otherwise): what
  // a checkpoint costs training, which `myriad plan --ledger` reads.
  if (!caller_error) {
    append_event(nlohmann::json{{"event", "snapshot_taken"},
                                {"rank", rank_},
                                {"step", step},
                                {"seconds", handle.status_->blocking_seconds}});
  }
  last_ = handle.status_;
  worker_ = std::thread(&Checkpointer::persist, this, std::move(snapshot), dir, handle.status_, caller_error);
  if (caller_error) {
    std::lock_guard lock(last_->mutex);
    last_->reported = true;  // thrown here: the next call does not throw it again
    std::rethrow_exception(caller_error);
  }
  return handle;
}

void Checkpointer::persist(Snapshot snapshot, std::string dir,
                           const std::shared_ptr<SaveHandle::Status>& status,
                           std::exception_ptr caller_error) {
  const uint64_t step = snapshot.step;
  const std::string tmp_name = step_dir_name(step) + std::string(kTmpMarker) + run_id_;
  const std::string tmp_dir = dir + "/" + tmp_name;
  std::exception_ptr own = std::move(caller_error);
  if (!own && rank_ == 0) {
    try {
      // A checkpoint directory made here needs its name durable too, or a
      // power loss after the commit could lose the whole directory.
      if (fs_->make_dir(dir)) fs_->sync_dir(parent_dir(dir));
      remove_leftovers(*fs_, dir, tmp_name);
    } catch (const std::exception&) {
      own = std::current_exception();
    }
  }
  try {
    // No rank writes before rank 0 has removed what interrupted saves left:
    // on a full disk their space is what this save needs.
    persist_comm_->barrier()->wait();
  } catch (...) {
    spare_ = std::move(snapshot.buffer);
    status->finish(std::current_exception());
    return;
  }
  json report;
  if (!own) {
    try {
      fs_->make_dir(dir);
      fs_->make_dir(tmp_dir);
      snapshot.write_header();
      // The checksums (for the report) are computed on a helper thread while
      // this one writes the bytes: both only read the buffer, and the disk
      // is then busy during the hashing instead of after it.
      std::exception_ptr hash_error;
      std::thread hasher([&snapshot, &hash_error] {
        try {
          snapshot.compute_checksums();
        } catch (...) {
          hash_error = std::current_exception();
        }
      });
      try {
        // Each rank fsyncs its own file before it reports: the agreement
        // below then means "every shard is durable", which is what lets rank
        // 0 commit.
        write_file_durably(*fs_, tmp_dir + "/" + snapshot.file_name, snapshot.buffer.data(),
                           snapshot.buffer.size(), write_rate_);
      } catch (...) {
        hasher.join();
        throw;
      }
      hasher.join();
      if (hash_error) std::rethrow_exception(hash_error);
      report = persist_report(snapshot, snapshot.buffer.size());
    } catch (const std::exception&) {
      own = std::current_exception();
    }
  }
  if (own) {
    try {
      std::rethrow_exception(own);
    } catch (const Error& e) {
      report = failure_report(e.message());
    } catch (const std::exception& e) {
      report = failure_report(e.what());
    }
  }
  std::exception_ptr result;
  try {
    // The agreement: every rank learns whether every shard is durable.
    std::vector<json> reports = exchange_reports(*persist_comm_, report);
    std::string failures;
    for (size_t r = 0; r < reports.size(); ++r) {
      if (!reports[r].at("ok").get<bool>()) {
        failures += fmt::format("\n  rank {}: {}", r, reports[r].at("error").get<std::string>());
      }
    }
    if (!failures.empty()) {
      raise(ErrorCode::Io, "rank {}: step {} of {} not committed (the last committed step is untouched):{}",
            rank_, step, dir, failures);
    }
    std::exception_ptr commit_error;
    int64_t outcome[2] = {0, 0};  // 0 or 1 (failed), then the manifest's length when memory wants it
    std::string manifest_text;
    if (rank_ == 0) {
      try {
        Manifest manifest = merge_reports(reports, snapshot, run_id_);
        commit_step(*fs_, manifest, CommitPaths{dir, tmp_dir, run_id_});
        if (any_memory_) manifest_text = manifest_to_text(manifest);
        MYRIAD_LOG_INFO("checkpoint: committed step {} of {} ({} ranks, {} bytes)", step, dir, size_,
                        manifest.total_bytes());
      } catch (const std::exception& e) {
        MYRIAD_LOG_ERROR("checkpoint: step {} of {} not committed: {}", step, dir, e.what());
        commit_error = std::current_exception();
        outcome[0] = 1;
      }
      if (!commit_error) {
        try {
          apply_retention(*fs_, dir, options_.keep_last, run_id_);
        } catch (const Error& e) {
          // The step is committed; an old one that could not be removed is
          // retried by the next save's retention.
          MYRIAD_LOG_WARN("checkpoint: retention after step {}: {}", step, e.message());
        }
      }
    }
    // Rank 0 tells everyone the outcome, so that no rank's save completes
    // before its step is committed.
    outcome[1] = static_cast<int64_t>(manifest_text.size());
    persist_comm_->broadcast(TensorView{outcome, 2, DType::I64})->wait();
    if (commit_error) std::rethrow_exception(commit_error);
    if (outcome[0] != 0) {
      raise(ErrorCode::Io,
            "rank {}: step {} of {} not committed: rank 0 could not commit it (its log says why)", rank_,
            step, dir);
    }
    // Then the committed manifest, for the memory tiers: only after the
    // commit may a step in memory look usable.
    if (outcome[1] > 0) {
      manifest_text.resize(static_cast<size_t>(outcome[1]));
      persist_comm_->broadcast(TensorView{manifest_text.data(), manifest_text.size(), DType::U8})->wait();
      std::string error = keep_in_memory(snapshot, manifest_text);
      std::lock_guard lock(status->mutex);
      status->replication_error = std::move(error);
    }
  } catch (...) {
    result = std::current_exception();
  }
  spare_ = std::move(snapshot.buffer);  // read by save() only after joining this thread
  status->finish(result);
}

}  // namespace myriad::checkpoint
