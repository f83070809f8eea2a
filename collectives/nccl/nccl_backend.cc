#include "collectives/nccl/nccl_backend.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "collectives/backend_plugin.h"
#include "collectives/validate.h"
#include "collectives/work_control.h"
#include "runtime/logging.h"

namespace myriad {
namespace {

// How often the watcher polls events and NCCL's error state.
constexpr std::chrono::microseconds kWatchInterval{200};

void check_cuda(cudaError_t rc, std::string_view what, int rank) {
  if (rc != cudaSuccess) {
    raise(ErrorCode::Unavailable, "rank {}: {} failed: {}", rank, what, cudaGetErrorString(rc));
  }
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::F16: return ncclFloat16;
    case DType::BF16: return ncclBfloat16;
    case DType::I8: return ncclInt8;
    case DType::U8: return ncclUint8;
    case DType::I32: return ncclInt32;
    case DType::I64: return ncclInt64;
    // NCCL has no 16-bit integer type. Operations that only move data carry
    // i16 as ncclFloat16, whose bits NCCL copies unchanged; reductions of i16
    // never get here (unsupported_reduction()).
    case DType::I16: return ncclFloat16;
  }
  MYRIAD_CHECK(false, "dtype {}", static_cast<int>(dtype));
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Prod: return ncclProd;
    case ReduceOp::Min: return ncclMin;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Avg: return ncclAvg;
    case ReduceOp::Band:
    case ReduceOp::Bor:
    case ReduceOp::Bxor: break;  // refused by unsupported_reduction()
  }
  MYRIAD_CHECK(false, "reduce op {}", static_cast<int>(op));
}

// Why NCCL cannot run the reduction `op` of `dtype`, or empty when it can.
std::string unsupported_reduction(DType dtype, ReduceOp op) {
  if (reduce_op_is_bitwise(op)) return fmt::format("NCCL has no bitwise reductions ({})", reduce_op_name(op));
  if (dtype == DType::I16) return "NCCL has no 16-bit integer type to reduce";
  return {};
}

class NcclBackend : public Backend {
 public:
  explicit NcclBackend(const BackendContext& context) : context_(context) {
    int devices = cuda_device_count();
    if (devices == 0) {
      raise(ErrorCode::Unavailable, "rank {}: the nccl backend needs a CUDA device and none is visible",
            context_.rank);
    }
    device_ = context_.world->local_rank() % devices;
    check_cuda(cudaSetDevice(device_), "cudaSetDevice", context_.rank);
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate", context_.rank);

    ncclUniqueId id;
    if (context_.rank == 0) {
      check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
      context_.store->set("nccl_id", std::string_view(reinterpret_cast<const char*>(&id), sizeof(id)));
    }
    std::string bytes = context_.store->get("nccl_id");
    MYRIAD_CHECK(bytes.size() == sizeof(id), "nccl id of {} bytes", bytes.size());
    std::memcpy(&id, bytes.data(), sizeof(id));

    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t rc = ncclCommInitRankConfig(&comm_, context_.size(), id, context_.rank, &config);
    if (rc != ncclSuccess && rc != ncclInProgress) check_nccl(rc, "ncclCommInitRankConfig");
    settle("ncclCommInitRankConfig", std::chrono::steady_clock::now() + context_.timeout);
    watcher_ = std::thread([this] { watch(); });
  }

  ~NcclBackend() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    watcher_.join();
    if (comm_ != nullptr) (aborted_ ? ncclCommAbort(comm_) : ncclCommDestroy(comm_));
    if (barrier_buffer_ != nullptr) cudaFree(barrier_buffer_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  std::string_view name() const override { return "nccl"; }

  WorkPtr allreduce(TensorView in, TensorView out, const AllreduceOptions& o) override {
    check("allreduce", in, out);
    if (WorkPtr refused = refuse_reduction(OpKind::Allreduce, in.dtype, o.op)) return refused;
    return enqueue({.kind = OpKind::Allreduce, .dtype = in.dtype, .op = o.op, .count = in.count}, o.timeout,
                   [&] {
                     return ncclAllReduce(in.data, out.data, in.count, nccl_type(in.dtype), nccl_op(o.op),
                                          comm_, stream_);
                   });
  }

  WorkPtr reduce(TensorView in, TensorView out, const ReduceOptions& o) override {
    check("reduce", in, context_.rank == o.root ? out : in);
    if (WorkPtr refused = refuse_reduction(OpKind::Reduce, in.dtype, o.op)) return refused;
    return enqueue({.kind = OpKind::Reduce, .dtype = in.dtype, .op = o.op, .root = o.root, .count = in.count},
                   o.timeout, [&] {
                     return ncclReduce(in.data, out.data, in.count, nccl_type(in.dtype), nccl_op(o.op),
                                       o.root, comm_, stream_);
                   });
  }

  WorkPtr broadcast(TensorView buffer, const RootOptions& o) override {
    check("broadcast", buffer, buffer);
    return enqueue({.kind = OpKind::Broadcast, .dtype = buffer.dtype, .root = o.root, .count = buffer.count},
                   o.timeout, [&] {
                     return ncclBroadcast(buffer.data, buffer.data, buffer.count, nccl_type(buffer.dtype),
                                          o.root, comm_, stream_);
                   });
  }

  WorkPtr allgather(TensorView in, TensorView out, const CollectiveOptions& o) override {
    check("allgather", in, out);
    return enqueue({.kind = OpKind::Allgather, .dtype = in.dtype, .count = in.count}, o.timeout, [&] {
      return ncclAllGather(in.data, out.data, in.count, nccl_type(in.dtype), comm_, stream_);
    });
  }

  WorkPtr reduce_scatter(TensorView in, TensorView out, const ReduceScatterOptions& o) override {
    check("reduce_scatter", in, out);
    if (WorkPtr refused = refuse_reduction(OpKind::ReduceScatter, in.dtype, o.op)) return refused;
    return enqueue({.kind = OpKind::ReduceScatter, .dtype = in.dtype, .op = o.op, .count = out.count},
                   o.timeout, [&] {
                     return ncclReduceScatter(in.data, out.data, out.count, nccl_type(in.dtype),
                                              nccl_op(o.op), comm_, stream_);
                   });
  }

  WorkPtr alltoall(TensorView in, TensorView out, const CollectiveOptions& o) override {
    check("alltoall", in, out);
    uint64_t block = in.count / context_.size();
    size_t bytes = block * dtype_size(in.dtype);
    return enqueue({.kind = OpKind::Alltoall, .dtype = in.dtype, .count = block}, o.timeout, [&] {
      ncclGroupStart();
      for (int peer = 0; peer < context_.size(); ++peer) {
        ncclSend(static_cast<const uint8_t*>(in.data) + peer * bytes, block, nccl_type(in.dtype), peer, comm_,
                 stream_);
        ncclRecv(static_cast<uint8_t*>(out.data) + peer * bytes, block, nccl_type(in.dtype), peer, comm_,
                 stream_);
      }
      return ncclGroupEnd();
    });
  }

  WorkPtr barrier(const CollectiveOptions& o) override {
    if (barrier_buffer_ == nullptr)
      check_cuda(cudaMalloc(&barrier_buffer_, sizeof(float)), "cudaMalloc", context_.rank);
    return enqueue({.kind = OpKind::Barrier}, o.timeout, [&] {
      return ncclAllReduce(barrier_buffer_, barrier_buffer_, 1, ncclFloat32, ncclSum, comm_, stream_);
    });
  }

  WorkPtr send(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& o) override {
    check("send", buffer, buffer);
    return enqueue(
        {.kind = OpKind::Send, .dtype = buffer.dtype, .root = peer, .count = buffer.count, .seq = tag},
        o.timeout,
        [&] { return ncclSend(buffer.data, buffer.count, nccl_type(buffer.dtype), peer, comm_, stream_); });
  }

  WorkPtr recv(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& o) override {
    check("recv", buffer, buffer);
    return enqueue(
        {.kind = OpKind::Recv, .dtype = buffer.dtype, .root = peer, .count = buffer.count, .seq = tag},
        o.timeout,
        [&] { return ncclRecv(buffer.data, buffer.count, nccl_type(buffer.dtype), peer, comm_, stream_); });
  }

  void abort(const Error& reason) override {
    std::lock_guard lock(mutex_);
    fail_all_locked(std::make_exception_ptr(reason));
  }

 private:
  struct Pending {
    WorkPtr work;
    cudaEvent_t event;
    std::chrono::steady_clock::time_point deadline;
  };

  void check_nccl(ncclResult_t rc, std::string_view what) const {
    if (rc != ncclSuccess) {
      raise(ErrorCode::PeerFailure, "rank {}: {} failed: {}", context_.rank, what, ncclGetErrorString(rc));
    }
  }

  void check(std::string_view op, const TensorView& a, const TensorView& b) const {
    for (const TensorView* view : {&a, &b}) {
      if (!view->device.is_cuda() || view->device.index != device_) {
        raise(ErrorCode::InvalidArgument,
              "{}: the nccl backend takes memory on cuda:{} but a buffer is on {}", op, device_,
              device_name(view->device));
      }
    }
  }

  // A Work failed with NotSupported when NCCL cannot run the reduction, else
  // null. Nothing is issued, so the communicator stays usable (unlike a
  // failed NCCL call, which fails it).
  WorkPtr refuse_reduction(OpKind kind, DType dtype, ReduceOp op) const {
    const std::string why = unsupported_reduction(dtype, op);
    if (why.empty()) return nullptr;
    auto work = std::make_shared<Work>(OpDescriptor{.kind = kind, .dtype = dtype, .op = op});
    WorkControl::fail(
        *work,
        std::make_exception_ptr(Error(
            ErrorCode::NotSupported,
            fmt::format("rank {}: {} {} of {}: the nccl backend does not support it: {}; the native and mpi "
                        "backends do (on CPU memory)",
                        context_.rank, op_kind_name(kind), reduce_op_name(op), dtype_name(dtype), why))));
    return work;
  }

  // Waits until a non-blocking NCCL call has settled.
  void settle(std::string_view what, std::chrono::steady_clock::time_point deadline) {
    while (true) {
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm_, &state);
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) check_nccl(state, what);
      if (std::chrono::steady_clock::now() >= deadline) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        raise(ErrorCode::Timeout, "rank {}: {} did not complete in time", context_.rank, what);
      }
      std::this_thread::sleep_for(kWatchInterval);
    }
  }

  WorkPtr enqueue(OpDescriptor descriptor, std::chrono::milliseconds timeout,
                  const std::function<ncclResult_t()>& call) {
    if (descriptor.kind != OpKind::Send && descriptor.kind != OpKind::Recv) descriptor.seq = next_seq_++;
    auto work = std::make_shared<Work>(descriptor);
    {
      std::lock_guard lock(mutex_);
      if (failed_) {
        WorkControl::fail(*work, failed_);
        return work;
      }
    }
    auto deadline = std::chrono::steady_clock::now() + (timeout.count() > 0 ? timeout : context_.timeout);
    try {
      check_cuda(cudaSetDevice(device_), "cudaSetDevice", context_.rank);
      // Order after the work the caller queued on its default stream.
      cudaEvent_t ready;
      check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate", context_.rank);
      cudaEventRecord(ready, cudaStreamLegacy);
      cudaStreamWaitEvent(stream_, ready, 0);
      cudaEventDestroy(ready);
      ncclResult_t rc = call();
      if (rc != ncclSuccess && rc != ncclInProgress) check_nccl(rc, descriptor.to_string());
      settle(descriptor.to_string(), deadline);
      cudaEvent_t done;
      check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate", context_.rank);
      cudaEventRecord(done, stream_);
      std::lock_guard lock(mutex_);
      pending_.push_back({work, done, deadline});
    } catch (...) {
      std::lock_guard lock(mutex_);
      fail_all_locked(std::current_exception());
      WorkControl::fail(*work, failed_);
    }
    cv_.notify_all();
    return work;
  }

  void fail_all_locked(std::exception_ptr error) {
    if (!failed_) failed_ = std::move(error);
    if (comm_ != nullptr && !aborted_) {
      ncclCommAbort(comm_);
      aborted_ = true;
    }
    for (Pending& p : pending_) {
      cudaEventDestroy(p.event);
      WorkControl::fail(*p.work, failed_);
    }
    pending_.clear();
  }

  void watch() {
    cudaSetDevice(device_);
    std::unique_lock lock(mutex_);
    while (true) {
      cv_.wait_for(lock, kWatchInterval, [&] { return stopping_ || !pending_.empty(); });
      if (stopping_ && pending_.empty()) return;
      while (!pending_.empty()) {
        Pending& head = pending_.front();
        cudaError_t state = cudaEventQuery(head.event);
        if (state == cudaSuccess) {
          cudaEventDestroy(head.event);
          WorkPtr work = head.work;
          pending_.pop_front();
          WorkControl::complete(*work);
          continue;
        }
        ncclResult_t nccl_state = ncclSuccess;
        if (comm_ != nullptr) ncclCommGetAsyncError(comm_, &nccl_state);
        if (nccl_state != ncclSuccess && nccl_state != ncclInProgress) {
          fail_all_locked(std::make_exception_ptr(
              Error(ErrorCode::PeerFailure,
                    fmt::format("rank {}: NCCL reported {} during {}", context_.rank,
                                ncclGetErrorString(nccl_state), head.work->descriptor().to_string()))));
        } else if (std::chrono::steady_clock::now() >= head.deadline) {
          fail_all_locked(std::make_exception_ptr(
              Error(ErrorCode::Timeout,
                    fmt::format("rank {}: {} #{} timed out; the NCCL communicator was aborted", context_.rank,
                                head.work->descriptor().to_string(), head.work->descriptor().seq))));
        }
        break;
      }
    }
  }

  BackendContext context_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  void* barrier_buffer_ = nullptr;
  uint64_t next_seq_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  std::exception_ptr failed_;
  bool aborted_ = false;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
}

std::unique_ptr<Backend> make_nccl_backend(const BackendContext& context) {
  return std::make_unique<NcclBackend>(context);
}

}  // namespace myriad

// The plugin's entry point (libmyriad_backend_nccl.so; backend_plugin.h).
MYRIAD_BACKEND_PLUGIN("nccl", myriad::make_nccl_backend)
