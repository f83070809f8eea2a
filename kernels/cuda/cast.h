// CUDA f32 <-> f16/bf16 array conversions: the GPU counterparts of
// kernels/cast.h, with the same rounding (nearest even, subnormals kept,
// NaN stays NaN). Enqueues on `stream` and returns; src and dst are device
// memory and must not overlap. Errors as in kernels/cuda/reduce.h.
#pragma once

#include <cstddef>

#include "kernels/cast.h"

struct CUstream_st;
using cudaStream_t = CUstream_st*;

namespace myriad::kernels::cuda {

// dst[i] = convert(src[i]) for i < n, on stream.
void cast(Cast cast, void* dst, const void* src, size_t n, cudaStream_t stream);

}  // namespace myriad::kernels::cuda
