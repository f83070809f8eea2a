// The portable reduction and scale kernels: plain loops over
// detail/scalar_ops.h. They are the fallback on CPUs without AVX2, the
// MYRIAD_KERNELS_ISA=scalar level, and the definition the vector levels
// must match bit for bit.
#include "kernels/detail/kernel_table.h"
#include "kernels/detail/scalar_ops.h"
#include "kernels/detail/table_builder.h"

namespace myriad::kernels::detail {
namespace {

template <typename T, ReduceKind K>
struct ScalarReduce {
  static void run(void* dst, const void* a, const void* b, size_t n) {
    reduce_tail<T, K>(static_cast<T*>(dst), static_cast<const T*>(a), static_cast<const T*>(b), 0, n);
  }
};

template <typename T>
struct ScalarScale {
  static void run(void* data, size_t n, double factor) { scale_tail(static_cast<T*>(data), 0, n, factor); }
};

constexpr ReduceTable kScalarReduceTable = make_reduce_table<ScalarReduce, ScalarScale>();

}  // namespace

const ReduceTable* scalar_reduce_table() {
  return &kScalarReduceTable;
}

}  // namespace myriad::kernels::detail
