#include "python/src/checkpoint_binding.h"

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <pybind11/stl.h>
#include <torch/csrc/utils/pybind.h>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "checkpoint/checkpointer.h"
#include "checkpoint/reader.h"
#include "python/src/dtype_map.h"
#include "python/src/process_group.h"
#include "runtime/error.h"

namespace py = pybind11;

namespace myriad::torch_backend {
namespace {

using checkpoint::State;

// One tensor of a save or load, as python/myriad/checkpoint.py builds it:
// (name, tensor, global shape, sharded, first global row held here).
using Entry = std::tuple<std::string, at::Tensor, std::vector<int64_t>, bool, int64_t>;

// myriad._C.CheckpointError; created once with the module, never freed
// (the interpreter may tear modules down in any order).
PyObject* g_error_type = nullptr;

// Sets the Python error for `e` (GIL held) and unwinds to pybind11.
[[noreturn]] void raise_python(const Error& e) {
  py::object type = py::reinterpret_borrow<py::object>(g_error_type);
  py::object value = type(e.message());
  value.attr("code") = std::string(error_code_name(e.code()));
  PyErr_SetObject(g_error_type, value.ptr());
  throw py::error_already_set();
}

// Runs `body` (which releases the GIL itself where it blocks), turning a
// myriad::Error into a CheckpointError. The GIL is held again when the
// catch runs: a gil_scoped_release inside `body` is undone by unwinding.
template <typename Fn>
auto translated(Fn&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    raise_python(e);
  }
}

void check_entry(const std::string& name, const at::Tensor& t) {
  if (t.layout() != at::kStrided) {
    raise(ErrorCode::InvalidArgument, "tensor '{}': only dense (strided) tensors can be saved, not {}", name,
          c10::str(t.layout()));
  }
  if (!t.device().is_cpu() && !t.device().is_cuda()) {
    raise(ErrorCode::InvalidArgument, "tensor '{}' is on {}; checkpoints take cpu and cuda tensors", name,
          t.device().str());
  }
}

// Adds the contiguous cpu tensor `host` as `name`. A type the format lacks
// is stored as bytes with one more dimension, the element size, so that
// rows (dimension 0) stay rows and shards reshard as the tensor would.
void add_tensor(State& state, const std::string& name, const at::Tensor& host, std::vector<int64_t> shape,
                bool sharded, int64_t row_offset) {
  TensorView view{host.data_ptr(), static_cast<size_t>(host.numel()), DType::U8};
  std::optional<DType> dtype = myriad_dtype(host.scalar_type());
  // int16 stays bytes, as Python checkpoints stored it before the format had i16: both load either way.
  if (dtype == DType::I16) dtype.reset();
  if (dtype) {
    view.dtype = *dtype;
  } else {
    view.count = host.nbytes();
    shape.push_back(static_cast<int64_t>(host.element_size()));
  }
  if (view.count == 0) view.data = nullptr;  // an empty tensor may have no storage
  if (sharded) {
    state.add_sharded(name, view, std::move(shape), row_offset);
  } else {
    state.add_replicated(name, view, std::move(shape));
  }
}

// Copies of device tensors into pinned host memory, made on a side stream
// per device that first waits for the caller's current stream (so the
// copies see every kernel queued before the save and never delay the
// caller's stream). Uses torch's device-generic interface: it needs no
// CUDA headers here and runs with any CUDA build of torch.
class DeviceCopies {
 public:
  at::Tensor to_host(const at::Tensor& t) {
    const c10::Stream side = side_stream(t.device());
    c10::StreamGuard guard(side);
    at::Tensor host = at::empty(t.sizes(), t.options().device(at::kCPU).pinned_memory(true));
    host.copy_(t, /*non_blocking=*/true);
    return host;
  }
  // Blocks until every copy has landed.
  void finish() {
    for (const c10::Stream& s : streams_) s.synchronize();
  }

 private:
  c10::Stream side_stream(const c10::Device& device) {
    for (const c10::Stream& s : streams_) {
      if (s.device() == device) return s;
    }
    c10::impl::VirtualGuardImpl impl(device.type());
    c10::Stream side = impl.getStreamFromGlobalPool(device);
    c10::Event ready(device.type());
    ready.record(impl.getStream(device));
    ready.block(side);
    streams_.push_back(side);
    return side;
  }

  std::vector<c10::Stream> streams_;
};

// A tensor whose memory is one of the caller's tensors, or a host copy.
at::Tensor host_for_save(const at::Tensor& t, DeviceCopies& copies) {
  at::Tensor plain = t.detach().resolve_conj().resolve_neg();
  if (plain.is_cuda()) return copies.to_host(plain);
  return plain.contiguous();
}

// Where a load writes one tensor: in place when the caller's tensor is a
// contiguous cpu tensor, else into `host`, copied back afterwards.
struct LoadTarget {
  at::Tensor user;
  at::Tensor host;
  bool staged = false;
};

LoadTarget load_target(const at::Tensor& t) {
  LoadTarget target{t, t, false};
  if (t.is_cpu() && t.is_contiguous() && !t.is_conj() && !t.is_neg()) return target;
  target.staged = true;
  target.host = at::empty(t.sizes(), t.options().device(at::kCPU).pinned_memory(t.is_cuda()));
  return target;
}

py::dict load_result_dict(const checkpoint::LoadResult& result) {
  py::dict d;
  d["step"] = result.step;
  d["source"] = result.source;
  d["skipped"] = result.skipped;
  d["bytes_read"] = result.bytes_read;
  d["memory_bytes"] = result.memory_bytes;
  d["buddy_bytes"] = result.buddy_bytes;
  d["disk_bytes"] = result.disk_bytes;
  d["fallbacks"] = result.fallbacks;
  d["seconds"] = result.seconds;
  return d;
}

nlohmann::json parse_json(const std::string& text, std::string_view what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    raise(ErrorCode::InvalidArgument, "{} is not valid JSON: {}", what, e.what());
  }
}

// myriad._C.Checkpointer: a checkpoint::Checkpointer over a myriad process
// group's cpu communicator, with the options of each save.
class BoundCheckpointer {
 public:
  // `backend` is the "myriad" backend of a process group (the caller's,
  // or one made for checkpoints). Collective over its members.
  explicit BoundCheckpointer(const c10::intrusive_ptr<c10d::Backend>& backend) : backend_(backend) {
    auto* group = dynamic_cast<ProcessGroupMyriad*>(backend.get());
    if (group == nullptr) {
      raise(ErrorCode::InvalidArgument, "a Checkpointer needs a process group of the myriad backend, not {}",
            backend->getBackendName());
    }
    comm_ = group->cpu_communicator();
    // The agreement of skip_if_busy runs on a communicator of its own:
    // never a slot in the caller's sequence of collectives.
    control_ = comm_->split(0, comm_->rank());
    impl_ = std::make_unique<checkpoint::Checkpointer>(comm_, checkpoint::CheckpointerOptions{});
  }

  // Returns nullopt when skip_if_busy skipped the save.
  std::optional<checkpoint::SaveHandle> save(const std::vector<Entry>& entries, const std::string& values,
                                             const std::string& dir, uint64_t step,
                                             const std::string& metadata, int keep_last, bool skip_if_busy) {
    State state;
    state.values = parse_json(values, "the state's values");
    const nlohmann::json meta = parse_json(metadata, "metadata");
    py::gil_scoped_release release;
    if (skip_if_busy && busy_anywhere()) return std::nullopt;
    if (keep_last != keep_last_) {
      // Retention is an option of the C++ Checkpointer: a new one, made
      // after the running persist ends, so that saves never interleave.
      impl_->wait_all();
      impl_.reset();
      impl_ = std::make_unique<checkpoint::Checkpointer>(
          comm_, checkpoint::CheckpointerOptions{.keep_last = keep_last});
      keep_last_ = keep_last;
    }
    at::NoGradGuard no_grad;
    DeviceCopies copies;
    std::vector<at::Tensor> hosts;  // alive until the snapshot is taken
    hosts.reserve(entries.size());
    for (const auto& [name, tensor, shape, sharded, row_offset] : entries) {
      check_entry(name, tensor);
      hosts.push_back(host_for_save(tensor, copies));
    }
    copies.finish();
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& [name, tensor, shape, sharded, row_offset] = entries[i];
      add_tensor(state, name, hosts[i], shape, sharded, row_offset);
    }
    last_ = impl_->save(state, dir, step, meta);
    return last_;
  }

  // Loads `step` (or the latest) into the entries' tensors; returns the
  // load's result and the step's values (JSON text).
  std::pair<py::dict, std::string> load(const std::vector<Entry>& entries, const std::string& dir,
                                        std::optional<uint64_t> step, bool fallback) {
    checkpoint::LoadResult result;
    State state;
    {
      py::gil_scoped_release release;
      at::NoGradGuard no_grad;
      std::vector<LoadTarget> targets;
      targets.reserve(entries.size());
      for (const auto& [name, tensor, shape, sharded, row_offset] : entries) {
        check_entry(name, tensor);
        targets.push_back(load_target(tensor));
        add_tensor(state, name, targets.back().host, shape, sharded, row_offset);
      }
      result = impl_->load(state, dir, checkpoint::LoadOptions{.step = step, .fallback = fallback});
      for (LoadTarget& t : targets) {
        if (t.staged) {
          t.user.copy_(t.host);
        } else if (!t.user.is_inference()) {
          // Written behind autograd's back: bump the version as an
          // in-place op would, so a stale saved tensor is detected.
          t.user.unsafeGetTensorImpl()->bump_version();
        }
      }
    }
    return {load_result_dict(result), state.values.dump()};
  }

  // Waits for the running persist; throws its unreported error.
  void wait_all() {
    py::gil_scoped_release release;
    impl_->wait_all();
  }

  int rank() const { return comm_->rank(); }
  int size() const { return comm_->size(); }
  const std::string& run_id() const { return impl_->run_id(); }

 private:
  // Whether any rank's previous save is still persisting (collective).
  bool busy_anywhere() {
    int64_t busy = last_.has_value() && !last_->done() ? 1 : 0;
    control_->allreduce(TensorView{&busy, 1, DType::I64}, AllreduceOptions{.op = ReduceOp::Max})->wait();
    return busy != 0;
  }

  c10::intrusive_ptr<c10d::Backend> backend_;  // keeps the communicator's group alive
  std::shared_ptr<Communicator> comm_;
  std::shared_ptr<Communicator> control_;
  std::unique_ptr<checkpoint::Checkpointer> impl_;
  int keep_last_ = 0;
  std::optional<checkpoint::SaveHandle> last_;
};

}  // namespace

void bind_checkpoint(py::module_& m) {
  py::exception<Error> error(m, "CheckpointError", PyExc_RuntimeError);
  g_error_type = error.ptr();
  Py_INCREF(g_error_type);
  error.doc() =
      "A failure of Myriad's checkpoint service; `code` is the runtime's error code "
      "(\"io\", \"corruption\", \"invalid_argument\", \"timeout\", \"peer_failure\", ...).";

  py::class_<checkpoint::SaveHandle>(m, "SaveHandle", "One asynchronous save (checkpoint::SaveHandle).")
      .def(
          "wait",
          [](const checkpoint::SaveHandle& h) {
            translated([&] {
              py::gil_scoped_release release;
              h.wait();
            });
          },
          "Blocks until the step is committed; raises the save's error, every time.")
      .def("done", &checkpoint::SaveHandle::done, "True once the save committed or failed.")
      .def_property_readonly("step", &checkpoint::SaveHandle::step)
      .def_property_readonly("blocking_seconds", &checkpoint::SaveHandle::blocking_seconds)
      .def_property_readonly("replication_error", &checkpoint::SaveHandle::replication_error,
                             "After wait(): why the buddy replication failed; \"\" when it did not.");

  py::class_<BoundCheckpointer>(m, "Checkpointer",
                                "Myriad's checkpoint service over a myriad process group's communicator.")
      .def(py::init([](const c10::intrusive_ptr<c10d::Backend>& backend) {
             return translated([&] {
               py::gil_scoped_release release;
               return std::make_unique<BoundCheckpointer>(backend);
             });
           }),
           py::arg("backend"), "Collective over the group: every member constructs one.")
      .def(
          "save",
          [](BoundCheckpointer& self, const std::vector<Entry>& entries, const std::string& values,
             const std::string& dir, uint64_t step, const std::string& metadata, int keep_last,
             bool skip_if_busy) {
            return translated(
                [&] { return self.save(entries, values, dir, step, metadata, keep_last, skip_if_busy); });
          },
          py::arg("entries"), py::arg("values"), py::arg("dir"), py::arg("step"), py::arg("metadata"),
          py::arg("keep_last"), py::arg("skip_if_busy"),
          "Snapshots the entries and values (JSON text); returns a SaveHandle, or None when skipped.")
      .def(
          "load",
          [](BoundCheckpointer& self, const std::vector<Entry>& entries, const std::string& dir,
             std::optional<uint64_t> step,
             bool fallback) { return translated([&] { return self.load(entries, dir, step, fallback); }); },
          py::arg("entries"), py::arg("dir"), py::arg("step"), py::arg("fallback"),
          "Loads into the entries' tensors; returns (result dict, values JSON text).")
      .def(
          "wait_all", [](BoundCheckpointer& self) { translated([&] { self.wait_all(); }); },
          "Waits for the running persist and raises its unreported error.")
      .def_property_readonly("rank", &BoundCheckpointer::rank)
      .def_property_readonly("size", &BoundCheckpointer::size)
      .def_property_readonly("run_id", &BoundCheckpointer::run_id);

  m.def(
      "list_steps",
      [](const std::string& dir) {
        return translated([&] {
          py::gil_scoped_release release;
          return checkpoint::list_steps(dir);
        });
      },
      py::arg("dir"), "The committed steps of dir, ascending.");
  m.def(
      "latest_step",
      [](const std::string& dir) {
        return translated([&] {
          py::gil_scoped_release release;
          return checkpoint::latest_step(dir);
        });
      },
      py::arg("dir"), "The step `latest` names, else the newest committed one, else None.");
  m.def(
      "read_values",
      [](const std::string& dir, uint64_t step) {
        return translated([&] {
          py::gil_scoped_release release;
          return checkpoint::read_manifest(dir, step).values.dump();
        });
      },
      py::arg("dir"), py::arg("step"), "The plain values (JSON text) of a step's checked manifest.");
  m.def(
      "verify_step",
      [](const std::string& dir, uint64_t step) {
        checkpoint::VerifyResult result = translated([&] {
          py::gil_scoped_release release;
          return checkpoint::verify_step(dir, step);
        });
        return std::make_tuple(result.problems, result.bytes_checked);
      },
      py::arg("dir"), py::arg("step"), "Re-checks every checksum of a step: (problems, bytes checked).");
}

}  // namespace myriad::torch_backend
