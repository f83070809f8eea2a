// myriad._C: the extension module of the `myriad` package.
//
// Binds the backend's creator (registered with torch.distributed by
// myriad.torch), the process's bootstrap information (myriad.rank() and
// friends), the bf16 cast kernels (myriad.torch.hooks) and the checkpoint
// service (myriad.checkpoint, checkpoint_binding.h). Calls that block
// or loop over memory release the GIL.
#include <pybind11/chrono.h>
#include <pybind11/stl.h>
#include <torch/csrc/utils/pybind.h>

#include "kernels/cast.h"
#include "myriad_config.h"
#include "python/src/checkpoint_binding.h"
#include "python/src/elastic_binding.h"
#include "python/src/process_group.h"
#include "python/src/torch_store.h"
#include "runtime/bootstrap.h"
#include "runtime/error.h"

namespace py = pybind11;

namespace myriad::torch_backend {
namespace {

c10::intrusive_ptr<c10d::Backend> create_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                 int size, std::chrono::milliseconds timeout) {
  return c10::make_intrusive<ProcessGroupMyriad>(store, rank, size, timeout);
}

py::dict bootstrap() {
  BootstrapInfo info = detect_bootstrap(Env::process());
  py::dict d;
  d["rank"] = info.rank;
  d["world_size"] = info.world_size;
  d["local_rank"] = info.local_rank;
  d["local_world_size"] = info.local_world_size;
  d["node"] = info.node;
  d["source"] = info.source;
  d["store"] = info.store ? py::cast(info.store->to_string()) : py::none();
  d["run_id"] = info.run_id;
  d["restart_count"] = info.restart_count;
  return d;
}

void check_cast(const at::Tensor& src, const at::Tensor& dst, at::ScalarType from, at::ScalarType to) {
  TORCH_CHECK(src.device().is_cpu() && dst.device().is_cpu(), "myriad: the cast kernels take cpu tensors");
  TORCH_CHECK(src.scalar_type() == from && dst.scalar_type() == to, "myriad: cast from ", from, " to ", to,
              " got ", src.scalar_type(), " and ", dst.scalar_type());
  TORCH_CHECK(src.is_contiguous() && dst.is_contiguous() && src.numel() == dst.numel(),
              "myriad: cast needs contiguous tensors of the same number of elements");
}

}  // namespace
}  // namespace myriad::torch_backend

PYBIND11_MODULE(_C, m) {
  using namespace myriad::torch_backend;
  m.doc() = "Myriad's native extension: the torch.distributed backend, bootstrap information, cast kernels.";
  m.attr("__version__") = MYRIAD_VERSION;
  m.attr("has_cuda") = MYRIAD_HAVE_CUDA != 0;
  m.def("create_backend", &create_backend, py::arg("store"), py::arg("rank"), py::arg("size"),
        py::arg("timeout"), py::call_guard<py::gil_scoped_release>(),
        "Creates the myriad backend of one process group (the creator given to register_backend).");
  py::class_<JobStore, c10d::Store, c10::intrusive_ptr<JobStore>>(
      m, "JobStore", "A torch.distributed store over the job's Myriad store (MYRIAD_STORE, MYRIAD_TOKEN).")
      .def(py::init<std::chrono::milliseconds>(), py::arg("timeout"),
           py::call_guard<py::gil_scoped_release>());
  m.def("bootstrap", &bootstrap, "This process's place in the job, as Myriad's bootstrap reads it.");
  m.def(
      "cast_f32_to_bf16",
      [](const at::Tensor& src, at::Tensor& dst) {
        check_cast(src, dst, at::kFloat, at::kBFloat16);
        py::gil_scoped_release release;
        myriad::kernels::cast_f32_to_bf16(src.data_ptr<float>(),
                                          static_cast<myriad::kernels::BFloat16*>(dst.data_ptr()),
                                          static_cast<size_t>(src.numel()));
      },
      py::arg("src"), py::arg("dst"), "dst[i] = bf16(src[i]), rounding to nearest even (cpu, contiguous).");
  m.def(
      "cast_bf16_to_f32",
      [](const at::Tensor& src, at::Tensor& dst) {
        check_cast(src, dst, at::kBFloat16, at::kFloat);
        py::gil_scoped_release release;
        myriad::kernels::cast_bf16_to_f32(static_cast<const myriad::kernels::BFloat16*>(src.data_ptr()),
                                          dst.data_ptr<float>(), static_cast<size_t>(src.numel()));
      },
      py::arg("src"), py::arg("dst"), "dst[i] = f32(src[i]), exact (cpu, contiguous).");
  bind_checkpoint(m);
  bind_elastic(m);
}
