// The element types and reductions the kernels know.
//
// kernels/ is the leaf of the dependency graph and cannot see runtime/'s
// DType and ReduceOp, so it declares its own. The enumerators are in the same
// order and mean the same as runtime's, so the collectives engine converts
// with a static_cast: ElementType{DType} one to one, and ReduceKind{ReduceOp}
// for Sum, Prod, Min and Max. Average has no kind here: the caller sums, then
// scales by 1/world (see reduce.h). Keep the orders in step with
// runtime/dtype.h; code that converts should static_assert the pairs.
//
// Everything here is constexpr, pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/half.h"

namespace myriad::kernels {

enum class ElementType : uint8_t { F32, F64, F16, BF16, I8, U8, I32, I64 };
inline constexpr int kElementTypeCount = 8;
inline constexpr ElementType kAllElementTypes[] = {ElementType::F32,  ElementType::F64, ElementType::F16,
                                                   ElementType::BF16, ElementType::I8,  ElementType::U8,
                                                   ElementType::I32,  ElementType::I64};

enum class ReduceKind : uint8_t { Sum, Prod, Min, Max };
inline constexpr int kReduceKindCount = 4;
inline constexpr ReduceKind kAllReduceKinds[] = {ReduceKind::Sum, ReduceKind::Prod, ReduceKind::Min,
                                                 ReduceKind::Max};

// Bytes of one element.
constexpr size_t element_size(ElementType type) {
  switch (type) {
    case ElementType::F64:
    case ElementType::I64: return 8;
    case ElementType::F32:
    case ElementType::I32: return 4;
    case ElementType::F16:
    case ElementType::BF16: return 2;
    case ElementType::I8:
    case ElementType::U8: return 1;
  }
  return 0;
}

// Floating types can be scaled (the second half of an average).
constexpr bool is_floating(ElementType type) {
  return type == ElementType::F32 || type == ElementType::F64 || type == ElementType::F16 ||
         type == ElementType::BF16;
}

// "f32", "f64", "f16", "bf16", "i8", "u8", "i32", "i64" (runtime's names).
constexpr const char* element_type_name(ElementType type) {
  constexpr const char* kNames[] = {"f32", "f64", "f16", "bf16", "i8", "u8", "i32", "i64"};
  return kNames[static_cast<int>(type)];
}

// "sum", "prod", "min", "max".
constexpr const char* reduce_kind_name(ReduceKind kind) {
  constexpr const char* kNames[] = {"sum", "prod", "min", "max"};
  return kNames[static_cast<int>(kind)];
}

// The ElementType of a C++ element type, for the typed wrappers.
template <typename T>
struct ElementTypeOf;
template <>
struct ElementTypeOf<float> {
  static constexpr ElementType value = ElementType::F32;
};
template <>
struct ElementTypeOf<double> {
  static constexpr ElementType value = ElementType::F64;
};
template <>
struct ElementTypeOf<Half> {
  static constexpr ElementType value = ElementType::F16;
};
template <>
struct ElementTypeOf<BFloat16> {
  static constexpr ElementType value = ElementType::BF16;
};
template <>
struct ElementTypeOf<int8_t> {
  static constexpr ElementType value = ElementType::I8;
};
template <>
struct ElementTypeOf<uint8_t> {
  static constexpr ElementType value = ElementType::U8;
};
template <>
struct ElementTypeOf<int32_t> {
  static constexpr ElementType value = ElementType::I32;
};
template <>
struct ElementTypeOf<int64_t> {
  static constexpr ElementType value = ElementType::I64;
};
template <typename T>
inline constexpr ElementType kElementTypeOf = ElementTypeOf<T>::value;

}  // namespace myriad::kernels
