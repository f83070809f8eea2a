#include "python/src/process_group.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <random>

#include "myriad_config.h"
#include "python/src/dtype_map.h"
#include "python/src/torch_store.h"
#include "python/src/work.h"
#include "runtime/bootstrap.h"
#include "runtime/logging.h"

#if MYRIAD_HAVE_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace myriad::torch_backend {
namespace {

using c10d::OpType;
using WorkHandle = c10::intrusive_ptr<c10d::Work>;

// Store key under which group rank 0 publishes the group's id.
constexpr const char* kIdKey = "myriad/id";

std::string random_id() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> dist;
  return fmt::format("{:012x}", dist(device) & 0xffffffffffffULL);
}

// Zero means the communicator's default (torch's unset timeout is negative).
std::chrono::milliseconds per_call(std::chrono::milliseconds timeout) {
  return timeout.count() > 0 ? timeout : std::chrono::milliseconds(0);
}

// Runs `body`, turning an argument error of the runtime into a c10::Error
// (a RuntimeError in Python) with the runtime's message.
template <typename Fn>
WorkHandle guarded(Fn&& body) {
  try {
    return body();
  } catch (const Error& e) {
    TORCH_CHECK(false, "myriad: ", e.what());
  }
}

// What a call needs besides the Myriad operations: contiguous stand-ins for
// the user's tensors, and the copies that put results back.
class Staging {
 public:
  // Read and written: a contiguous tensor with t's data, copied back into t.
  at::Tensor inout(const at::Tensor& t) {
    if (t.is_contiguous()) return keep(t);
    at::Tensor buffer = t.contiguous();
    copy_back(t, buffer);
    return buffer;
  }
  // Read only.
  at::Tensor in(const at::Tensor& t) {
    keep(t);
    return t.is_contiguous() ? t : keep(t.contiguous());
  }
  // Written only.
  at::Tensor out(const at::Tensor& t) {
    if (t.is_contiguous()) return keep(t);
    at::Tensor buffer = at::empty(t.sizes(), t.options().memory_format(at::MemoryFormat::Contiguous));
    copy_back(t, buffer);
    return buffer;
  }
  // Read only: the tensors packed one after another (flattened), as one contiguous tensor.
  at::Tensor packed(const std::vector<at::Tensor>& tensors, const at::TensorOptions& options) {
    std::vector<at::Tensor> flat;
    for (const at::Tensor& t : tensors) flat.push_back(t.reshape({-1}));
    return keep(flat.empty() ? at::empty({0}, options) : at::cat(flat));
  }
  // Written only: a contiguous tensor whose consecutive slices are copied
  // into `tensors` when the operation finishes.
  at::Tensor unpacked(const std::vector<at::Tensor>& tensors, const at::TensorOptions& options) {
    int64_t total = 0;
    for (const at::Tensor& t : tensors) total += t.numel();
    at::Tensor buffer = keep(at::empty({total}, options));
    int64_t offset = 0;
    for (const at::Tensor& t : tensors) {
      copy_back(t, buffer.narrow(0, offset, t.numel()));
      offset += t.numel();
    }
    return buffer;
  }
  at::Tensor keep(const at::Tensor& t) {
    kept_.push_back(t);
    return t;
  }
  void copy_back(const at::Tensor& dst, const at::Tensor& src) { copies_.emplace_back(dst, src); }

  WorkHandle work(int rank, OpType type, std::vector<at::Tensor> outputs, const std::vector<WorkPtr>& ops) {
    std::function<void()> finish;
    if (!copies_.empty()) {
      finish = [copies = std::move(copies_)] {
        for (const auto& [dst, src] : copies) dst.copy_(src.view(dst.sizes()));
      };
    }
    return TorchWork::track(
        c10::make_intrusive<TorchWork>(rank, type, std::move(outputs), std::move(kept_), std::move(finish)),
        ops);
  }

 private:
  std::vector<at::Tensor> kept_;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies_;
};

// The one device every tensor of a call is on.
at::Device common_device(const std::vector<at::Tensor>& tensors, std::string_view operation) {
  TORCH_CHECK(!tensors.empty(), "myriad: ", operation, " got no tensors");
  for (const at::Tensor& t : tensors) {
    TORCH_CHECK(t.device() == tensors[0].device(), "myriad: ", operation, " got tensors on ",
                tensors[0].device(), " and ", t.device(), "; one call takes tensors on one device");
    TORCH_CHECK(t.layout() == at::kStrided, "myriad: ", operation, " takes dense tensors, got layout ",
                t.layout());
  }
  return tensors[0].device();
}

void same_type(const at::Tensor& a, const at::Tensor& b, std::string_view operation) {
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "myriad: ", operation, " got dtypes ", a.scalar_type(),
              " and ", b.scalar_type(), "; they must match");
}

void one_list(size_t lists, std::string_view operation) {
  TORCH_CHECK(lists == 1, "myriad: ", operation, " takes one tensor (list) per process, got ", lists);
}

TensorView empty_view() {
  return TensorView{nullptr, 0, DType::U8};
}

// PREMUL_SUM (torch.distributed._make_nccl_premul_sum): each rank's input
// is multiplied by a factor, a number or a one-element tensor, before the sum.
struct Premul {
  at::Tensor tensor;  // defined when the factor is a tensor
  double factor = 1.0;

  // t times the factor, in t's type (a new tensor).
  at::Tensor times(const at::Tensor& t) const {
    at::Tensor product = tensor.defined() ? at::mul(t, tensor.reshape({})) : at::mul(t, factor);
    return product.scalar_type() == t.scalar_type() ? product : product.to(t.scalar_type());
  }
};

// For a PREMUL_SUM `op`: its factor, and `op` becomes SUM; otherwise nullopt.
std::optional<Premul> take_premul(c10d::ReduceOp& op, std::string_view operation) {
  if (op.op_ != c10d::ReduceOp::PREMUL_SUM) return std::nullopt;
  const auto* supplement = dynamic_cast<const c10d::PreMulSumSupplement*>(op.supplement_.get());
  TORCH_CHECK(supplement != nullptr, "myriad: ", operation,
              " got PREMUL_SUM without a factor; make the op with torch.distributed._make_nccl_premul_sum");
  Premul premul{supplement->tensor_factor, supplement->double_factor};
  op = c10d::ReduceOp(c10d::ReduceOp::SUM);
  return premul;
}

}  // namespace

ProcessGroupMyriad::ProcessGroupMyriad(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                       std::chrono::milliseconds timeout)
    : c10d::Backend(rank, size), timeout_(timeout) {
  // A restarted job may get the same store as its previous round (torchrun
  // shares its agent's store with the workers): the round is part of every
  // key, so no rank reads the group id or the endpoints of a dead predecessor.
  const int round = detect_restart_count(Env::process());
  auto myriad_store =
      std::make_shared<PrefixStore>(fmt::format("round/{}", round), std::make_shared<TorchStore>(store));
  // Shared-memory segment names are machine-wide: each process group gets
  // an id of its own, drawn by its rank 0.
  if (rank == 0) {
    id_ = random_id();
    myriad_store->set(kIdKey, id_);
  } else {
    id_ = myriad_store->get(kIdKey, timeout);
  }
  BootstrapInfo job;
  try {
    job = detect_bootstrap(Env::process());
  } catch (const Error&) {
    job.node = host_name();  // torch's own variables decide the ranks here
  }
  BootstrapInfo info;
  info.rank = rank;
  info.world_size = size;
  info.node = job.node;
  info.source = "torch";
  info.restart_count = round;
  // The launcher removes leftover segments of its run id: keep it when set.
  info.run_id = job.run_id.empty() ? "t" + id_ : job.run_id;
  if (size == job.world_size) {
    info.local_rank = job.local_rank;
    info.local_world_size = job.local_world_size;
  }
  world_ = World::join(info, myriad_store);
  set_log_rank(job.rank);  // logs name the job's rank, not the group's
  CommunicatorOptions options;
  options.timeout = timeout;
  options.id = "pg" + id_;
  cpu_ = Communicator::create(world_, options);
}

ProcessGroupMyriad::~ProcessGroupMyriad() = default;

void ProcessGroupMyriad::abort() {
  std::lock_guard lock(mutex_);
  if (cpu_) cpu_->abort("torch.distributed aborted the process group");
  if (cuda_) cuda_->abort("torch.distributed aborted the process group");
}

void ProcessGroupMyriad::shutdown() {
  std::lock_guard lock(mutex_);
  // The communicators finish what is queued, then close.
  cpu_.reset();
  cuda_.reset();
}

std::shared_ptr<Communicator> ProcessGroupMyriad::communicator(const at::Device& device) {
  std::lock_guard lock(mutex_);
  if (device.is_cpu()) {
    TORCH_CHECK(cpu_ != nullptr, "myriad: the process group was shut down");
    return cpu_;
  }
  TORCH_CHECK(device.is_cuda(), "myriad: tensors on ", device, " are not supported; use cpu or cuda tensors");
#if MYRIAD_HAVE_CUDA
  // The nccl backend waits for the default stream; work queued on another
  // current stream is waited for here.
  c10::cuda::CUDAStream stream = c10::cuda::getCurrentCUDAStream(device.index());
  if (stream != c10::cuda::getDefaultCUDAStream(device.index())) stream.synchronize();
  if (!cuda_) {
    CommunicatorOptions options;
    options.backend = "nccl";
    options.timeout = timeout_;
    options.id = "pg" + id_ + "-cuda";
    cuda_ = Communicator::create(world_, options);
  }
  return cuda_;
#else
  TORCH_CHECK(false, "myriad: this build of Myriad has no CUDA support; cuda tensors cannot be used");
  return nullptr;  // not reached: a build without optimization does not know that TORCH_CHECK(false) throws
#endif
}

WorkHandle ProcessGroupMyriad::broadcast(std::vector<at::Tensor>& tensors,
                                         const c10d::BroadcastOptions& opts) {
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "broadcast"));
    Staging staging;
    std::vector<WorkPtr> ops;
    RootOptions options;
    options.root = static_cast<int>(opts.rootRank);
    options.timeout = per_call(opts.timeout);
    for (const at::Tensor& t : tensors) ops.push_back(comm->broadcast(byte_view(staging.inout(t)), options));
    ++seq_;
    return staging.work(rank_, OpType::BROADCAST, tensors, ops);
  });
}

WorkHandle ProcessGroupMyriad::allreduce(std::vector<at::Tensor>& tensors,
                                         const c10d::AllreduceOptions& opts) {
  if (!tensors.empty() && tensors[0].is_sparse()) return allreduce_sparse(tensors, opts);
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "allreduce"));
    c10d::ReduceOp op = opts.reduceOp;
    std::optional<Premul> premul = take_premul(op, "allreduce");
    AllreduceOptions options;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<WorkPtr> ops;
    for (const at::Tensor& t : tensors) {
      // Per tensor: a bool tensor's op differs from an int's (logical or/and on bytes).
      Reduction reduction = reduction_for(t, op, "allreduce");
      options.op = reduction.op;
      DType dtype = reduction.dtype;
      at::Tensor buffer = staging.inout(t);
      if (premul) buffer.copy_(premul->times(buffer));  // in place: the result replaces it anyway
      ops.push_back(comm->allreduce(element_view(buffer, dtype), options));
    }
    ++seq_;
    return staging.work(rank_, OpType::ALLREDUCE, tensors, ops);
  });
}

WorkHandle ProcessGroupMyriad::allreduce_coalesced(std::vector<at::Tensor>& tensors,
                                                   const c10d::AllreduceCoalescedOptions& opts) {
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "allreduce_coalesced"));
    c10d::ReduceOp op = opts.reduceOp;
    std::optional<Premul> premul = take_premul(op, "allreduce_coalesced");
    AllreduceOptions options;
    Reduction reduction = reduction_for(tensors[0], op, "allreduce_coalesced");
    options.op = reduction.op;
    options.timeout = per_call(opts.timeout);
    DType dtype = reduction.dtype;
    for (const at::Tensor& t : tensors) same_type(tensors[0], t, "allreduce_coalesced");
    // One operation on the tensors packed together.
    Staging staging;
    at::Tensor flat = staging.packed(tensors, tensors[0].options());
    if (premul) flat.copy_(premul->times(flat));  // a copy of the inputs
    int64_t offset = 0;
    for (const at::Tensor& t : tensors) {
      staging.copy_back(t, flat.narrow(0, offset, t.numel()));
      offset += t.numel();
    }
    std::vector<WorkPtr> ops = {comm->allreduce(element_view(flat, dtype), options)};
    ++seq_;
    return staging.work(rank_, OpType::ALLREDUCE_COALESCED, tensors, ops);
  });
}

WorkHandle ProcessGroupMyriad::reduce(std::vector<at::Tensor>& tensors, const c10d::ReduceOptions& opts) {
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "reduce"));
    c10d::ReduceOp op = opts.reduceOp;
    std::optional<Premul> premul = take_premul(op, "reduce");
    ReduceOptions options;
    options.root = static_cast<int>(opts.rootRank);
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<WorkPtr> ops;
    for (const at::Tensor& t : tensors) {
      Reduction reduction = reduction_for(t, op, "reduce");
      options.op = reduction.op;
      DType dtype = reduction.dtype;
      at::Tensor buffer;
      if (premul) {
        // Scaled on a copy: a non-root's tensor is left as it was.
        buffer = staging.keep(premul->times(t).contiguous());
        if (rank_ == options.root) staging.copy_back(t, buffer);
      } else {
        buffer = staging.inout(t);
      }
      TensorView view = element_view(buffer, dtype);
      ops.push_back(comm->reduce(view, view, options));
    }
    ++seq_;
    return staging.work(rank_, OpType::REDUCE, tensors, ops);
  });
}

WorkHandle ProcessGroupMyriad::allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                         std::vector<at::Tensor>& inputs,
                                         const c10d::AllgatherOptions& opts) {
  return guarded([&] {
    one_list(inputs.size(), "allgather");
    one_list(outputs.size(), "allgather");
    const at::Tensor& input = inputs[0];
    std::shared_ptr<Communicator> comm = communicator(common_device(inputs, "allgather"));
    TORCH_CHECK(outputs[0].size() == static_cast<size_t>(size_), "myriad: allgather needs ", size_,
                " output tensors (one per rank), got ", outputs[0].size());
    for (const at::Tensor& t : outputs[0]) {
      same_type(input, t, "allgather");
      TORCH_CHECK(t.numel() == input.numel(), "myriad: allgather output tensors must have the input's ",
                  input.numel(), " elements, got ", t.numel());
    }
    CollectiveOptions options;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    at::Tensor in = staging.in(input);
    at::Tensor out = staging.unpacked(outputs[0], input.options());
    std::vector<WorkPtr> ops = {comm->allgather(byte_view(in), byte_view(out), options)};
    ++seq_;
    return staging.work(rank_, OpType::ALLGATHER, outputs[0], ops);
  });
}

WorkHandle ProcessGroupMyriad::allreduce_sparse(std::vector<at::Tensor>& tensors,
                                                const c10d::AllreduceOptions& opts) {
  return guarded([&] {
    one_list(tensors.size(), "allreduce of a sparse tensor");
    at::Tensor tensor = tensors[0];
    TORCH_CHECK(tensor.layout() == at::kSparse,
                "myriad: allreduce_sparse takes a sparse COO tensor, got layout ", tensor.layout());
    TORCH_CHECK(tensor.is_cpu(), "myriad: allreduce of a sparse tensor takes cpu tensors, got ",
                tensor.device());
    TORCH_CHECK(opts.reduceOp == c10d::ReduceOp::SUM,
                "myriad: allreduce of a sparse tensor supports SUM only (as gloo)");
    std::shared_ptr<Communicator> comm = communicator(tensor.device());
    CollectiveOptions options;
    options.timeout = per_call(opts.timeout);
    const at::Tensor input = tensor.coalesce();
    const at::Tensor indices = input._indices().contiguous();  // sparse_dim x nnz
    const at::Tensor values = input._values().contiguous();    // nnz x dense sizes
    const int64_t nnz = input._nnz();
    // First every rank's nnz and sizes (which must agree), on this thread:
    // the gathers of indices and values need every rank's count.
    std::vector<int64_t> meta = {nnz, input.sparse_dim()};
    for (int64_t d : input.sizes()) meta.push_back(d);
    const auto width = static_cast<int64_t>(meta.size());
    at::Tensor mine = at::tensor(meta, at::kLong);
    at::Tensor all = at::empty({size_, width}, at::kLong);
    comm->allgather(byte_view(mine), byte_view(all), options)->wait();
    std::vector<uint64_t> index_bytes(size_);
    std::vector<uint64_t> value_bytes(size_);
    std::vector<int64_t> counts(size_);
    const int64_t index_row = indices.size(0) * static_cast<int64_t>(sizeof(int64_t));
    int64_t value_row = values.element_size();  // bytes of one value (its dense part)
    for (int64_t d : values.sizes().slice(1)) value_row *= d;
    for (int r = 0; r < size_; ++r) {
      at::Tensor theirs = all[r];
      TORCH_CHECK(at::equal(theirs.narrow(0, 1, width - 1), mine.narrow(0, 1, width - 1)), "myriad: rank ", r,
                  " reduces a sparse tensor of sparse dimension and sizes ", theirs.narrow(0, 1, width - 1),
                  ", this rank ", mine.narrow(0, 1, width - 1));
      counts[r] = theirs[0].item<int64_t>();
      index_bytes[r] = static_cast<uint64_t>(counts[r] * index_row);
      value_bytes[r] = static_cast<uint64_t>(counts[r] * value_row);
    }
    int64_t total = 0;
    for (int64_t c : counts) total += c;
    std::vector<int64_t> value_shape = values.sizes().vec();
    value_shape[0] = total;
    at::Tensor gathered_indices = at::empty({total * indices.size(0)}, at::kLong);
    at::Tensor gathered_values = at::empty(value_shape, values.options());
    std::vector<WorkPtr> ops = {
        comm->allgatherv(byte_view(indices), byte_view(gathered_indices), index_bytes, options),
        comm->allgatherv(byte_view(values), byte_view(gathered_values), value_bytes, options)};
    // Rank r's block of indices is its own sparse_dim x nnz matrix: the
    // blocks side by side are the indices of every rank's values in turn.
    auto finish = [tensor, gathered_indices, gathered_values, counts, sparse_dim = indices.size(0),
                   sizes = input.sizes().vec()] {
      std::vector<at::Tensor> blocks;
      int64_t offset = 0;
      for (int64_t c : counts) {
        blocks.push_back(gathered_indices.narrow(0, offset, c * sparse_dim).view({sparse_dim, c}));
        offset += c * sparse_dim;
      }
      at::Tensor sum = at::sparse_coo_tensor(at::cat(blocks, 1), gathered_values, sizes).coalesce();
      tensor.copy_(sum);
    };
    ++seq_;
    return TorchWork::track(
        c10::make_intrusive<TorchWork>(
            rank_, OpType::ALLREDUCE, std::vector<at::Tensor>{tensor},
            std::vector<at::Tensor>{indices, values, gathered_indices, gathered_values}, std::move(finish)),
        ops);
  });
}

WorkHandle ProcessGroupMyriad::allgather_coalesced(std::vector<std::vector<at::Tensor>>& output_lists,
                                                   std::vector<at::Tensor>& inputs,
                                                   const c10d::AllgatherOptions& opts) {
  return guarded([&] {
    // output_lists[r][i] receives rank r's inputs[i] (gloo's layout).
    TORCH_CHECK(output_lists.size() == static_cast<size_t>(size_), "myriad: all_gather_coalesced needs ",
                size_, " output lists (one per rank), got ", output_lists.size());
    std::shared_ptr<Communicator> comm = communicator(common_device(inputs, "all_gather_coalesced"));
    int64_t bytes = 0;
    for (const at::Tensor& t : inputs) bytes += static_cast<int64_t>(t.nbytes());
    for (int r = 0; r < size_; ++r) {
      TORCH_CHECK(output_lists[r].size() == inputs.size(), "myriad: all_gather_coalesced output list ", r,
                  " has ", output_lists[r].size(), " tensors for ", inputs.size(), " inputs");
      for (size_t i = 0; i < inputs.size(); ++i) {
        const at::Tensor& t = output_lists[r][i];
        same_type(inputs[i], t, "all_gather_coalesced");
        TORCH_CHECK(t.numel() == inputs[i].numel(), "myriad: all_gather_coalesced output ", i, " of rank ", r,
                    " must have input ", i, "'s ", inputs[i].numel(), " elements, got ", t.numel());
      }
    }
    CollectiveOptions options;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    // Each rank's inputs as bytes, one after another; rank r's block of the
    // output holds its inputs in the same order.
    std::vector<at::Tensor> flat;
    for (const at::Tensor& t : inputs) flat.push_back(t.contiguous().reshape({-1}).view(at::kByte));
    at::Tensor in = staging.keep(flat.empty() ? at::empty({0}, at::kByte) : at::cat(flat));
    at::Tensor out = staging.keep(at::empty({bytes * size_}, in.options()));
    std::vector<at::Tensor> results;
    for (int r = 0; r < size_; ++r) {
      int64_t offset = bytes * r;
      for (size_t i = 0; i < inputs.size(); ++i) {
        const at::Tensor& dst = output_lists[r][i];
        // Bytes go into a contiguous tensor of dst's type, then into dst.
        at::Tensor target =
            dst.is_contiguous() ? dst : staging.keep(at::empty_like(dst, at::MemoryFormat::Contiguous));
        const auto n = static_cast<int64_t>(dst.nbytes());
        staging.copy_back(target.reshape({-1}).view(at::kByte), out.narrow(0, offset, n));
        if (!dst.is_contiguous()) staging.copy_back(dst, target);
        offset += n;
        results.push_back(dst);
      }
    }
    std::vector<WorkPtr> ops = {comm->allgather(byte_view(in), byte_view(out), options)};
    ++seq_;
    return staging.work(rank_, OpType::ALLGATHER_COALESCED, results, ops);
  });
}

WorkHandle ProcessGroupMyriad::_allgather_base(at::Tensor& output, at::Tensor& input,
                                               const c10d::AllgatherOptions& opts) {
  std::vector<at::Tensor> outputs = {output};
  std::vector<at::Tensor> inputs = {input};
  return allgather_into_tensor_coalesced(outputs, inputs, opts);
}

WorkHandle ProcessGroupMyriad::allgather_into_tensor_coalesced(std::vector<at::Tensor>& outputs,
                                                               std::vector<at::Tensor>& inputs,
                                                               const c10d::AllgatherOptions& opts) {
  return guarded([&] {
    TORCH_CHECK(outputs.size() == inputs.size(), "myriad: all_gather_into_tensor got ", outputs.size(),
                " outputs for ", inputs.size(), " inputs");
    std::shared_ptr<Communicator> comm = communicator(common_device(inputs, "all_gather_into_tensor"));
    CollectiveOptions options;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<WorkPtr> ops;
    for (size_t i = 0; i < inputs.size(); ++i) {
      same_type(inputs[i], outputs[i], "all_gather_into_tensor");
      TORCH_CHECK(outputs[i].numel() == inputs[i].numel() * size_,
                  "myriad: all_gather_into_tensor output has ", outputs[i].numel(), " elements, expected ",
                  size_, " x ", inputs[i].numel());
      at::Tensor in = staging.in(inputs[i]);
      ops.push_back(comm->allgather(byte_view(in), byte_view(staging.out(outputs[i])), options));
    }
    ++seq_;
    return staging.work(rank_, OpType::_ALLGATHER_BASE, outputs, ops);
  });
}

WorkHandle ProcessGroupMyriad::gather(std::vector<std::vector<at::Tensor>>& outputs,
                                      std::vector<at::Tensor>& inputs, const c10d::GatherOptions& opts) {
  return guarded([&] {
    one_list(inputs.size(), "gather");
    const at::Tensor& input = inputs[0];
    std::shared_ptr<Communicator> comm = communicator(common_device(inputs, "gather"));
    RootOptions options;
    options.root = static_cast<int>(opts.rootRank);
    options.timeout = per_call(opts.timeout);
    Staging staging;
    at::Tensor in = staging.in(input);
    std::vector<at::Tensor> results;
    TensorView out = empty_view();
    if (rank_ == options.root) {
      one_list(outputs.size(), "gather");
      results = outputs[0];
      TORCH_CHECK(results.size() == static_cast<size_t>(size_), "myriad: gather needs ", size_,
                  " output tensors at the root, got ", results.size());
      for (const at::Tensor& t : results) {
        same_type(input, t, "gather");
        TORCH_CHECK(t.numel() == input.numel(), "myriad: gather output tensors must have the input's ",
                    input.numel(), " elements, got ", t.numel());
      }
      out = byte_view(staging.unpacked(results, input.options()));
    }
    std::vector<WorkPtr> ops = {comm->gather(byte_view(in), out, options)};
    ++seq_;
    return staging.work(rank_, OpType::GATHER, results, ops);
  });
}

WorkHandle ProcessGroupMyriad::scatter(std::vector<at::Tensor>& outputs,
                                       std::vector<std::vector<at::Tensor>>& inputs,
                                       const c10d::ScatterOptions& opts) {
  return guarded([&] {
    one_list(outputs.size(), "scatter");
    const at::Tensor& output = outputs[0];
    std::shared_ptr<Communicator> comm = communicator(common_device(outputs, "scatter"));
    RootOptions options;
    options.root = static_cast<int>(opts.rootRank);
    options.timeout = per_call(opts.timeout);
    Staging staging;
    TensorView in = empty_view();
    if (rank_ == options.root) {
      one_list(inputs.size(), "scatter");
      TORCH_CHECK(inputs[0].size() == static_cast<size_t>(size_), "myriad: scatter needs ", size_,
                  " input tensors at the root, got ", inputs[0].size());
      for (const at::Tensor& t : inputs[0]) {
        same_type(output, t, "scatter");
        TORCH_CHECK(t.numel() == output.numel(), "myriad: scatter input tensors must have the output's ",
                    output.numel(), " elements, got ", t.numel());
      }
      in = byte_view(staging.packed(inputs[0], output.options()));
    }
    std::vector<WorkPtr> ops = {comm->scatter(in, byte_view(staging.out(output)), options)};
    ++seq_;
    return staging.work(rank_, OpType::SCATTER, outputs, ops);
  });
}

WorkHandle ProcessGroupMyriad::reduce_scatter(std::vector<at::Tensor>& outputs,
                                              std::vector<std::vector<at::Tensor>>& inputs,
                                              const c10d::ReduceScatterOptions& opts) {
  return guarded([&] {
    one_list(outputs.size(), "reduce_scatter");
    one_list(inputs.size(), "reduce_scatter");
    const at::Tensor& output = outputs[0];
    std::shared_ptr<Communicator> comm = communicator(common_device(outputs, "reduce_scatter"));
    TORCH_CHECK(inputs[0].size() == static_cast<size_t>(size_), "myriad: reduce_scatter needs ", size_,
                " input tensors, got ", inputs[0].size());
    for (const at::Tensor& t : inputs[0]) {
      same_type(output, t, "reduce_scatter");
      TORCH_CHECK(t.numel() == output.numel(), "myriad: reduce_scatter input tensors must have the output's ",
                  output.numel(), " elements, got ", t.numel());
    }
    c10d::ReduceOp op = opts.reduceOp;
    std::optional<Premul> premul = take_premul(op, "reduce_scatter");
    Reduction reduction = reduction_for(output, op, "reduce_scatter");
    DType dtype = reduction.dtype;
    ReduceScatterOptions options;
    options.op = reduction.op;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    at::Tensor in = staging.packed(inputs[0], output.options());
    if (premul) in.copy_(premul->times(in));  // a copy of the inputs
    std::vector<WorkPtr> ops = {
        comm->reduce_scatter(element_view(in, dtype), element_view(staging.out(output), dtype), options)};
    ++seq_;
    return staging.work(rank_, OpType::REDUCE_SCATTER, outputs, ops);
  });
}

WorkHandle ProcessGroupMyriad::_reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                                                    const c10d::ReduceScatterOptions& opts) {
  std::vector<at::Tensor> outputs = {output};
  std::vector<at::Tensor> inputs = {input};
  return reduce_scatter_tensor_coalesced(outputs, inputs, opts);
}

WorkHandle ProcessGroupMyriad::reduce_scatter_tensor_coalesced(std::vector<at::Tensor>& outputs,
                                                               std::vector<at::Tensor>& inputs,
                                                               const c10d::ReduceScatterOptions& opts) {
  return guarded([&] {
    TORCH_CHECK(outputs.size() == inputs.size(), "myriad: reduce_scatter_tensor got ", outputs.size(),
                " outputs for ", inputs.size(), " inputs");
    std::shared_ptr<Communicator> comm = communicator(common_device(inputs, "reduce_scatter_tensor"));
    c10d::ReduceOp op = opts.reduceOp;
    std::optional<Premul> premul = take_premul(op, "reduce_scatter_tensor");
    ReduceScatterOptions options;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<WorkPtr> ops;
    for (size_t i = 0; i < inputs.size(); ++i) {
      same_type(inputs[i], outputs[i], "reduce_scatter_tensor");
      TORCH_CHECK(inputs[i].numel() == outputs[i].numel() * size_, "myriad: reduce_scatter_tensor input has ",
                  inputs[i].numel(), " elements, expected ", size_, " x ", outputs[i].numel());
      Reduction reduction = reduction_for(inputs[i], op, "reduce_scatter_tensor");
      options.op = reduction.op;
      DType dtype = reduction.dtype;
      // Scaled on a copy: the input is left as it was.
      at::Tensor in = premul ? staging.keep(premul->times(inputs[i]).contiguous()) : staging.in(inputs[i]);
      ops.push_back(comm->reduce_scatter(element_view(in, dtype),
                                         element_view(staging.out(outputs[i]), dtype), options));
    }
    ++seq_;
    return staging.work(rank_, OpType::_REDUCE_SCATTER_BASE, outputs, ops);
  });
}

WorkHandle ProcessGroupMyriad::alltoall_base(at::Tensor& output, at::Tensor& input,
                                             std::vector<int64_t>& output_split_sizes,
                                             std::vector<int64_t>& input_split_sizes,
                                             const c10d::AllToAllOptions& opts) {
  return guarded([&] {
    std::vector<at::Tensor> tensors = {output, input};
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "all_to_all_single"));
    same_type(input, output, "all_to_all_single");
    CollectiveOptions options;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    at::Tensor in = staging.in(input);
    at::Tensor out = staging.out(output);
    std::vector<WorkPtr> ops;
    if (output_split_sizes.empty() && input_split_sizes.empty()) {
      TORCH_CHECK(input.numel() == output.numel() && input.numel() % size_ == 0,
                  "myriad: all_to_all_single needs ", "input and output of the same size, divisible by ",
                  size_, "; got ", input.numel(), " and ", output.numel(), " elements");
      ops.push_back(comm->alltoall(byte_view(in), byte_view(out), options));
    } else {
      // Splits count rows (dimension 0); the engine counts bytes.
      auto byte_counts = [&](const at::Tensor& t, const std::vector<int64_t>& splits) {
        TORCH_CHECK(t.dim() >= 1,
                    "myriad: all_to_all_single with splits needs tensors of at least one dimension");
        const int64_t row_bytes = t.size(0) == 0 ? 0 : static_cast<int64_t>(t.nbytes()) / t.size(0);
        std::vector<uint64_t> counts(size_);
        for (int r = 0; r < size_; ++r) {
          int64_t rows = splits.empty() ? t.size(0) / size_ : splits.at(r);
          counts[r] = static_cast<uint64_t>(rows * row_bytes);
        }
        return counts;
      };
      TORCH_CHECK(output_split_sizes.empty() || output_split_sizes.size() == static_cast<size_t>(size_),
                  "myriad: all_to_all_single got ", output_split_sizes.size(), " output splits for ", size_,
                  " ranks");
      TORCH_CHECK(input_split_sizes.empty() || input_split_sizes.size() == static_cast<size_t>(size_),
                  "myriad: all_to_all_single got ", input_split_sizes.size(), " input splits for ", size_,
                  " ranks");
      ops.push_back(comm->alltoallv(byte_view(in), byte_view(out), byte_counts(input, input_split_sizes),
                                    byte_counts(output, output_split_sizes), options));
    }
    ++seq_;
    return staging.work(rank_, OpType::ALLTOALL_BASE, {output}, ops);
  });
}

WorkHandle ProcessGroupMyriad::alltoall(std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
                                        const c10d::AllToAllOptions& opts) {
  return guarded([&] {
    TORCH_CHECK(inputs.size() == static_cast<size_t>(size_) && outputs.size() == static_cast<size_t>(size_),
                "myriad: all_to_all needs ", size_, " input and output tensors, got ", inputs.size(), " and ",
                outputs.size());
    std::shared_ptr<Communicator> comm = communicator(common_device(inputs, "all_to_all"));
    for (size_t i = 0; i < inputs.size(); ++i) {
      same_type(inputs[0], inputs[i], "all_to_all");
      same_type(inputs[0], outputs[i], "all_to_all");
    }
    CollectiveOptions options;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<uint64_t> send_counts;
    std::vector<uint64_t> recv_counts;
    for (int r = 0; r < size_; ++r) {
      send_counts.push_back(inputs[r].nbytes());
      recv_counts.push_back(outputs[r].nbytes());
    }
    at::Tensor in = staging.packed(inputs, inputs[0].options());
    at::Tensor out = staging.unpacked(outputs, inputs[0].options());
    std::vector<WorkPtr> ops = {
        comm->alltoallv(byte_view(in), byte_view(out), send_counts, recv_counts, options)};
    ++seq_;
    return staging.work(rank_, OpType::ALLTOALL, outputs, ops);
  });
}

WorkHandle ProcessGroupMyriad::barrier(const c10d::BarrierOptions& opts) {
  return guarded([&] {
    CollectiveOptions options;
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<WorkPtr> ops = {communicator(at::Device(at::kCPU))->barrier(options)};
    ++seq_;
    return staging.work(rank_, OpType::BARRIER, {}, ops);
  });
}

void ProcessGroupMyriad::monitoredBarrier(const c10d::BarrierOptions& opts, bool wait_all_ranks) {
  const std::chrono::milliseconds timeout = opts.timeout.count() > 0 ? opts.timeout : timeout_;
  // Tags above torch's 32 bits: no user send or receive can match them.
  const uint64_t tag = (uint64_t{1} << 40) | seq_.fetch_add(1);
  std::shared_ptr<Communicator> comm = communicator(at::Device(at::kCPU));
  uint8_t token = 0;
  const TensorView token_view{&token, 1, DType::U8};
  CollectiveOptions options;
  options.timeout = timeout;
  try {
    if (rank_ != 0) {
      comm->send(token_view, 0, tag, options)->wait();
      comm->recv(token_view, 0, tag, options)->wait();  // released by rank 0
      return;
    }
    // Rank 0: one receive per rank, all posted at once, under one deadline.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<uint8_t> tokens(static_cast<size_t>(size_));
    std::vector<WorkPtr> reports(static_cast<size_t>(size_));
    for (int r = 1; r < size_; ++r) {
      reports[static_cast<size_t>(r)] =
          comm->recv(TensorView{&tokens[static_cast<size_t>(r)], 1, DType::U8}, r, tag, options);
    }
    std::vector<int> missing;
    for (int r = 1; r < size_; ++r) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      try {
        reports[static_cast<size_t>(r)]->wait(std::max(left, std::chrono::milliseconds(0)));
      } catch (const Error&) {
        missing.push_back(r);
        if (!wait_all_ranks) break;
      }
    }
    TORCH_CHECK(missing.empty(),
                fmt::format("[Rank 0]: Rank{} {} failed to pass monitoredBarrier in {} ms",
                            missing.size() > 1 ? "s" : "", fmt::join(missing, ", "), timeout.count()));
    for (int r = 1; r < size_; ++r) comm->send(token_view, r, tag, options)->wait();
  } catch (const Error& e) {
    TORCH_CHECK(false, "myriad: [Rank ", rank_, "]: monitoredBarrier: ", e.what());
  }
}

WorkHandle ProcessGroupMyriad::send(std::vector<at::Tensor>& tensors, int dst_rank, int tag) {
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "send"));
    Staging staging;
    std::vector<WorkPtr> ops;
    for (const at::Tensor& t : tensors) {
      ops.push_back(comm->send(byte_view(staging.in(t)), dst_rank, static_cast<uint32_t>(tag)));
    }
    return staging.work(rank_, OpType::SEND, tensors, ops);
  });
}

WorkHandle ProcessGroupMyriad::recv(std::vector<at::Tensor>& tensors, int src_rank, int tag) {
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "recv"));
    Staging staging;
    std::vector<WorkPtr> ops;
    for (const at::Tensor& t : tensors) {
      ops.push_back(comm->recv(byte_view(staging.out(t)), src_rank, static_cast<uint32_t>(tag)));
    }
    return staging.work(rank_, OpType::RECV, tensors, ops);
  });
}

WorkHandle ProcessGroupMyriad::recvAnysource(std::vector<at::Tensor>& tensors, int tag) {
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "recvAnysource"));
    // One message, so that the Work has one source rank.
    TORCH_CHECK(tensors.size() == 1, "myriad: recvAnysource takes one tensor, got ", tensors.size());
    Staging staging;
    std::vector<WorkPtr> ops{comm->recv_any(byte_view(staging.out(tensors[0])), static_cast<uint32_t>(tag))};
    return staging.work(rank_, OpType::RECVANYSOURCE, tensors, ops);
  });
}

}  // namespace myriad::torch_backend
