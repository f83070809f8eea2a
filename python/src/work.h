// TorchWork: the torch.distributed Work of one call into the Myriad backend.
//
// One torch call may become several Myriad operations (a coalesced call, a
// list of tensors, staging copies); the TorchWork completes when the last of
// them completes. Completion runs on the thread that completes the Myriad
// Work (the communicator's progress thread) in this order: the finishing
// step (copy results back into non-contiguous or listed output tensors),
// then wait() sees the result, then the Future returned by getFuture() is
// completed with the output tensors, which runs its callbacks (DDP comm
// hooks, then() chains). The Future is completed on the process's
// CompletionExecutor, never on the progress thread, so a callback may wait
// for a later operation; or at once when the thread whose wait() ran the
// operation itself completes it. wait() returns, and isCompleted() is true,
// once the Future is complete too (as on gloo). A Myriad failure becomes a
// c10::DistBackendError carrying the runtime's message
// (torch.distributed.DistBackendError in Python, a RuntimeError).
//
// The TorchWork owns every tensor the operation reads or writes (inputs,
// outputs, staging buffers) until it completes, so a caller may drop its
// references early.
//
// Thread-safety: every method is safe from any thread.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <atomic>
#include <functional>
#include <vector>

#include "collectives/work.h"

namespace myriad::torch_backend {

class TorchWork : public c10d::Work {
 public:
  // `outputs` are what result() and the Future hold; `keep` are the other
  // tensors the operation uses; `finish` runs after success, before completion.
  TorchWork(int rank, c10d::OpType type, std::vector<at::Tensor> outputs, std::vector<at::Tensor> keep,
            std::function<void()> finish);

  // Starts waiting for the Myriad operations; call once, after creating them all.
  static c10::intrusive_ptr<TorchWork> track(c10::intrusive_ptr<TorchWork> work,
                                             const std::vector<WorkPtr>& operations);

  bool isCompleted() override;
  bool isSuccess() const override;
  std::exception_ptr exception() const override;
  std::vector<at::Tensor> result() override;
  void synchronize() override {}
  // Waits for completion; a non-zero timeout that passes throws
  // DistBackendError (the operation itself goes on). Rethrows a failure.
  bool wait(std::chrono::milliseconds timeout) override;
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override;
  // The rank a receive's message came from (the sender of a recvAnysource
  // once complete); other operations throw, as in c10d::Work.
  int sourceRank() const override;

 private:
  void operation_done(const myriad::Work& operation);
  void complete(const std::exception_ptr& error);

  std::vector<at::Tensor> outputs_;
  std::vector<at::Tensor> keep_;
  std::function<void()> finish_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
  std::atomic<int> pending_{0};
  // The engine's operations, for wait() to run one that has not started
  // yet on the waiting thread (Work::run_here) instead of waking the
  // communicator's progress thread and being woken by it.
  std::vector<WorkPtr> operations_;
  std::mutex error_mutex_;
  std::exception_ptr first_error_;
};

// The c10::DistBackendError form of a Myriad failure (the message kept).
std::exception_ptr to_torch_error(const std::exception_ptr& error);

}  // namespace myriad::torch_backend
