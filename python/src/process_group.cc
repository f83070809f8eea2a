#include "python/src/process_group.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

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

}  // namespace

ProcessGroupMyriad::ProcessGroupMyriad(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                       std::chrono::milliseconds timeout)
    : c10d::Backend(rank, size), timeout_(timeout) {
  // A restarted job may get the same store as its previous round (torchrun
  // shares its agent's store with the workers): the round is part of every
  // key, so no rank reads the group id or the endpoints of a dead predecessor.
  const int round = detect_restart_count(Env::process());
  auto myriad_store =
      std::make_shared<PrefixStore>(fmt::format("round/{}/", round), std::make_shared<TorchStore>(store));
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
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "allreduce"));
    AllreduceOptions options;
    options.op = reduce_op(opts.reduceOp, "allreduce");
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<WorkPtr> ops;
    for (const at::Tensor& t : tensors) {
      DType dtype = reduce_dtype(t, "allreduce");
      ops.push_back(comm->allreduce(element_view(staging.inout(t), dtype), options));
    }
    ++seq_;
    return staging.work(rank_, OpType::ALLREDUCE, tensors, ops);
  });
}

WorkHandle ProcessGroupMyriad::allreduce_coalesced(std::vector<at::Tensor>& tensors,
                                                   const c10d::AllreduceCoalescedOptions& opts) {
  return guarded([&] {
    std::shared_ptr<Communicator> comm = communicator(common_device(tensors, "allreduce_coalesced"));
    AllreduceOptions options;
    options.op = reduce_op(opts.reduceOp, "allreduce_coalesced");
    options.timeout = per_call(opts.timeout);
    DType dtype = reduce_dtype(tensors[0], "allreduce_coalesced");
    for (const at::Tensor& t : tensors) same_type(tensors[0], t, "allreduce_coalesced");
    // One operation on the tensors packed together.
    Staging staging;
    at::Tensor flat = staging.packed(tensors, tensors[0].options());
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
    ReduceOptions options;
    options.op = reduce_op(opts.reduceOp, "reduce");
    options.root = static_cast<int>(opts.rootRank);
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<WorkPtr> ops;
    for (const at::Tensor& t : tensors) {
      TensorView view = element_view(staging.inout(t), reduce_dtype(t, "reduce"));
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
    DType dtype = reduce_dtype(output, "reduce_scatter");
    ReduceScatterOptions options;
    options.op = reduce_op(opts.reduceOp, "reduce_scatter");
    options.timeout = per_call(opts.timeout);
    Staging staging;
    at::Tensor in = staging.packed(inputs[0], output.options());
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
    ReduceScatterOptions options;
    options.op = reduce_op(opts.reduceOp, "reduce_scatter_tensor");
    options.timeout = per_call(opts.timeout);
    Staging staging;
    std::vector<WorkPtr> ops;
    for (size_t i = 0; i < inputs.size(); ++i) {
      same_type(inputs[i], outputs[i], "reduce_scatter_tensor");
      TORCH_CHECK(inputs[i].numel() == outputs[i].numel() * size_, "myriad: reduce_scatter_tensor input has ",
                  inputs[i].numel(), " elements, expected ", size_, " x ", outputs[i].numel());
      DType dtype = reduce_dtype(inputs[i], "reduce_scatter_tensor");
      at::Tensor in = staging.in(inputs[i]);
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

}  // namespace myriad::torch_backend
