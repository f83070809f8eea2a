// myriad._C's elastic functions: heartbeats and step reports to the node's
// agent (runtime/heartbeat.h) and events for the goodput ledger
// (runtime/event_log.h). All are cheap, never block, and do nothing
// outside an agent's job (no MYRIAD_HEARTBEAT_FILE / MYRIAD_EVENTS_FILE).
#pragma once

#include <pybind11/pybind11.h>

namespace myriad::torch_backend {

void bind_elastic(pybind11::module_& m);

}  // namespace myriad::torch_backend
