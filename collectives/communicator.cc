#include "collectives/communicator.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <numeric>

#include "collectives/validate.h"
#include "runtime/config.h"
#include "runtime/heartbeat.h"
#include "runtime/logging.h"

namespace myriad {
namespace {

constexpr std::string_view kDefaultBackend = "native";

// Communicators are created collectively in the same order on every rank,
// so a per-process counter yields the same id on every rank.
std::atomic<int> g_world_communicators{0};

std::chrono::milliseconds default_timeout(std::chrono::milliseconds requested) {
  if (requested.count() > 0) return requested;
  return config::read_duration(Env::process(), "MYRIAD_TIMEOUT");
}

// The id becomes part of store keys and shared-memory segment names.
constexpr size_t kMaxIdBytes = 64;
void validate_id(const std::string& id) {
  bool ok = id.size() <= kMaxIdBytes;
  for (char c : id) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    raise(ErrorCode::InvalidArgument, "communicator id '{}': use at most {} letters, digits, '.', '_' or '-'",
          id, kMaxIdBytes);
  }
}

// Every operation goes into the backend under the communicator's mutex,
// taken here: a submission is also the rank's sign of life for its agent
// (runtime/heartbeat.h: a clock read and two relaxed atomics, no syscall).
std::unique_lock<std::mutex> submitting(std::mutex& mutex) {
  heartbeat::beat();
  return std::unique_lock(mutex);
}

}  // namespace

std::shared_ptr<Communicator> Communicator::create(std::shared_ptr<World> world,
                                                   CommunicatorOptions options) {
  BackendContext context;
  context.group.resize(world->size());
  std::iota(context.group.begin(), context.group.end(), 0);
  context.rank = world->rank();
  context.world = std::move(world);
  if (options.id.empty()) {
    context.comm_id = fmt::format("c{}", g_world_communicators.fetch_add(1));
  } else {
    validate_id(options.id);
    context.comm_id = options.id;
  }
  context.timeout = default_timeout(options.timeout);
  std::string backend =
      options.backend.empty()
          ? config::get_string(Env::process(), "MYRIAD_BACKEND").value_or(std::string(kDefaultBackend))
          : std::move(options.backend);
  return std::shared_ptr<Communicator>(new Communicator(std::move(context), backend));
}

Communicator::Communicator(BackendContext context, std::string backend) : context_(std::move(context)) {
  // The round (MYRIAD_RESTART_COUNT) is part of the keys: a restarted rank must not read the
  // endpoints its dead predecessor published under the same communicator id.
  context_.store = std::make_shared<PrefixStore>(
      fmt::format("comm/{}/{}", context_.world->info().restart_count, context_.comm_id),
      context_.world->shared_store());
  const std::vector<std::string>& nodes = context_.world->nodes();
  const std::string& my_node = nodes[context_.group[context_.rank]];
  local_size_ = 0;
  for (int r = 0; r < size(); ++r) {
    if (nodes[context_.group[r]] != my_node) continue;
    if (r == context_.rank) local_rank_ = local_size_;
    ++local_size_;
  }
  backend_ = make_backend(backend, context_);
  MYRIAD_LOG_DEBUG("communicator {}: rank {} of {}, backend {}", context_.comm_id, rank(), size(), backend);
}

Communicator::~Communicator() = default;

const std::string& Communicator::node() const {
  return context_.world->nodes()[context_.group[context_.rank]];
}

std::shared_ptr<Communicator> Communicator::split(int color, int key) {
  int split_index;
  std::vector<int64_t> mine = {color, key};
  std::vector<int64_t> all(2 * static_cast<size_t>(size()));
  {
    std::lock_guard lock(mutex_);
    split_index = splits_++;
  }
  allgather(TensorView{mine.data(), 2, DType::I64}, TensorView{all.data(), all.size(), DType::I64})->wait();
  if (color < 0) return nullptr;

  std::vector<int> members;  // communicator ranks of the new group
  for (int r = 0; r < size(); ++r) {
    if (all[2 * r] == color) members.push_back(r);
  }
  std::stable_sort(members.begin(), members.end(),
                   [&](int a, int b) { return all[2 * a + 1] < all[2 * b + 1]; });

  BackendContext context;
  context.world = context_.world;
  context.timeout = context_.timeout;
  for (int r : members) {
    if (r == rank()) context.rank = static_cast<int>(context.group.size());
    context.group.push_back(context_.group[r]);
  }
  context.comm_id = fmt::format("{}.s{}.{}", context_.comm_id, split_index, color);
  return std::shared_ptr<Communicator>(new Communicator(std::move(context), std::string(backend_->name())));
}

void Communicator::abort(const std::string& reason) {
  backend_->abort(Error(ErrorCode::PeerFailure, fmt::format("rank {}: communicator {} aborted: {}", rank(),
                                                            context_.comm_id, reason)));
}

WorkPtr Communicator::allreduce(TensorView buffer, const AllreduceOptions& options) {
  return allreduce(buffer, buffer, options);
}

WorkPtr Communicator::allreduce(TensorView input, TensorView output, const AllreduceOptions& options) {
  validate::same_shape("allreduce", input, output);
  validate::reduction("allreduce", input.dtype, options.op);
  auto lock = submitting(mutex_);
  return backend_->allreduce(input, output, options);
}

WorkPtr Communicator::reduce(TensorView input, TensorView output, const ReduceOptions& options) {
  validate::root("reduce", options.root, size());
  validate::buffer("reduce", "input", input);
  validate::reduction("reduce", input.dtype, options.op);
  if (rank() == options.root) validate::same_shape("reduce", input, output);
  auto lock = submitting(mutex_);
  return backend_->reduce(input, output, options);
}

WorkPtr Communicator::broadcast(TensorView buffer, const RootOptions& options) {
  validate::root("broadcast", options.root, size());
  validate::buffer("broadcast", "buffer", buffer);
  auto lock = submitting(mutex_);
  return backend_->broadcast(buffer, options);
}

WorkPtr Communicator::allgather(TensorView input, TensorView output, const CollectiveOptions& options) {
  validate::blocks("allgather", input, "input", output, "output", size());
  auto lock = submitting(mutex_);
  return backend_->allgather(input, output, options);
}

WorkPtr Communicator::allgatherv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                                 const CollectiveOptions& options) {
  validate::counts("allgatherv", counts, "counts", size(), rank(), input, "input", output, "output");
  auto lock = submitting(mutex_);
  return backend_->allgatherv(input, output, counts, options);
}

WorkPtr Communicator::reduce_scatter(TensorView input, TensorView output,
                                     const ReduceScatterOptions& options) {
  validate::blocks("reduce_scatter", output, "output", input, "input", size());
  validate::reduction("reduce_scatter", input.dtype, options.op);
  auto lock = submitting(mutex_);
  return backend_->reduce_scatter(input, output, options);
}

WorkPtr Communicator::reduce_scatterv(TensorView input, TensorView output,
                                      const std::vector<uint64_t>& counts,
                                      const ReduceScatterOptions& options) {
  validate::counts("reduce_scatterv", counts, "counts", size(), rank(), output, "output", input, "input");
  validate::reduction("reduce_scatterv", input.dtype, options.op);
  auto lock = submitting(mutex_);
  return backend_->reduce_scatterv(input, output, counts, options);
}

WorkPtr Communicator::alltoall(TensorView input, TensorView output, const CollectiveOptions& options) {
  validate::same_shape("alltoall", input, output);
  validate::divisible("alltoall", "input", input, size());
  auto lock = submitting(mutex_);
  return backend_->alltoall(input, output, options);
}

WorkPtr Communicator::alltoallv(TensorView input, TensorView output, const std::vector<uint64_t>& send_counts,
                                const std::vector<uint64_t>& recv_counts, const CollectiveOptions& options) {
  validate::packed("alltoallv", send_counts, "send_counts", size(), input, "input");
  validate::packed("alltoallv", recv_counts, "recv_counts", size(), output, "output");
  validate::same_dtype("alltoallv", input, output);
  auto lock = submitting(mutex_);
  return backend_->alltoallv(input, output, send_counts, recv_counts, options);
}

WorkPtr Communicator::gather(TensorView input, TensorView output, const RootOptions& options) {
  validate::root("gather", options.root, size());
  validate::buffer("gather", "input", input);
  if (rank() == options.root) validate::blocks("gather", input, "input", output, "output", size());
  auto lock = submitting(mutex_);
  return backend_->gather(input, output, options);
}

WorkPtr Communicator::scatter(TensorView input, TensorView output, const RootOptions& options) {
  validate::root("scatter", options.root, size());
  validate::buffer("scatter", "output", output);
  if (rank() == options.root) validate::blocks("scatter", output, "output", input, "input", size());
  auto lock = submitting(mutex_);
  return backend_->scatter(input, output, options);
}

WorkPtr Communicator::barrier(const CollectiveOptions& options) {
  auto lock = submitting(mutex_);
  return backend_->barrier(options);
}

WorkPtr Communicator::send(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options) {
  validate::peer("send", peer, size(), rank());
  validate::buffer("send", "buffer", buffer);
  auto lock = submitting(mutex_);
  return backend_->send(buffer, peer, tag, options);
}

WorkPtr Communicator::recv(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options) {
  validate::peer("recv", peer, size(), rank());
  validate::buffer("recv", "buffer", buffer);
  auto lock = submitting(mutex_);
  return backend_->recv(buffer, peer, tag, options);
}

WorkPtr Communicator::recv_any(TensorView buffer, uint64_t tag, const CollectiveOptions& options) {
  validate::buffer("recv_any", "buffer", buffer);
  if (size() < 2) {
    raise(ErrorCode::InvalidArgument, "recv_any: rank {} is alone in its communicator: no peer can send",
          rank());
  }
  auto lock = submitting(mutex_);
  return backend_->recv_any(buffer, tag, options);
}

}  // namespace myriad
