// The nccl backend: collectives on CUDA memory through NCCL. Built as the
// plugin libmyriad_backend_nccl.so, the only Myriad library that links NCCL,
// which the registry loads when a communicator first asks for "nccl"
// (backend_plugin.h).
//
// Creation is collective: rank 0 makes the NCCL unique id and publishes it
// through the communicator's store; every rank joins a non-blocking NCCL
// communicator on its device (local rank modulo the visible devices). Each
// communicator has one CUDA stream; an operation first waits for the work
// already queued on the caller's default stream, is enqueued on the
// communicator's stream, and its Work completes when a CUDA event recorded
// after it has fired. A watcher thread polls the events and NCCL's
// asynchronous error; when an operation passes its timeout the communicator
// is aborted (ncclCommAbort), which releases every rank blocked in it, and
// every pending and later operation fails.
//
// Buffers must be CUDA memory on the communicator's device.
#pragma once

#include <memory>

#include "collectives/backend.h"

namespace myriad {

std::unique_ptr<Backend> make_nccl_backend(const BackendContext& context);

// The number of CUDA devices this process can use (0 without a driver or GPU).
int cuda_device_count();

}  // namespace myriad
