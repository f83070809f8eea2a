#include "python/src/work.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "collectives/completion_executor.h"

namespace myriad::torch_backend {

std::exception_ptr to_torch_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error&) {
    return std::current_exception();
  } catch (const std::exception& e) {
    return std::make_exception_ptr(c10::DistBackendError(std::string("myriad: ") + e.what()));
  } catch (...) {
    return std::make_exception_ptr(c10::DistBackendError("myriad: unknown failure"));
  }
}

namespace {

// True on a thread inside TorchWork::wait() while it runs an operation
// itself (Work::run_here): a completion there may run the Future's
// callbacks at once, as that thread is the caller's and blocks nobody else.
thread_local bool t_running_for_waiter = false;

std::vector<c10::Device> devices_of(const std::vector<at::Tensor>& tensors) {
  std::vector<c10::Device> devices;
  for (const at::Tensor& t : tensors) {
    if (t.is_cuda() && std::find(devices.begin(), devices.end(), t.device()) == devices.end()) {
      devices.push_back(t.device());
    }
  }
  return devices;
}

}  // namespace

TorchWork::TorchWork(int rank, c10d::OpType type, std::vector<at::Tensor> outputs,
                     std::vector<at::Tensor> keep, std::function<void()> finish)
    : c10d::Work(rank, type),
      outputs_(std::move(outputs)),
      keep_(std::move(keep)),
      finish_(std::move(finish)),
      future_(c10::make_intrusive<c10::ivalue::Future>(c10::ListType::create(c10::TensorType::get()),
                                                       devices_of(outputs_))) {}

c10::intrusive_ptr<TorchWork> TorchWork::track(c10::intrusive_ptr<TorchWork> work,
                                               const std::vector<WorkPtr>& operations) {
  if (operations.empty()) {
    work->complete(nullptr);
    return work;
  }
  work->pending_ = static_cast<int>(operations.size());
  work->operations_ = operations;
  for (const WorkPtr& operation : operations) {
    // The callback's reference keeps the TorchWork (and its tensors) alive
    // until every operation has finished.
    operation->on_complete([work](myriad::Work& done) { work->operation_done(done); });
  }
  return work;
}

int TorchWork::sourceRank() const {
  if (operations_.size() == 1 && operations_[0]->descriptor().kind == OpKind::Recv) {
    const int source = operations_[0]->source_rank();
    if (source >= 0) return source;
  }
  return c10d::Work::sourceRank();
}

void TorchWork::operation_done(const myriad::Work& operation) {
  if (std::exception_ptr error = operation.exception()) {
    std::lock_guard lock(error_mutex_);
    if (!first_error_) first_error_ = error;
  }
  if (pending_.fetch_sub(1) != 1) return;
  std::exception_ptr error;
  {
    std::lock_guard lock(error_mutex_);
    error = first_error_;
  }
  if (!error && finish_) {
    try {
      finish_();
    } catch (...) {
      error = std::current_exception();
    }
  }
  complete(error ? to_torch_error(error) : nullptr);
}

void TorchWork::complete(const std::exception_ptr& error) {
  finish_ = nullptr;
  keep_.clear();
  finish(error);
  // Completing the Future runs its callbacks (comm hooks, then() chains),
  // which may wait for later operations: never on the thread that runs
  // operations (the progress thread), which would then wait for itself.
  auto complete_future = [future = future_, outputs = outputs_, error] {
    if (error) {
      future->setError(error);
    } else {
      future->markCompleted(c10::IValue(outputs));
    }
  };
  if (t_running_for_waiter) {
    complete_future();
  } else {
    CompletionExecutor::shared().submit(std::move(complete_future));
  }
}

bool TorchWork::isCompleted() {
  {
    std::lock_guard lock(mutex_);
    if (!completed_) return false;
  }
  // As for gloo: a completed Work's Future is completed too.
  return future_->completed();
}

bool TorchWork::isSuccess() const {
  std::lock_guard lock(mutex_);
  return completed_ && !exception_;
}

std::exception_ptr TorchWork::exception() const {
  std::lock_guard lock(mutex_);
  return exception_;
}

std::vector<at::Tensor> TorchWork::result() {
  return outputs_;
}

bool TorchWork::wait(std::chrono::milliseconds timeout) {
  // Unbounded waits only: an operation run here is bounded by its own
  // timeout, which may be longer than the caller's.
  if (timeout.count() <= 0) {
    struct Reset {  // restores an outer wait()'s value (a callback run here may wait too)
      bool outer = t_running_for_waiter;
      ~Reset() { t_running_for_waiter = outer; }
    } reset;
    t_running_for_waiter = true;
    for (const WorkPtr& operation : operations_) operation->run_here();
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock lock(mutex_);
    if (timeout.count() <= 0) {
      cv_.wait(lock, [&] { return completed_; });
    } else if (!cv_.wait_until(lock, deadline, [&] { return completed_; })) {
      throw c10::DistBackendError(
          fmt::format("myriad: rank {}: Timed out: {} did not complete within the wait timeout of {} ms (the "
                      "operation goes on)",
                      rank_, c10d::opTypeToString(opType_), timeout.count()));
    }
  }
  // As for gloo, the Future is complete when wait() returns (its callbacks
  // may still run); the completion executor completes it shortly after.
  future_->wait();
  std::lock_guard lock(mutex_);
  if (exception_) std::rethrow_exception(exception_);
  return true;
}

c10::intrusive_ptr<c10::ivalue::Future> TorchWork::getFuture() {
  return future_;
}

}  // namespace myriad::torch_backend
