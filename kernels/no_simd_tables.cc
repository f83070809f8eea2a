// The vector levels on a CPU other than x86-64: there are none, and
// isa_supported() says so, so these are never called with a table expected.
#include "kernels/detail/kernel_table.h"

namespace myriad::kernels::detail {

const ReduceTable* avx2_reduce_table() {
  return nullptr;
}
const ReduceTable* avx512_reduce_table() {
  return nullptr;
}
const CastTable* avx2_cast_table() {
  return nullptr;
}
const CastTable* avx512_cast_table() {
  return nullptr;
}

}  // namespace myriad::kernels::detail
