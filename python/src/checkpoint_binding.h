// The checkpoint service for Python: myriad._C.Checkpointer and the free
// functions behind myriad.checkpoint (python/myriad/checkpoint.py).
//
// A bound Checkpointer is one checkpoint::Checkpointer over the cpu
// communicator of a "myriad" process group: the caller's own one when the
// default group uses the myriad backend, else one built for the purpose
// (the Python side makes it with create_backend over a prefixed store, so
// the service works under gloo, nccl or without a process group). Its
// constructor and save() are collective over that communicator, as the
// C++ Checkpointer's are.
//
// Tensors come from Python as (name, tensor, global_shape, sharded,
// row_offset) entries. For a save, contiguous cpu tensors are viewed in
// place (the snapshot copies them); others are staged: non-contiguous ones
// through a contiguous copy, cuda ones into pinned host memory on a side
// stream that waits for the caller's current stream. Types Myriad's
// checkpoint format lacks (bool, int16, complex, ...) are stored as bytes,
// with one more dimension of the element size. A load reads into the
// tensors in place where it can and copies staged ones back with copy_.
//
// Every call that blocks (snapshot, wait, load) releases the GIL. Failures
// of the runtime raise myriad._C.CheckpointError (a RuntimeError) whose
// `code` attribute is the runtime's code ("io", "corruption", ...).
//
// Thread-safety: as checkpoint::Checkpointer: one thread drives a bound
// Checkpointer; SaveHandle methods are safe from any thread.
#pragma once

#include <pybind11/pybind11.h>

namespace myriad::torch_backend {

// Adds CheckpointError, Checkpointer, SaveHandle, list_steps, latest_step,
// read_values and verify_step to `m`.
void bind_checkpoint(pybind11::module_& m);

}  // namespace myriad::torch_backend
