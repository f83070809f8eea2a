#include "python/src/elastic_binding.h"

#include <pybind11/stl.h>

#include <nlohmann/json.hpp>

#include "runtime/event_log.h"
#include "runtime/heartbeat.h"

namespace py = pybind11;

namespace myriad::torch_backend {

void bind_elastic(py::module_& m) {
  m.def(
      "heartbeat", [] { heartbeat::beat(); },
      "Tells the node's agent this rank is alive (no-op outside an agent).");
  m.def(
      "step", [](uint64_t n) { heartbeat::step(n); }, py::arg("n"),
      "Reports training step n to the node's agent (also a heartbeat).");
  m.def("heartbeat_enabled", &heartbeat::enabled, "Whether this process reports to an agent.");
  m.def(
      "append_event",
      [](const std::string& json_text) {
        nlohmann::json event = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
        if (!event.is_object()) throw py::value_error("append_event takes a JSON object");
        append_event(event);
      },
      py::arg("json_text"),
      "Appends one event (a JSON object) to the job's goodput ledger, if there is one.");
}

}  // namespace myriad::torch_backend
