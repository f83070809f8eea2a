#include "collectives/native/native_backend.h"

#include <sched.h>
#include <unistd.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "collectives/native/executor.h"
#include "collectives/native/progress_thread.h"
#include "collectives/native/selector.h"
#include "collectives/native/transport_registry.h"
#include "collectives/validate.h"
#include "runtime/config.h"
#include "runtime/logging.h"

namespace myriad {
namespace {

static_assert(static_cast<int>(kernels::ElementType::BF16) == static_cast<int>(DType::BF16));
static_assert(static_cast<int>(kernels::ElementType::I64) == static_cast<int>(DType::I64));
static_assert(static_cast<int>(kernels::ElementType::I16) == static_cast<int>(DType::I16));
static_assert(kernels::kElementTypeCount == std::size(kAllDTypes));
static_assert(static_cast<int>(kernels::ReduceKind::Max) == static_cast<int>(ReduceOp::Max));

// Tag spaces: collectives use their sequence number, the start-of-op
// handshake sets bit 62, point-to-point messages set bit 63 and carry the
// caller's tag.
constexpr uint64_t kHandshakeBit = uint64_t{1} << 62;
constexpr uint64_t kPointToPointBit = uint64_t{1} << 63;
constexpr size_t kMaxCachedSchedules = 256;
// How long before its deadline a rank still waiting in an operation records
// in the store that it reached it (at most half the timeout): when the
// deadline passes, the ranks that have not are the ones that never came, so
// the timeout error names them at once, without waiting for the others to
// time out too. Operations that finish in time never touch the store.
constexpr std::chrono::milliseconds kCheckInLead{1'000};
// Point-to-point batches spin (as long as the executor would), then sleep in
// the transports for at most this long, which also bounds how late an
// operation joining the batch starts.
constexpr std::chrono::microseconds kP2PMaxSleep{1000};

// ReduceKind has no Avg, so the kinds after it are one lower than their ops
// (kernels/element_type.h).
kernels::ReduceKind reduce_kind(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg: return kernels::ReduceKind::Sum;  // average is a sum followed by a scale
    case ReduceOp::Prod: return kernels::ReduceKind::Prod;
    case ReduceOp::Min: return kernels::ReduceKind::Min;
    case ReduceOp::Max: return kernels::ReduceKind::Max;
    case ReduceOp::Band: return kernels::ReduceKind::Band;
    case ReduceOp::Bor: return kernels::ReduceKind::Bor;
    case ReduceOp::Bxor: return kernels::ReduceKind::Bxor;
  }
  MYRIAD_CHECK(false, "reduce op {}", static_cast<int>(op));
}

// The Communicator has rejected a bitwise op of a floating type
// (validate::reduction), so the kernel exists.
kernels::ReduceFn reduce_fn(DType dtype, ReduceOp op) {
  return kernels::reduce_function(static_cast<kernels::ElementType>(dtype), reduce_kind(op));
}

// Names this machine (and this boot of it): ranks of emulated nodes share
// it, ranks on other machines do not even if their host names collide.
std::string host_identity() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  std::string boot;
  if (FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    char id[64] = {};
    if (std::fgets(id, sizeof(id), f) != nullptr) boot = id;
    std::fclose(f);
    while (!boot.empty() && (boot.back() == '\n' || boot.back() == ' ')) boot.pop_back();
  }
  return fmt::format("{}/{}", name, boot);
}

// The cores this process may run on (its affinity mask, which containers
// and launchers narrow).
std::vector<int> usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cores;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cores.push_back(cpu);
  }
  return cores;
}

uint64_t hash_counts(const std::vector<uint64_t>& counts) {
  // FNV-1a over the counts: equal on every rank exactly when the counts are.
  uint64_t hash = 1469598103934665603ull;
  for (uint64_t count : counts) {
    for (int byte = 0; byte < 8; ++byte) {
      hash ^= (count >> (8 * byte)) & 0xff;
      hash *= 1099511628211ull;
    }
  }
  return hash == 0 ? 1 : hash;
}

struct Endpoint {
  int pid = 0;
  std::string host;        // host_identity(): equal for ranks on one machine
  std::vector<int> cores;  // usable_cores()
  std::string shm;
  std::string tcp;
};

class NativeBackend : public Backend {
 public:
  explicit NativeBackend(const BackendContext& context);
  ~NativeBackend() override;

  std::string_view name() const override { return "native"; }

  WorkPtr allreduce(TensorView input, TensorView output, const AllreduceOptions& options) override;
  WorkPtr reduce(TensorView input, TensorView output, const ReduceOptions& options) override;
  WorkPtr broadcast(TensorView buffer, const RootOptions& options) override;
  WorkPtr allgather(TensorView input, TensorView output, const CollectiveOptions& options) override;
  WorkPtr allgatherv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                     const CollectiveOptions& options) override;
  WorkPtr reduce_scatter(TensorView input, TensorView output, const ReduceScatterOptions& options) override;
  WorkPtr reduce_scatterv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                          const ReduceScatterOptions& options) override;
  WorkPtr alltoall(TensorView input, TensorView output, const CollectiveOptions& options) override;
  WorkPtr alltoallv(TensorView input, TensorView output, const std::vector<uint64_t>& send_counts,
                    const std::vector<uint64_t>& recv_counts, const CollectiveOptions& options) override;
  WorkPtr gather(TensorView input, TensorView output, const RootOptions& options) override;
  WorkPtr scatter(TensorView input, TensorView output, const RootOptions& options) override;
  WorkPtr barrier(const CollectiveOptions& options) override;
  WorkPtr send(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options) override;
  WorkPtr recv(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options) override;
  WorkPtr recv_any(TensorView buffer, uint64_t tag, const CollectiveOptions& options) override;
  void abort(const Error& reason) override;

 private:
  // One collective as the progress thread runs it.
  struct Collective {
    OpDescriptor descriptor;
    CollectiveArgs args;
    ExecutorBuffers buffers;
    std::string algorithm;  // per-call override
    // Elements of Output to scale by 1/size afterwards (average); 0 for none.
    uint64_t scale_count = 0;
    // Bytes of backend-owned memory standing in for buffers that this rank
    // does not provide (a non-root's output of reduce or gather).
    uint64_t stand_in_bytes = 0;
    BufferId stand_in = BufferId::Output;
  };

  void connect();
  CollectiveArgs base_args(OpKind kind, const TensorView& view, uint64_t count) const;
  std::chrono::milliseconds timeout_of(std::chrono::milliseconds requested) const;
  WorkPtr submit(Collective collective, std::chrono::milliseconds timeout);
  WorkPtr submit_p2p(OpKind kind, TensorView buffer, int peer, uint64_t tag,
                     std::chrono::milliseconds timeout);
  void run_collective(Collective& collective, std::chrono::milliseconds timeout);
  void handshake(const OpDescriptor& descriptor, const ExecutorOp& op);
  // The schedule of a collective: the per-call algorithm, else the
  // selector's choice; built once per distinct call shape and reused.
  const Schedule& schedule_for(const Collective& c, const ExecutorOp& op);
  void run_schedule(Collective& c, ExecutorOp& op);
  // Records in the store that this rank reached operation `seq` (once).
  void check_in(uint64_t seq, bool& checked_in);
  // After a timeout: the ranks that did not reach operation `seq`.
  std::string late_ranks(uint64_t seq, bool& checked_in);
  // Runs `body` on the progress thread unless the backend has failed;
  // completes or fails `work`.
  void run_guarded(const WorkPtr& work, const std::function<void()>& body);

  struct PointToPoint {
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
    bool done = false;
  };
  struct PointToPointBatch {
    std::deque<PointToPoint> waiting;  // under p2p_mutex_
  };
  void run_p2p_batch(const std::shared_ptr<PointToPointBatch>& batch);
  // Picks the sender of an any-source receive: the first peer (round robin
  // from the last one picked) whose next unclaimed message carries the
  // receive's tag; returns it, or -1 while there is none.
  int claim_any_source(uint64_t wire_tag);
  void close_p2p_batch();
  void close_if_open(const std::shared_ptr<PointToPointBatch>& batch);
  void fail(std::exception_ptr error);
  void check_cpu(std::string_view op, std::string_view name, const TensorView& view) const {
    validate::on_cpu(op, "native", name, view);
  }

  BackendContext context_;
  Topology topology_;
  std::unique_ptr<Transport> shm_;
  std::unique_ptr<Transport> tcp_;
  std::unique_ptr<Executor> executor_;
  std::chrono::nanoseconds spin_ = kExecutorSpin;  // see connect(): longer, yielding, when oversubscribed
  bool yield_ = false;
  uint64_t next_seq_ = 0;      // caller side, under the Communicator's lock
  std::exception_ptr failed_;  // progress thread only
  std::atomic<bool> aborted_{false};
  Selector selector_ = Selector::from_env(Env::process());
  using ShapeKey = std::tuple<OpKind, uint64_t, int, size_t, uint64_t>;
  using ScheduleKey = std::pair<ShapeKey, const Algorithm*>;
  std::map<ShapeKey, AlgorithmChoice> choices_;  // the selector's, per shape
  std::map<ScheduleKey, Schedule> schedules_;
  std::vector<uint8_t> scratch_;  // persistent: no allocation per operation
  std::vector<uint8_t> stand_in_;
  std::mutex p2p_mutex_;
  std::shared_ptr<PointToPointBatch> open_batch_;  // accepting point-to-point operations
  int any_source_next_ = 0;                        // progress thread only: where claim_any_source() starts
  std::shared_ptr<ProgressThread> thread_;         // last: stops before the rest is destroyed
};

NativeBackend::NativeBackend(const BackendContext& context) : context_(context) {
  const std::vector<std::string>& nodes = context_.world->nodes();
  std::vector<int> node_of(context_.size());
  std::vector<std::string> seen;
  for (int r = 0; r < context_.size(); ++r) {
    const std::string& node = nodes[context_.group[r]];
    auto it = std::find(seen.begin(), seen.end(), node);
    node_of[r] = static_cast<int>(it - seen.begin());
    if (it == seen.end()) seen.push_back(node);
  }
  topology_ = Topology(node_of);
  connect();
  thread_ = std::make_shared<ProgressThread>(fmt::format("myriad-{}", context_.comm_id));
}

NativeBackend::~NativeBackend() {
  // Runs what is queued and joins. A Work's runner may still hold the
  // thread object, but finds nothing left to run.
  thread_->stop();
  if (shm_) shm_->close();
  if (tcp_) tcp_->close();
}

void NativeBackend::connect() {
  const int rank = context_.rank;
  const int size = context_.size();
  auto deadline = std::chrono::steady_clock::now() + context_.timeout;
  std::vector<int> local_peers;
  std::vector<int> remote_peers;
  for (int r = 0; r < size; ++r) {
    if (r == rank) continue;
    (topology_.node_of(r) == topology_.node_of(rank) ? local_peers : remote_peers).push_back(r);
  }

  TransportOptions options;
  options.rank = rank;
  options.size = size;
  options.run_id =
      context_.world->info().run_id.empty() ? fmt::format("p{}", getpid()) : context_.world->info().run_id;
  options.comm_id = context_.comm_id;
  options.bind_host = config::get_string(Env::process(), "MYRIAD_TCP_HOST").value_or("127.0.0.1");

  // Endpoints travel through the store: pids first (shared memory watches
  // its peers' processes), then each transport's address.
  nlohmann::json mine = {{"pid", getpid()}, {"host", host_identity()}, {"cores", usable_cores()}};
  std::vector<Endpoint> endpoints(size);
  auto publish_and_collect = [&](const std::string& phase) {
    context_.store->set(fmt::format("{}/{}", phase, rank), mine.dump());
    for (int r = 0; r < size; ++r) {
      nlohmann::json e = nlohmann::json::parse(context_.store->get(fmt::format("{}/{}", phase, r)));
      endpoints[r].pid = e.value("pid", 0);
      endpoints[r].host = e.value("host", "");
      endpoints[r].cores = e.value("cores", std::vector<int>{});
      endpoints[r].shm = e.value("shm", "");
      endpoints[r].tcp = e.value("tcp", "");
    }
  };
  publish_and_collect("pid");
  for (int r = 0; r < size; ++r) options.pids.push_back(endpoints[r].pid);
  // Ranks of this communicator on this machine (emulated nodes included)
  // beyond its cores: a polling rank would hold the core its peer needs.
  // The cores are those any of them may use: ranks bound one per core
  // (as mpirun binds them) are not oversubscribed.
  int on_this_host = 0;
  std::set<int> host_cores;
  for (const Endpoint& e : endpoints) {
    if (e.host != endpoints[rank].host) continue;
    ++on_this_host;
    host_cores.insert(e.cores.begin(), e.cores.end());
  }
  const int cores = std::max<int>(1, static_cast<int>(host_cores.size()));
  if (on_this_host > cores) {
    spin_ = kOversubscribedSpin;
    yield_ = true;
    options.spin = std::chrono::nanoseconds::zero();  // the executor polls, yielding
    MYRIAD_LOG_DEBUG("communicator {}: {} ranks on this host, {} usable cores: waiters yield while polling",
                     context_.comm_id, on_this_host, cores);
  }

  if (!local_peers.empty()) {
    shm_ = make_transport("shm", options);
    mine["shm"] = shm_->address();
  }
  if (!remote_peers.empty()) {
    tcp_ = make_transport("tcp", options);
    mine["tcp"] = tcp_->address();
  }
  publish_and_collect("endpoint");

  std::vector<std::string> addresses(size);
  if (shm_) {
    for (int r = 0; r < size; ++r) addresses[r] = endpoints[r].shm;
    shm_->connect(local_peers, addresses, deadline);
  }
  if (tcp_) {
    for (int r = 0; r < size; ++r) addresses[r] = endpoints[r].tcp;
    tcp_->connect(remote_peers, addresses, deadline);
  }

  std::vector<Transport*> transport_of(size, nullptr);
  for (int r : local_peers) transport_of[r] = shm_.get();
  for (int r : remote_peers) transport_of[r] = tcp_.get();
  executor_ = std::make_unique<Executor>(rank, std::move(transport_of), spin_, yield_);
  MYRIAD_LOG_DEBUG("communicator {}: connected {} shm and {} tcp peers", context_.comm_id, local_peers.size(),
                   remote_peers.size());
}

std::chrono::milliseconds NativeBackend::timeout_of(std::chrono::milliseconds requested) const {
  return requested.count() > 0 ? requested : context_.timeout;
}

CollectiveArgs NativeBackend::base_args(OpKind kind, const TensorView& view, uint64_t count) const {
  CollectiveArgs args;
  args.kind = kind;
  args.rank = context_.rank;
  args.size = context_.size();
  args.count = count;
  args.element_bytes = dtype_size(view.dtype);
  args.topology = &topology_;
  return args;
}

WorkPtr NativeBackend::submit(Collective collective, std::chrono::milliseconds timeout) {
  close_p2p_batch();  // later point-to-point operations run after this collective
  collective.descriptor.seq = next_seq_++;
  auto work = std::make_shared<Work>(collective.descriptor);
  uint64_t ticket = thread_->submit([this, work, collective = std::move(collective), timeout]() mutable {
    run_guarded(work, [&] { run_collective(collective, timeout); });
  });
  // Whoever waits on a Work whose operation has not started runs it on its
  // own thread: two thread hand-offs fewer (docs/collectives.md, Progress).
  work->set_runner([weak = std::weak_ptr<ProgressThread>(thread_), ticket] {
    auto thread = weak.lock();
    return thread && thread->run_if_next(ticket);
  });
  return work;
}

void NativeBackend::run_guarded(const WorkPtr& work, const std::function<void()>& body) {
  if (failed_) {
    work->fail(failed_);
    return;
  }
  try {
    body();
  } catch (...) {
    fail(std::current_exception());
    work->fail(failed_);
    return;
  }
  work->complete();
}

void NativeBackend::fail(std::exception_ptr error) {
  failed_ = error;
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    MYRIAD_LOG_DEBUG("communicator {}: failed: {}", context_.comm_id, e.what());
    // Peers learn of the failure now rather than at their timeout.
    if (shm_) shm_->abort(e);
    if (tcp_) tcp_->abort(e);
  } catch (...) {
  }
}

void NativeBackend::abort(const Error& reason) {
  if (aborted_.exchange(true)) return;
  if (shm_) shm_->abort(reason);
  if (tcp_) tcp_->abort(reason);
  // An operation blocked in the executor fails through the transports; the
  // queued ones fail through the sticky error.
  thread_->submit([this, reason] {
    if (!failed_) failed_ = std::make_exception_ptr(reason);
  });
}

void NativeBackend::handshake(const OpDescriptor& descriptor, const ExecutorOp& op) {
  const int size = context_.size();
  if (size == 1) return;
  const int next = (context_.rank + 1) % size;
  const int prev = (context_.rank + size - 1) % size;
  uint8_t out[kOpDescriptorWireBytes];
  uint8_t in[kOpDescriptorWireBytes] = {};
  encode_op_descriptor(descriptor, out);
  std::vector<SendRequest> sends = {
      SendRequest{.peer = next, .data = out, .bytes = sizeof(out), .tag = op.tag | kHandshakeBit}};
  std::vector<RecvRequest> recvs = {
      RecvRequest{.peer = prev,
                  .bytes = sizeof(in),
                  .tag = op.tag | kHandshakeBit,
                  .consumer = [&in](uint64_t offset, const void* data, size_t bytes) {
                    std::memcpy(in + offset, data, bytes);
                  }}};
  executor_->complete(sends, recvs, op);
  OpDescriptor theirs = decode_op_descriptor(in);
  if (!(theirs == descriptor)) {
    raise(ErrorCode::InvalidArgument,
          "operation mismatch in sequence slot {}: rank {} called {}, rank {} called {}", descriptor.seq,
          prev, theirs.to_string(), context_.rank, descriptor.to_string());
  }
}

const Schedule& NativeBackend::schedule_for(const Collective& c, const ExecutorOp& op) {
  ShapeKey shape{c.descriptor.kind, c.args.count, c.args.root, c.args.element_bytes,
                 hash_counts(c.args.counts)};
  const Algorithm* algorithm = nullptr;
  const std::string* reason = nullptr;
  if (!c.algorithm.empty()) {
    algorithm = find_algorithm(c.descriptor.kind, c.algorithm);
    if (algorithm == nullptr || !algorithm->supports(c.args)) {
      std::vector<std::string> names;
      for (const Algorithm* a : algorithms_for(c.descriptor.kind)) {
        if (a->supports(c.args)) names.emplace_back(a->name());
      }
      raise(ErrorCode::InvalidArgument, "rank {}: {}: algorithm '{}' {}; accepted here: {}", context_.rank,
            op.what(), c.algorithm,
            algorithm == nullptr ? "does not exist" : "does not support these arguments",
            fmt::join(names, ", "));
    }
    static const std::string kRequested = "requested by the caller";
    reason = &kRequested;
  } else {
    // The selector's choice depends only on the shape, which a training loop
    // repeats: choosing (and writing down why) once per shape keeps its cost
    // model and its reason text off every small operation's path.
    auto chosen = choices_.find(shape);
    if (chosen == choices_.end()) {
      if (choices_.size() >= kMaxCachedSchedules) choices_.clear();
      chosen = choices_.emplace(shape, selector_.select(c.args)).first;
    }
    algorithm = chosen->second.algorithm;
    reason = &chosen->second.reason;
  }
  ScheduleKey key{shape, algorithm};
  auto it = schedules_.find(key);
  if (it == schedules_.end()) {
    // The cache holds the shapes a training loop repeats; an unbounded
    // stream of distinct shapes must not grow it without limit.
    if (schedules_.size() >= kMaxCachedSchedules) schedules_.clear();
    it = schedules_.emplace(key, algorithm->build(c.args)).first;
  }
  MYRIAD_LOG_DEBUG("{}: {} ({})", op.what(), algorithm->name(), *reason);
  return it->second;
}

void NativeBackend::run_collective(Collective& c, std::chrono::milliseconds timeout) {
  ExecutorOp op;
  op.tag = c.descriptor.seq;
  op.element_bytes = c.args.element_bytes;
  op.deadline = std::chrono::steady_clock::now() + timeout;
  bool checked_in = false;
  op.check_in_at = op.deadline - std::min(kCheckInLead, timeout / 2);
  op.check_in = [&] { check_in(c.descriptor.seq, checked_in); };
  op.describe = [&c] { return fmt::format("{} #{}", c.descriptor.to_string(), c.descriptor.seq); };
  if (c.descriptor.kind == OpKind::Allreduce || c.descriptor.kind == OpKind::Reduce ||
      c.descriptor.kind == OpKind::ReduceScatter || c.descriptor.kind == OpKind::ReduceScatterv) {
    op.reduce = reduce_fn(c.descriptor.dtype, c.descriptor.op);
  }
  try {
    run_schedule(c, op);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::Timeout) throw;
    raise(ErrorCode::Timeout, "{}; rank(s) {} did not reach it", error.message(),
          late_ranks(c.descriptor.seq, checked_in));
  }
}

void NativeBackend::check_in(uint64_t seq, bool& checked_in) {
  if (checked_in) return;
  checked_in = true;
  try {
    context_.store->set(fmt::format("late/{}/{}", seq, context_.rank), "");
  } catch (const Error& error) {
    MYRIAD_LOG_DEBUG("communicator {}: operation #{}: the store did not take the check-in: {}",
                     context_.comm_id, seq, error.message());
  }
}

std::string NativeBackend::late_ranks(uint64_t seq, bool& checked_in) try {
  // The transports only know which peer this rank waited on, which may
  // itself be waiting on the rank that never came. Ranks still waiting
  // checked in through the store before their deadline (kCheckInLead);
  // those that did not are the ones that did not reach the operation.
  check_in(seq, checked_in);
  const int size = context_.size();
  std::vector<int> missing;
  for (int r = 0; r < size; ++r) {
    if (!context_.store->check({fmt::format("late/{}/{}", seq, r)})) missing.push_back(r);
  }
  return missing.empty() ? std::string("none (all ranks arrived; a peer stalled)")
                         : fmt::format("{}", fmt::join(missing, ", "));
} catch (const Error& error) {
  return fmt::format("unknown (the store did not answer: {})", error.message());
}

void NativeBackend::run_schedule(Collective& c, ExecutorOp& op) {
  handshake(c.descriptor, op);

  const Schedule& schedule = schedule_for(c, op);

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

WorkPtr NativeBackend::allreduce(TensorView input, TensorView output, const AllreduceOptions& options) {
  check_cpu("allreduce", "input", input);
  check_cpu("allreduce", "output", output);
  Collective c;
  c.descriptor = {.kind = OpKind::Allreduce, .dtype = input.dtype, .op = options.op, .count = input.count};
  c.args = base_args(OpKind::Allreduce, input, input.count);
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  if (options.op == ReduceOp::Avg) c.scale_count = output.count;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::reduce(TensorView input, TensorView output, const ReduceOptions& options) {
  check_cpu("reduce", "input", input);
  bool root = context_.rank == options.root;
  if (root) check_cpu("reduce", "output", output);
  Collective c;
  c.descriptor = {.kind = OpKind::Reduce,
                  .dtype = input.dtype,
                  .op = options.op,
                  .root = options.root,
                  .count = input.count};
  c.args = base_args(OpKind::Reduce, input, input.count);
  c.args.root = options.root;
  c.buffers = {input.data, root ? output.data : nullptr, nullptr};
  c.algorithm = options.algorithm;
  if (!root) c.stand_in_bytes = input.bytes();
  if (options.op == ReduceOp::Avg && root) c.scale_count = output.count;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::broadcast(TensorView buffer, const RootOptions& options) {
  check_cpu("broadcast", "buffer", buffer);
  Collective c;
  c.descriptor = {
      .kind = OpKind::Broadcast, .dtype = buffer.dtype, .root = options.root, .count = buffer.count};
  c.args = base_args(OpKind::Broadcast, buffer, buffer.count);
  c.args.root = options.root;
  c.buffers = {buffer.data, buffer.data, nullptr};
  c.algorithm = options.algorithm;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::allgather(TensorView input, TensorView output, const CollectiveOptions& options) {
  check_cpu("allgather", "input", input);
  check_cpu("allgather", "output", output);
  Collective c;
  c.descriptor = {.kind = OpKind::Allgather, .dtype = input.dtype, .count = input.count};
  c.args = base_args(OpKind::Allgather, input, input.count);
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::allgatherv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                                  const CollectiveOptions& options) {
  check_cpu("allgatherv", "input", input);
  check_cpu("allgatherv", "output", output);
  Collective c;
  c.descriptor = {.kind = OpKind::Allgatherv,
                  .dtype = input.dtype,
                  .count = output.count,
                  .counts_hash = hash_counts(counts)};
  c.args = base_args(OpKind::Allgatherv, input, input.count);
  c.args.counts = counts;
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::reduce_scatter(TensorView input, TensorView output,
                                      const ReduceScatterOptions& options) {
  check_cpu("reduce_scatter", "input", input);
  check_cpu("reduce_scatter", "output", output);
  Collective c;
  c.descriptor = {
      .kind = OpKind::ReduceScatter, .dtype = input.dtype, .op = options.op, .count = output.count};
  c.args = base_args(OpKind::ReduceScatter, input, output.count);
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  if (options.op == ReduceOp::Avg) c.scale_count = output.count;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::reduce_scatterv(TensorView input, TensorView output,
                                       const std::vector<uint64_t>& counts,
                                       const ReduceScatterOptions& options) {
  check_cpu("reduce_scatterv", "input", input);
  check_cpu("reduce_scatterv", "output", output);
  Collective c;
  c.descriptor = {.kind = OpKind::ReduceScatterv,
                  .dtype = input.dtype,
                  .op = options.op,
                  .count = input.count,
                  .counts_hash = hash_counts(counts)};
  c.args = base_args(OpKind::ReduceScatterv, input, output.count);
  c.args.counts = counts;
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  if (options.op == ReduceOp::Avg) c.scale_count = output.count;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::alltoall(TensorView input, TensorView output, const CollectiveOptions& options) {
  check_cpu("alltoall", "input", input);
  check_cpu("alltoall", "output", output);
  Collective c;
  uint64_t block = input.count / context_.size();
  c.descriptor = {.kind = OpKind::Alltoall, .dtype = input.dtype, .count = block};
  c.args = base_args(OpKind::Alltoall, input, block);
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::alltoallv(TensorView input, TensorView output,
                                 const std::vector<uint64_t>& send_counts,
                                 const std::vector<uint64_t>& recv_counts, const CollectiveOptions& options) {
  check_cpu("alltoallv", "input", input);
  check_cpu("alltoallv", "output", output);
  Collective c;
  // Each rank knows only its own row and column of the count matrix; the
  // transports check every message's length against the receiver's count.
  c.descriptor = {.kind = OpKind::Alltoallv, .dtype = input.dtype};
  c.args = base_args(OpKind::Alltoallv, input, 0);
  // The algorithms take the n x n matrix (counts[i*n+j]: rank i to rank j);
  // this rank fills the row and the column it knows, which is all a
  // rank's schedule reads.
  const size_t n = static_cast<size_t>(context_.size());
  const size_t me = static_cast<size_t>(context_.rank);
  c.args.counts.assign(n * n, 0);
  for (size_t j = 0; j < n; ++j) {
    c.args.counts[me * n + j] = send_counts[j];
    c.args.counts[j * n + me] = recv_counts[j];
  }
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::gather(TensorView input, TensorView output, const RootOptions& options) {
  check_cpu("gather", "input", input);
  bool root = context_.rank == options.root;
  if (root) check_cpu("gather", "output", output);
  Collective c;
  c.descriptor = {.kind = OpKind::Gather, .dtype = input.dtype, .root = options.root, .count = input.count};
  c.args = base_args(OpKind::Gather, input, input.count);
  c.args.root = options.root;
  c.buffers = {input.data, root ? output.data : nullptr, nullptr};
  c.algorithm = options.algorithm;
  if (!root) c.stand_in_bytes = input.bytes() * context_.size();
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::scatter(TensorView input, TensorView output, const RootOptions& options) {
  check_cpu("scatter", "output", output);
  bool root = context_.rank == options.root;
  if (root) check_cpu("scatter", "input", input);
  Collective c;
  c.descriptor = {
      .kind = OpKind::Scatter, .dtype = output.dtype, .root = options.root, .count = output.count};
  c.args = base_args(OpKind::Scatter, output, output.count);
  c.args.root = options.root;
  c.buffers = {root ? input.data : nullptr, output.data, nullptr};
  c.algorithm = options.algorithm;
  if (!root) {
    c.stand_in_bytes = output.bytes() * context_.size();
    c.stand_in = BufferId::Input;
  }
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::barrier(const CollectiveOptions& options) {
  Collective c;
  c.descriptor = {.kind = OpKind::Barrier, .dtype = DType::U8};
  c.args = base_args(OpKind::Barrier, TensorView{nullptr, 0, DType::U8}, 0);
  c.algorithm = options.algorithm;
  return submit(std::move(c), timeout_of(options.timeout));
}

WorkPtr NativeBackend::submit_p2p(OpKind kind, TensorView buffer, int peer, uint64_t tag,
                                  std::chrono::milliseconds timeout) {
  check_cpu(peer < 0 ? "recv_any" : op_kind_name(kind), "buffer", buffer);
  auto work = std::make_shared<Work>(
      OpDescriptor{.kind = kind, .dtype = buffer.dtype, .root = peer, .count = buffer.count, .seq = tag});
  std::lock_guard lock(p2p_mutex_);
  if (!open_batch_) {
    open_batch_ = std::make_shared<PointToPointBatch>();
    thread_->submit([this, batch = open_batch_] { run_p2p_batch(batch); });
  }
  open_batch_->waiting.push_back(PointToPoint{work, kind, buffer, peer, tag, timeout, peer < 0});
  return work;
}

void NativeBackend::close_p2p_batch() {
  std::lock_guard lock(p2p_mutex_);
  open_batch_.reset();
}

void NativeBackend::run_p2p_batch(const std::shared_ptr<PointToPointBatch>& batch) {
  // Point-to-point operations submitted back to back run together, as if
  // posted at once: a rank may send before it receives in a ring of ranks
  // that all do the same, whatever the message size. Operations submitted
  // while the batch runs join it, until a collective is submitted (call
  // order) or the batch has nothing left to do.
  std::deque<PointToPoint> running;
  std::deque<SendRequest> sends;  // deques: posted requests must not move
  std::deque<RecvRequest> recvs;
  auto post_recv = [&](PointToPoint& p) {
    auto* dst = static_cast<uint8_t*>(p.buffer.data);
    recvs.push_back(RecvRequest{.peer = p.peer,
                                .bytes = p.buffer.bytes(),
                                .tag = kPointToPointBit | p.tag,
                                .consumer = [dst](uint64_t offset, const void* data, size_t bytes) {
                                  std::memcpy(dst + offset, data, bytes);
                                }});
    p.recv = &recvs.back();
    executor_->post(p.recv);
  };
  auto take_new = [&] {
    std::lock_guard lock(p2p_mutex_);
    bool any = !batch->waiting.empty();
    while (!batch->waiting.empty()) {
      running.push_back(std::move(batch->waiting.front()));
      batch->waiting.pop_front();
    }
    return any;
  };
  auto fail_all = [&](std::exception_ptr error) {
    close_if_open(batch);
    take_new();
    for (PointToPoint& p : running) p.work->fail(error);
  };
  if (failed_) {
    fail_all(failed_);
    return;
  }
  try {
    size_t started = 0;
    bool spinning = false;
    auto spin_end = std::chrono::steady_clock::time_point{};
    while (true) {
      take_new();
      for (; started < running.size(); ++started) {
        PointToPoint& p = running[started];
        p.deadline = std::chrono::steady_clock::now() + p.timeout;
        uint64_t wire_tag = kPointToPointBit | p.tag;
        if (p.any_source) continue;  // posted once a sender is claimed, below
        if (p.kind == OpKind::Send) {
          sends.push_back(
              SendRequest{.peer = p.peer, .data = p.buffer.data, .bytes = p.buffer.bytes(), .tag = wire_tag});
          p.send = &sends.back();
          executor_->post(p.send);
        } else {
          post_recv(p);
        }
      }
      bool moved = executor_->progress();
      // Any-source receives in call order, each after the progress pass
      // that read what has arrived. A claimed peer has a posted receive, so
      // the next one cannot claim its message again.
      for (size_t i = 0; i < started; ++i) {
        PointToPoint& p = running[i];
        if (!p.any_source || p.recv != nullptr) continue;
        const int peer = claim_any_source(kPointToPointBit | p.tag);
        if (peer < 0) continue;
        p.peer = peer;
        post_recv(p);
        moved = true;
      }
      bool all_done = true;
      std::vector<int> pending_peers;
      auto now = std::chrono::steady_clock::now();
      for (PointToPoint& p : running) {
        if (p.done) continue;
        if ((p.send != nullptr && p.send->complete) || (p.recv != nullptr && p.recv->complete)) {
          p.done = true;
          if (p.any_source) p.work->set_source_rank(p.peer);
          p.work->complete();
          continue;
        }
        all_done = false;
        const bool unclaimed = p.any_source && p.recv == nullptr;
        if (unclaimed) {
          for (int r = 0; r < context_.size(); ++r) {
            if (r != context_.rank) pending_peers.push_back(r);
          }
        } else {
          pending_peers.push_back(p.peer);
        }
        if (now >= p.deadline) {
          raise(ErrorCode::Timeout, "rank {}: {} of {} {} elements with {} (tag {}): Timed out after {} ms",
                context_.rank, p.any_source ? "recv_any" : op_kind_name(p.kind), p.buffer.count,
                dtype_name(p.buffer.dtype),
                unclaimed ? std::string("any rank") : fmt::format("rank {}", p.peer), p.tag,
                p.timeout.count());
        }
      }
      if (all_done) {
        std::lock_guard lock(p2p_mutex_);
        if (batch->waiting.empty()) {
          if (open_batch_ == batch) open_batch_.reset();
          return;
        }
        continue;
      }
      if (moved) {
        spinning = false;
        continue;
      }
      if (!spinning) {
        spinning = true;
        spin_end = now + spin_;
      }
      if (now < spin_end) {
        if (yield_) sched_yield();
        continue;
      }
      executor_->wait_for(pending_peers, kP2PMaxSleep);
    }
  } catch (...) {
    fail(std::current_exception());
    for (PointToPoint& p : running) {
      if (!p.done) p.work->fail(failed_);
    }
    close_if_open(batch);
    take_new();
    for (PointToPoint& p : running) {
      if (!p.done) p.work->fail(failed_);
    }
  }
}

int NativeBackend::claim_any_source(uint64_t wire_tag) {
  const int n = context_.size();
  for (int i = 0; i < n; ++i) {
    const int peer = (any_source_next_ + i) % n;
    if (peer == context_.rank) continue;
    // A dead peer with nothing buffered throws here: an any-source receive
    // needs every peer, as the first message might be any one's.
    std::optional<MessageHeader> next = executor_->probe(peer);
    if (!next || next->tag != wire_tag) continue;  // another tag waits for its own receive
    any_source_next_ = (peer + 1) % n;
    return peer;
  }
  return -1;
}

void NativeBackend::close_if_open(const std::shared_ptr<PointToPointBatch>& batch) {
  std::lock_guard lock(p2p_mutex_);
  if (open_batch_ == batch) open_batch_.reset();
}

WorkPtr NativeBackend::send(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options) {
  return submit_p2p(OpKind::Send, buffer, peer, tag, timeout_of(options.timeout));
}

WorkPtr NativeBackend::recv(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options) {
  return submit_p2p(OpKind::Recv, buffer, peer, tag, timeout_of(options.timeout));
}

WorkPtr NativeBackend::recv_any(TensorView buffer, uint64_t tag, const CollectiveOptions& options) {
  return submit_p2p(OpKind::Recv, buffer, -1, tag, timeout_of(options.timeout));
}

}  // namespace

std::unique_ptr<Backend> make_native_backend(const BackendContext& context) {
  return std::make_unique<NativeBackend>(context);
}

}  // namespace myriad
