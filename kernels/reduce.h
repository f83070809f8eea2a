// Element-wise reductions: dst[i] = op(a[i], b[i]) for i < n, and the
// scaling that turns a sum into an average. These are the arithmetic of
// every reducing collective (allreduce, reduce, reduce-scatter).
//
// Types and ops: ElementType x ReduceKind (kernels/element_type.h): every
// kind for the five integer types, Sum, Prod, Min and Max for the four
// floating ones (59 combinations; reduce_defined() says which). Rules, the
// same at every ISA level and bit for bit:
//  - f32 and f64 compute in their own precision (one IEEE operation).
//  - f16 and bf16 are widened to f32, combined in f32 and rounded back to
//    nearest even, once per element per call (kernels/half.h). A chain of reductions
//    therefore rounds once per step, as on the wire between ranks.
//  - Integer Sum and Prod wrap modulo 2^bits (computed unsigned: no UB).
//  - Band, Bor and Bxor are the bitwise and, or and exclusive or of the
//    two's complement bits; they have no floating form.
//  - Min and Max propagate NaN: if a[i] or b[i] is NaN the result is NaN.
//    Otherwise Min is (a < b ? a : b) and Max is (a > b ? a : b), so of two
//    zeros of opposite sign the result is b's.
//  - Average: call Sum, then scale(type, dst, n, 1.0 / world). The factor is
//    rounded to float for f32/f16/bf16 and used as double for f64; f16/bf16
//    are scaled in f32 and rounded once. Integer types have no scale.
//
// Memory: dst may be the same pointer as a or b (the in-place form
// dst[i] = op(dst[i], src[i]) is reduce(dst, dst, src)); any other overlap
// is undefined. No alignment is required beyond the element's own. n == 0
// touches nothing. Kernels allocate nothing and hold no state: every
// function here may be called from any thread at once.
//
// Dispatch: the untyped entry points use active_isa() (kernels/isa.h); the
// overloads that take an Isa are for tests and benchmarks.
#pragma once

#include <cstddef>
#include <type_traits>

#include "kernels/element_type.h"
#include "kernels/isa.h"

namespace myriad::kernels {

// dst[i] = op(a[i], b[i]), i < n; pointers to elements of the chosen type.
using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t n);
// data[i] = data[i] * factor, i < n (rounding as described above).
using ScaleFn = void (*)(void* data, size_t n, double factor);

// The kernel for (type, kind) at the active level. Never null. Throws
// std::invalid_argument for an out-of-range enum value, for a bitwise kind
// of a floating type (!reduce_defined(type, kind); the message names both),
// or on first use if MYRIAD_KERNELS_ISA holds an unknown name.
ReduceFn reduce_function(ElementType type, ReduceKind kind);
// The kernel at a given level; nullptr when isa_supported(isa) is false.
// Throws as above for arguments that have no kernel at any level.
ReduceFn reduce_function(ElementType type, ReduceKind kind, Isa isa);

// The scaling kernel for a floating type at the active level; nullptr for
// an integer type.
ScaleFn scale_function(ElementType type);
// The same at a given level; nullptr for an integer type or when
// isa_supported(isa) is false.
ScaleFn scale_function(ElementType type, Isa isa);

// Convenience: look up and call.
void reduce(ElementType type, ReduceKind kind, void* dst, const void* a, const void* b, size_t n);
// Throws std::invalid_argument for an integer type.
void scale(ElementType type, void* data, size_t n, double factor);

// Typed forms: out-of-place and in-place (dst[i] = op(dst[i], src[i])).
template <typename T>
void reduce(ReduceKind kind, T* dst, const T* a, const T* b, size_t n) {
  reduce_function(kElementTypeOf<T>, kind)(dst, a, b, n);
}
template <typename T>
void reduce(ReduceKind kind, T* dst, const T* src, size_t n) {
  reduce_function(kElementTypeOf<T>, kind)(dst, dst, src, n);
}
template <typename T>
void scale(T* data, size_t n, double factor) {
  static_assert(is_floating(kElementTypeOf<T>), "scale is for f32, f64, f16 and bf16");
  scale_function(kElementTypeOf<T>)(data, n, factor);
}

}  // namespace myriad::kernels
