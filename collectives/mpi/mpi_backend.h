// The mpi backend: the collectives of the MPI library the job was started
// with (ranks started by mpirun, directly or through
// `myriad run --engine mpi`). Built as the plugin libmyriad_backend_mpi.so,
// the only Myriad library that links libmpi, which the registry loads when
// a communicator first asks for "mpi" (backend_plugin.h).
//
// MPI is initialized once per process, on a dedicated thread that makes
// every MPI call of every mpi communicator (so MPI_THREAD_FUNNELED
// suffices), and finalized at process exit. A communicator maps to an MPI
// communicator over the same world ranks (MPI_Comm_create_group), which
// requires that Myriad's world rank equals the MPI world rank.
//
// f16 and bf16 reductions, which MPI lacks, use user-defined MPI operations
// built on Myriad's kernels; avg is a sum followed by a scale. Operations
// are non-blocking MPI calls polled to completion, so the per-call timeout
// holds; after a timeout the MPI communicator is unusable (MPI cannot cancel
// a collective) and the backend fails every later operation.
#pragma once

#include <memory>

#include "collectives/backend.h"

namespace myriad {

std::unique_ptr<Backend> make_mpi_backend(const BackendContext& context);

}  // namespace myriad
