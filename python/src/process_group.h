// ProcessGroupMyriad: the "myriad" torch.distributed backend.
//
// Created by init_process_group / new_group on each member of a process
// group, from the group's own store (a PrefixStore) and the group rank and
// size. It joins a Myriad World through that store and creates a
// Communicator named after an id drawn by group rank 0, so process groups
// never share store keys or shared-memory segments. CPU tensors go to that
// communicator (MYRIAD_BACKEND, else the native engine); CUDA tensors go to
// a second communicator on the nccl backend, created collectively on the
// group's first CUDA operation and ordered after the caller's current
// stream.
//
// Every operation returns at once with a TorchWork (work.h); the engine's
// progress thread runs it, which is what lets DDP's gradient buckets
// overlap backward compute. Non-contiguous tensors are staged through
// contiguous copies, and results are copied back before the Work
// completes. Operations that only move data carry any dtype as bytes;
// reductions take the engine's types (dtype_map.h). A bad argument throws
// at the call (RuntimeError in Python); a failure while running (mismatch
// between ranks, timeout, dead peer) fails the Work with the runtime's
// message, and — failures being sticky — every later operation too.
//
// Thread-safety: calls may come from several threads; like every
// collective, their order must be the same on every rank.
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <atomic>
#include <memory>
#include <mutex>

#include "collectives/communicator.h"

namespace myriad::torch_backend {

class ProcessGroupMyriad : public c10d::Backend {
 public:
  ProcessGroupMyriad(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                     std::chrono::milliseconds timeout);
  ~ProcessGroupMyriad() override;

  // torch's signature, const return type and all.
  // NOLINTNEXTLINE(readability-const-return-type)
  const std::string getBackendName() const override { return "myriad"; }
  uint64_t getSequenceNumberForGroup() override { return seq_.load(); }
  void abort() override;
  void shutdown() override;

  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& tensors,
                                           const c10d::BroadcastOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                           const c10d::AllreduceOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allreduce_coalesced(std::vector<at::Tensor>& tensors,
                                                     const c10d::AllreduceCoalescedOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce(std::vector<at::Tensor>& tensors,
                                        const c10d::ReduceOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                           std::vector<at::Tensor>& inputs,
                                           const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> _allgather_base(at::Tensor& output, at::Tensor& input,
                                                 const c10d::AllgatherOptions& opts) override;
  // output_lists[r][i] gets rank r's inputs[i]; the inputs go packed as bytes in one allgather.
  c10::intrusive_ptr<c10d::Work> allgather_coalesced(std::vector<std::vector<at::Tensor>>& output_lists,
                                                     std::vector<at::Tensor>& inputs,
                                                     const c10d::AllgatherOptions& opts) override;
  // Sparse COO tensors, SUM only (as gloo): every rank's indices and values
  // are gathered, and the tensor becomes the coalesced sum.
  c10::intrusive_ptr<c10d::Work> allreduce_sparse(std::vector<at::Tensor>& tensors,
                                                  const c10d::AllreduceOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allgather_into_tensor_coalesced(std::vector<at::Tensor>& outputs,
                                                                 std::vector<at::Tensor>& inputs,
                                                                 const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> gather(std::vector<std::vector<at::Tensor>>& outputs,
                                        std::vector<at::Tensor>& inputs,
                                        const c10d::GatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> scatter(std::vector<at::Tensor>& outputs,
                                         std::vector<std::vector<at::Tensor>>& inputs,
                                         const c10d::ScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce_scatter(std::vector<at::Tensor>& outputs,
                                                std::vector<std::vector<at::Tensor>>& inputs,
                                                const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> _reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                                                      const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce_scatter_tensor_coalesced(
      std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
      const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> alltoall_base(at::Tensor& output, at::Tensor& input,
                                               std::vector<int64_t>& output_split_sizes,
                                               std::vector<int64_t>& input_split_sizes,
                                               const c10d::AllToAllOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> alltoall(std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
                                          const c10d::AllToAllOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> barrier(const c10d::BarrierOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> send(std::vector<at::Tensor>& tensors, int dst_rank, int tag) override;
  c10::intrusive_ptr<c10d::Work> recv(std::vector<at::Tensor>& tensors, int src_rank, int tag) override;
  // dist.recv() without src: the first message with `tag` from any rank;
  // the Work's sourceRank() names the sender. One tensor, as on gloo.
  c10::intrusive_ptr<c10d::Work> recvAnysource(std::vector<at::Tensor>& tensors, int tag) override;
  // torch.distributed.monitored_barrier: every rank reports to rank 0 and
  // waits for its release; rank 0 names the ranks that did not report
  // within the timeout (the first, or with wait_all_ranks every one) and
  // raises, and the ranks it released go on.
  void monitoredBarrier(const c10d::BarrierOptions& opts, bool wait_all_ranks) override;

  // The communicator of cpu tensors. The checkpoint service
  // (checkpoint_binding.h) splits its private communicators from it.
  std::shared_ptr<Communicator> cpu_communicator() { return communicator(at::Device(at::kCPU)); }

 private:
  // The communicator for tensors on `device` (creates the CUDA one on first use).
  std::shared_ptr<Communicator> communicator(const at::Device& device);

  std::chrono::milliseconds timeout_;
  std::string id_;
  std::shared_ptr<World> world_;
  std::mutex mutex_;  // guards the communicator pointers
  std::shared_ptr<Communicator> cpu_;
  std::shared_ptr<Communicator> cuda_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace myriad::torch_backend
