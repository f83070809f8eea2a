// Internal: builds a ReduceTable from a kernel template, so that every ISA
// file lists the type x kind combinations the same way (and in ElementType
// order).
// Unnamed namespace for the reason given in detail/scalar_ops.h.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/detail/kernel_table.h"
#include "kernels/half.h"

namespace myriad::kernels::detail {
namespace {

// Kernel<T, K>::run and Scaler<T>::run are the reduction and scale kernels
// for element type T; Scaler is used for the floating types only.
template <template <typename, ReduceKind> class Kernel, typename T>
constexpr void fill_row(ReduceFn (&row)[kReduceKindCount]) {
  row[static_cast<int>(ReduceKind::Sum)] = &Kernel<T, ReduceKind::Sum>::run;
  row[static_cast<int>(ReduceKind::Prod)] = &Kernel<T, ReduceKind::Prod>::run;
  row[static_cast<int>(ReduceKind::Min)] = &Kernel<T, ReduceKind::Min>::run;
  row[static_cast<int>(ReduceKind::Max)] = &Kernel<T, ReduceKind::Max>::run;
  // The bitwise kinds exist for the integer types only: a floating row keeps
  // nullptr there, and reduce_function() rejects the pair before the lookup.
  if constexpr (std::is_integral_v<T>) {
    row[static_cast<int>(ReduceKind::Band)] = &Kernel<T, ReduceKind::Band>::run;
    row[static_cast<int>(ReduceKind::Bor)] = &Kernel<T, ReduceKind::Bor>::run;
    row[static_cast<int>(ReduceKind::Bxor)] = &Kernel<T, ReduceKind::Bxor>::run;
  }
}

template <template <typename, ReduceKind> class Kernel, template <typename> class Scaler>
constexpr ReduceTable make_reduce_table() {
  ReduceTable table{};
  auto row = [&table](ElementType type) -> ReduceFn(&)[kReduceKindCount] {
    return table.reduce[static_cast<int>(type)];
  };
  fill_row<Kernel, float>(row(ElementType::F32));
  fill_row<Kernel, double>(row(ElementType::F64));
  fill_row<Kernel, Half>(row(ElementType::F16));
  fill_row<Kernel, BFloat16>(row(ElementType::BF16));
  fill_row<Kernel, int8_t>(row(ElementType::I8));
  fill_row<Kernel, uint8_t>(row(ElementType::U8));
  fill_row<Kernel, int32_t>(row(ElementType::I32));
  fill_row<Kernel, int64_t>(row(ElementType::I64));
  fill_row<Kernel, int16_t>(row(ElementType::I16));
  table.scale[static_cast<int>(ElementType::F32)] = &Scaler<float>::run;
  table.scale[static_cast<int>(ElementType::F64)] = &Scaler<double>::run;
  table.scale[static_cast<int>(ElementType::F16)] = &Scaler<Half>::run;
  table.scale[static_cast<int>(ElementType::BF16)] = &Scaler<BFloat16>::run;
  return table;
}

}  // namespace
}  // namespace myriad::kernels::detail
