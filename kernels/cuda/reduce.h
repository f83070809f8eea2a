// CUDA reductions and scaling: the GPU counterparts of kernels/reduce.h, for
// the NCCL backend's own reduction steps and for tests.
//
// Same types, ops and rules as kernels/reduce.h (f16/bf16 in f32 and
// rounded to nearest even once, integer Sum/Prod wrap, Min/Max propagate
// NaN, Band/Bor/Bxor for the integer types only), so a GPU and a CPU reduction of the same inputs agree bit
// for bit except in the payload of a NaN result.
//
// Every call only enqueues work on `stream` and returns; pointers are device
// (or managed) memory, dst may equal a or b, any other overlap is undefined.
// n == 0 enqueues nothing. Errors: std::invalid_argument for an out-of-range
// type or kind, a bitwise kind of a floating type, or scale() of an integer
// type; std::runtime_error naming the
// CUDA error when the launch fails. Errors of the kernel itself surface on
// the stream, as with any CUDA work. Thread-safe (no state of its own).
//
// This header needs no CUDA header: cudaStream_t is declared below exactly
// as the CUDA runtime declares it.
#pragma once

#include <cstddef>

#include "kernels/element_type.h"

struct CUstream_st;
using cudaStream_t = CUstream_st*;

namespace myriad::kernels::cuda {

// dst[i] = op(a[i], b[i]) for i < n, on stream.
void reduce(ElementType type, ReduceKind kind, void* dst, const void* a, const void* b, size_t n,
            cudaStream_t stream);

// data[i] *= factor for i < n (the second half of an average), on stream.
// The factor is rounded to float for f32/f16/bf16.
void scale(ElementType type, void* data, size_t n, double factor, cudaStream_t stream);

}  // namespace myriad::kernels::cuda
