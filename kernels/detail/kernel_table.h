// Internal: the per-ISA tables of kernels that reduce.cc and cast.cc pick
// from. Not installed; only kernels/*.cc include it.
#pragma once

#include "kernels/cast.h"
#include "kernels/element_type.h"
#include "kernels/reduce.h"

namespace myriad::kernels::detail {

struct ReduceTable {
  // nullptr where !reduce_defined(type, kind) (bitwise kinds of floating types)
  ReduceFn reduce[kElementTypeCount][kReduceKindCount];
  ScaleFn scale[kElementTypeCount];  // nullptr for the integer types
};

struct CastTable {
  CastFn cast[kCastCount];
};

// Each level's tables. The AVX ones are built only on x86-64 (they return
// nullptr elsewhere); the caller checks isa_supported() before calling into
// them, since their code faults on a CPU without the instructions.
const ReduceTable* scalar_reduce_table();
const ReduceTable* avx2_reduce_table();
const ReduceTable* avx512_reduce_table();
const CastTable* scalar_cast_table();
const CastTable* avx2_cast_table();
const CastTable* avx512_cast_table();

}  // namespace myriad::kernels::detail
