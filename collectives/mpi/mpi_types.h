// Mapping of Myriad's dtypes and reductions to MPI datatypes and operations.
// Must be called on the MPI thread after MPI_Init.
#pragma once

#include <mpi.h>

#include "runtime/dtype.h"

namespace myriad::mpi {

MPI_Datatype datatype(DType dtype);
// The MPI operation for (dtype, op); avg maps to sum (the caller scales),
// band/bor/bxor to MPI_BAND/MPI_BOR/MPI_BXOR (integer types only, as
// validate::reduction checks). f16 and bf16 get user-defined operations
// built on Myriad's kernels.
MPI_Op reduce_op(DType dtype, ReduceOp op);

}  // namespace myriad::mpi
