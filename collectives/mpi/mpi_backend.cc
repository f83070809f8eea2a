#include "collectives/mpi/mpi_backend.h"

#include <mpi.h>

#include <atomic>
#include <climits>
#include <future>
#include <mutex>
#include <thread>

#include "collectives/backend_plugin.h"
#include "collectives/mpi/mpi_types.h"
#include "collectives/native/progress_thread.h"
#include "collectives/validate.h"
#include "collectives/work_control.h"
#include "kernels/reduce.h"
#include "runtime/logging.h"

namespace myriad {
namespace {

// The one thread that makes MPI calls. It initializes MPI when the first mpi
// communicator is created and finalizes it at process exit, unless an
// operation was abandoned (a timeout), when finalizing could block forever.
class MpiThread {
 public:
  static MpiThread& instance() {
    static MpiThread thread;
    return thread;
  }

  ~MpiThread() {
    thread_.submit([this] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (initialized_by_us_ && !finalized && !abandoned_) MPI_Finalize();
    });
  }

  // Runs `task` on the MPI thread and waits for it.
  void call(const std::function<void()>& task) {
    std::promise<void> done;
    thread_.submit([&] {
      try {
        task();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    done.get_future().get();
  }

  void submit(std::function<void()> task) { thread_.submit(std::move(task)); }
  void abandon() { abandoned_ = true; }

 private:
  MpiThread() : thread_("myriad-mpi") {
    call([this] {
      int initialized = 0;
      MPI_Initialized(&initialized);
      if (!initialized) {
        int provided = 0;
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
        initialized_by_us_ = true;
      }
    });
  }

  ProgressThread thread_;
  bool initialized_by_us_ = false;
  std::atomic<bool> abandoned_{false};
};

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, length);
}

int to_int(uint64_t count, std::string_view what) {
  if (count > static_cast<uint64_t>(INT_MAX)) {
    raise(ErrorCode::InvalidArgument, "mpi backend: {} of {} elements exceeds MPI's int count", what, count);
  }
  return static_cast<int>(count);
}

std::vector<int> to_ints(const std::vector<uint64_t>& counts, std::string_view what) {
  std::vector<int> out;
  out.reserve(counts.size());
  for (uint64_t c : counts) out.push_back(to_int(c, what));
  return out;
}

void* send_buffer(const TensorView& in, const TensorView& out) {
  return in.data == out.data ? MPI_IN_PLACE : in.data;
}

std::vector<int> displacements(const std::vector<int>& counts) {
  std::vector<int> out(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) out[i] = out[i - 1] + counts[i - 1];
  return out;
}

class MpiBackend : public Backend {
 public:
  explicit MpiBackend(const BackendContext& context) : context_(context), mpi_(MpiThread::instance()) {
    mpi_.call([this] { create_comm(); });
  }

  ~MpiBackend() override {
    mpi_.call([this] {
      if (comm_ != MPI_COMM_NULL && !failed_) MPI_Comm_free(&comm_);
    });
  }

  std::string_view name() const override { return "mpi"; }

  WorkPtr allreduce(TensorView in, TensorView out, const AllreduceOptions& o) override {
    check("allreduce", in, out);
    return run({.kind = OpKind::Allreduce, .dtype = in.dtype, .op = o.op, .count = in.count}, o.timeout,
               [=, this] {
                 MPI_Request request;
                 MPI_Iallreduce(send_buffer(in, out), out.data, to_int(in.count, "allreduce"),
                                mpi::datatype(in.dtype), mpi::reduce_op(in.dtype, o.op), comm_, &request);
                 return std::make_pair(request, o.op == ReduceOp::Avg ? out : TensorView{});
               });
  }

  WorkPtr reduce(TensorView in, TensorView out, const ReduceOptions& o) override {
    bool root = context_.rank == o.root;
    check("reduce", in, root ? out : in);
    return run({.kind = OpKind::Reduce, .dtype = in.dtype, .op = o.op, .root = o.root, .count = in.count},
               o.timeout, [=, this] {
                 MPI_Request request;
                 MPI_Ireduce(root ? send_buffer(in, out) : in.data, root ? out.data : nullptr,
                             to_int(in.count, "reduce"), mpi::datatype(in.dtype),
                             mpi::reduce_op(in.dtype, o.op), o.root, comm_, &request);
                 return std::make_pair(request, root && o.op == ReduceOp::Avg ? out : TensorView{});
               });
  }

  WorkPtr broadcast(TensorView buffer, const RootOptions& o) override {
    check("broadcast", buffer, buffer);
    return run({.kind = OpKind::Broadcast, .dtype = buffer.dtype, .root = o.root, .count = buffer.count},
               o.timeout, [=, this] {
                 MPI_Request request;
                 MPI_Ibcast(buffer.data, to_int(buffer.count, "broadcast"), mpi::datatype(buffer.dtype),
                            o.root, comm_, &request);
                 return std::make_pair(request, TensorView{});
               });
  }

  WorkPtr allgather(TensorView in, TensorView out, const CollectiveOptions& o) override {
    check("allgather", in, out);
    return run({.kind = OpKind::Allgather, .dtype = in.dtype, .count = in.count}, o.timeout, [=, this] {
      MPI_Request request;
      bool in_place = in.data == static_cast<uint8_t*>(out.data) + in.bytes() * context_.rank;
      MPI_Iallgather(in_place ? MPI_IN_PLACE : in.data, to_int(in.count, "allgather"),
                     mpi::datatype(in.dtype), out.data, to_int(in.count, "allgather"),
                     mpi::datatype(in.dtype), comm_, &request);
      return std::make_pair(request, TensorView{});
    });
  }

  WorkPtr allgatherv(TensorView in, TensorView out, const std::vector<uint64_t>& counts,
                     const CollectiveOptions& o) override {
    check("allgatherv", in, out);
    return run({.kind = OpKind::Allgatherv, .dtype = in.dtype, .count = out.count}, o.timeout, [=, this] {
      counts_ = to_ints(counts, "allgatherv");
      displs_ = displacements(counts_);
      MPI_Request request;
      MPI_Iallgatherv(in.data, to_int(in.count, "allgatherv"), mpi::datatype(in.dtype), out.data,
                      counts_.data(), displs_.data(), mpi::datatype(in.dtype), comm_, &request);
      return std::make_pair(request, TensorView{});
    });
  }

  WorkPtr reduce_scatter(TensorView in, TensorView out, const ReduceScatterOptions& o) override {
    check("reduce_scatter", in, out);
    return run({.kind = OpKind::ReduceScatter, .dtype = in.dtype, .op = o.op, .count = out.count}, o.timeout,
               [=, this] {
                 MPI_Request request;
                 MPI_Ireduce_scatter_block(in.data, out.data, to_int(out.count, "reduce_scatter"),
                                           mpi::datatype(in.dtype), mpi::reduce_op(in.dtype, o.op), comm_,
                                           &request);
                 return std::make_pair(request, o.op == ReduceOp::Avg ? out : TensorView{});
               });
  }

  WorkPtr reduce_scatterv(TensorView in, TensorView out, const std::vector<uint64_t>& counts,
                          const ReduceScatterOptions& o) override {
    check("reduce_scatterv", in, out);
    return run({.kind = OpKind::ReduceScatterv, .dtype = in.dtype, .op = o.op, .count = in.count}, o.timeout,
               [=, this] {
                 counts_ = to_ints(counts, "reduce_scatterv");
                 MPI_Request request;
                 MPI_Ireduce_scatter(in.data, out.data, counts_.data(), mpi::datatype(in.dtype),
                                     mpi::reduce_op(in.dtype, o.op), comm_, &request);
                 return std::make_pair(request, o.op == ReduceOp::Avg ? out : TensorView{});
               });
  }

  WorkPtr alltoall(TensorView in, TensorView out, const CollectiveOptions& o) override {
    check("alltoall", in, out);
    uint64_t block = in.count / context_.size();
    return run({.kind = OpKind::Alltoall, .dtype = in.dtype, .count = block}, o.timeout, [=, this] {
      MPI_Request request;
      MPI_Ialltoall(in.data == out.data ? MPI_IN_PLACE : in.data, to_int(block, "alltoall"),
                    mpi::datatype(in.dtype), out.data, to_int(block, "alltoall"), mpi::datatype(in.dtype),
                    comm_, &request);
      return std::make_pair(request, TensorView{});
    });
  }

  WorkPtr alltoallv(TensorView in, TensorView out, const std::vector<uint64_t>& send_counts,
                    const std::vector<uint64_t>& recv_counts, const CollectiveOptions& o) override {
    check("alltoallv", in, out);
    return run({.kind = OpKind::Alltoallv, .dtype = in.dtype}, o.timeout, [=, this] {
      counts_ = to_ints(send_counts, "alltoallv");
      displs_ = displacements(counts_);
      recv_counts_ = to_ints(recv_counts, "alltoallv");
      recv_displs_ = displacements(recv_counts_);
      MPI_Request request;
      MPI_Ialltoallv(in.data, counts_.data(), displs_.data(), mpi::datatype(in.dtype), out.data,
                     recv_counts_.data(), recv_displs_.data(), mpi::datatype(in.dtype), comm_, &request);
      return std::make_pair(request, TensorView{});
    });
  }

  WorkPtr gather(TensorView in, TensorView out, const RootOptions& o) override {
    bool root = context_.rank == o.root;
    check("gather", in, root ? out : in);
    return run(
        {.kind = OpKind::Gather, .dtype = in.dtype, .root = o.root, .count = in.count}, o.timeout, [=, this] {
          MPI_Request request;
          bool in_place = root && in.data == static_cast<uint8_t*>(out.data) + in.bytes() * context_.rank;
          MPI_Igather(in_place ? MPI_IN_PLACE : in.data, to_int(in.count, "gather"), mpi::datatype(in.dtype),
                      root ? out.data : nullptr, to_int(in.count, "gather"), mpi::datatype(in.dtype), o.root,
                      comm_, &request);
          return std::make_pair(request, TensorView{});
        });
  }

  WorkPtr scatter(TensorView in, TensorView out, const RootOptions& o) override {
    bool root = context_.rank == o.root;
    check("scatter", root ? in : out, out);
    return run(
        {.kind = OpKind::Scatter, .dtype = out.dtype, .root = o.root, .count = out.count}, o.timeout,
        [=, this] {
          MPI_Request request;
          bool in_place = root && out.data == static_cast<uint8_t*>(in.data) + out.bytes() * context_.rank;
          MPI_Iscatter(root ? in.data : nullptr, to_int(out.count, "scatter"), mpi::datatype(out.dtype),
                       in_place ? MPI_IN_PLACE : out.data, to_int(out.count, "scatter"),
                       mpi::datatype(out.dtype), o.root, comm_, &request);
          return std::make_pair(request, TensorView{});
        });
  }

  WorkPtr barrier(const CollectiveOptions& o) override {
    return run({.kind = OpKind::Barrier}, o.timeout, [this] {
      MPI_Request request;
      MPI_Ibarrier(comm_, &request);
      return std::make_pair(request, TensorView{});
    });
  }

  WorkPtr send(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& o) override {
    check("send", buffer, buffer);
    int mpi_tag = checked_tag(tag);
    return run({.kind = OpKind::Send, .dtype = buffer.dtype, .root = peer, .count = buffer.count, .seq = tag},
               o.timeout, [=, this] {
                 MPI_Request request;
                 MPI_Isend(buffer.data, to_int(buffer.count, "send"), mpi::datatype(buffer.dtype), peer,
                           mpi_tag, comm_, &request);
                 return std::make_pair(request, TensorView{});
               });
  }

  WorkPtr recv(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& o) override {
    check("recv", buffer, buffer);
    int mpi_tag = checked_tag(tag);
    return run({.kind = OpKind::Recv, .dtype = buffer.dtype, .root = peer, .count = buffer.count, .seq = tag},
               o.timeout, [=, this] {
                 MPI_Request request;
                 MPI_Irecv(buffer.data, to_int(buffer.count, "recv"), mpi::datatype(buffer.dtype), peer,
                           mpi_tag, comm_, &request);
                 return std::make_pair(request, TensorView{});
               });
  }

  WorkPtr recv_any(TensorView buffer, uint64_t tag, const CollectiveOptions& o) override {
    check("recv_any", buffer, buffer);
    int mpi_tag = checked_tag(tag);
    return run({.kind = OpKind::Recv, .dtype = buffer.dtype, .root = -1, .count = buffer.count, .seq = tag},
               o.timeout, [=, this] {
                 MPI_Request request;
                 MPI_Irecv(buffer.data, to_int(buffer.count, "recv_any"), mpi::datatype(buffer.dtype),
                           MPI_ANY_SOURCE, mpi_tag, comm_, &request);
                 return std::make_pair(request, TensorView{});
               });
  }

  void abort(const Error& reason) override {
    // MPI offers no way to interrupt a collective short of ending the job.
    // Later operations fail at once; a pending one ends at its timeout.
    std::lock_guard lock(abort_mutex_);
    if (!aborted_) aborted_ = std::make_shared<Error>(reason);
  }

 private:
  using Start = std::function<std::pair<MPI_Request, TensorView>()>;

  std::shared_ptr<Error> aborted() {
    std::lock_guard lock(abort_mutex_);
    return aborted_;
  }

  void create_comm() {
    int mpi_rank = 0;
    int mpi_size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
    const World& world = *context_.world;
    if (mpi_rank != world.rank() || mpi_size != world.size()) {
      raise(ErrorCode::InvalidArgument,
            "rank {}: the mpi backend needs ranks started by mpirun (Myriad world rank {} of {}, MPI rank {} "
            "of {}); "
            "use `myriad run --engine mpi` or mpirun",
            world.rank(), world.rank(), world.size(), mpi_rank, mpi_size);
    }
    MPI_Group world_group;
    MPI_Group group;
    MPI_Comm_group(MPI_COMM_WORLD, &world_group);
    MPI_Group_incl(world_group, context_.size(), context_.group.data(), &group);
    // The tag keeps concurrent creations of different groups apart.
    int tag = static_cast<int>(std::hash<std::string>{}(context_.comm_id) & 0x7fff);
    int rc = MPI_Comm_create_group(MPI_COMM_WORLD, group, tag, &comm_);
    MPI_Group_free(&group);
    MPI_Group_free(&world_group);
    if (rc != MPI_SUCCESS) {
      raise(ErrorCode::Unavailable, "rank {}: MPI_Comm_create_group failed: {}", context_.rank,
            mpi_error(rc));
    }
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  }

  void check(std::string_view op, const TensorView& a, const TensorView& b) const {
    validate::on_cpu(op, "mpi", "input", a);
    validate::on_cpu(op, "mpi", "output", b);
  }

  int checked_tag(uint64_t tag) const {
    // The MPI standard guarantees tags up to 32767; larger ones may not exist.
    constexpr uint64_t kMaxPortableTag = 32767;
    if (tag > kMaxPortableTag) {
      raise(ErrorCode::InvalidArgument, "mpi backend: tag {} exceeds the portable MPI tag limit {}", tag,
            kMaxPortableTag);
    }
    return static_cast<int>(tag);
  }

  WorkPtr run(OpDescriptor descriptor, std::chrono::milliseconds timeout, Start start) {
    descriptor.seq =
        descriptor.kind == OpKind::Send || descriptor.kind == OpKind::Recv ? descriptor.seq : next_seq_++;
    auto work = std::make_shared<Work>(descriptor);
    auto limit = timeout.count() > 0 ? timeout : context_.timeout;
    mpi_.submit([this, work, limit, start = std::move(start)] {
      if (std::shared_ptr<Error> reason = aborted(); reason && !failed_)
        failed_ = std::make_exception_ptr(*reason);
      if (failed_) {
        WorkControl::fail(*work, failed_);
        return;
      }
      try {
        auto [request, scale] = start();
        const MPI_Status status = wait(request, *work, std::chrono::steady_clock::now() + limit);
        // recv_any(): the communicator's ranks are comm_'s, in order.
        if (work->descriptor().kind == OpKind::Recv && work->descriptor().root < 0) {
          WorkControl::set_source_rank(*work, status.MPI_SOURCE);
        }
        if (scale.data != nullptr && scale.count > 0) {
          kernels::scale(static_cast<kernels::ElementType>(scale.dtype), scale.data, scale.count,
                         1.0 / context_.size());
        }
        WorkControl::complete(*work);
      } catch (...) {
        failed_ = std::current_exception();
        WorkControl::fail(*work, failed_);
      }
    });
    return work;
  }

  MPI_Status wait(MPI_Request& request, const Work& work, std::chrono::steady_clock::time_point deadline) {
    int done = 0;
    MPI_Status status{};
    int spins = 0;
    while (true) {
      int rc = MPI_Test(&request, &done, &status);
      if (rc != MPI_SUCCESS) {
        raise(ErrorCode::PeerFailure, "rank {}: {} #{} failed in MPI: {}", context_.rank,
              work.descriptor().to_string(), work.descriptor().seq, mpi_error(rc));
      }
      if (done) return status;
      if (std::chrono::steady_clock::now() >= deadline) {
        mpi_.abandon();
        raise(ErrorCode::Timeout, "rank {}: {} #{} timed out in MPI", context_.rank,
              work.descriptor().to_string(), work.descriptor().seq);
      }
      // MPI progresses only inside its calls: poll tightly at first, then
      // yield so a waiting rank leaves the core to the others.
      if (++spins > 1000) std::this_thread::yield();
    }
  }

  BackendContext context_;
  MpiThread& mpi_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  uint64_t next_seq_ = 0;
  std::exception_ptr failed_;  // MPI thread only
  std::mutex abort_mutex_;
  std::shared_ptr<Error> aborted_;
  // Count arrays must outlive the non-blocking call that reads them.
  std::vector<int> counts_, displs_, recv_counts_, recv_displs_;
};

}  // namespace

std::unique_ptr<Backend> make_mpi_backend(const BackendContext& context) {
  return std::make_unique<MpiBackend>(context);
}

}  // namespace myriad

// The plugin's entry point (libmyriad_backend_mpi.so; backend_plugin.h).
MYRIAD_BACKEND_PLUGIN("mpi", myriad::make_mpi_backend)
