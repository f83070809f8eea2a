// Picks a reduction or scale kernel from the table of the requested level.
#include "kernels/reduce.h"

#include <stdexcept>
#include <string>

#include "kernels/detail/kernel_table.h"

namespace myriad::kernels {
namespace {

const detail::ReduceTable* table_for(Isa isa) {
  if (!isa_supported(isa)) return nullptr;
  switch (isa) {
    case Isa::Scalar: return detail::scalar_reduce_table();
    case Isa::Avx2: return detail::avx2_reduce_table();
    case Isa::Avx512: return detail::avx512_reduce_table();
  }
  return nullptr;
}

void check_type(ElementType type) {
  if (static_cast<int>(type) >= kElementTypeCount) {
    throw std::invalid_argument("kernels: element type " + std::to_string(static_cast<int>(type)) +
                                " is out of range");
  }
}

}  // namespace

ReduceFn reduce_function(ElementType type, ReduceKind kind, Isa isa) {
  check_type(type);
  if (static_cast<int>(kind) >= kReduceKindCount) {
    throw std::invalid_argument("kernels: reduce kind " + std::to_string(static_cast<int>(kind)) +
                                " is out of range");
  }
  if (!reduce_defined(type, kind)) {
    throw std::invalid_argument(std::string("kernels: ") + reduce_kind_name(kind) +
                                " is a bitwise reduction, defined for integer types, not " +
                                element_type_name(type));
  }
  const detail::ReduceTable* table = table_for(isa);
  return table == nullptr ? nullptr : table->reduce[static_cast<int>(type)][static_cast<int>(kind)];
}

ReduceFn reduce_function(ElementType type, ReduceKind kind) {
  return reduce_function(type, kind, active_isa());
}

ScaleFn scale_function(ElementType type, Isa isa) {
  check_type(type);
  const detail::ReduceTable* table = table_for(isa);
  return table == nullptr ? nullptr : table->scale[static_cast<int>(type)];
}

ScaleFn scale_function(ElementType type) {
  return scale_function(type, active_isa());
}

void reduce(ElementType type, ReduceKind kind, void* dst, const void* a, const void* b, size_t n) {
  reduce_function(type, kind)(dst, a, b, n);
}

void scale(ElementType type, void* data, size_t n, double factor) {
  const ScaleFn fn = scale_function(type);
  if (fn == nullptr) {
    throw std::invalid_argument(std::string("kernels: scale is defined for floating types, not ") +
                                element_type_name(type));
  }
  fn(data, n, factor);
}

}  // namespace myriad::kernels
