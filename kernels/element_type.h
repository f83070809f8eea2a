// The element types and reductions the kernels know.
//
// kernels/ is the leaf of the dependency graph and cannot see runtime/'s
// DType and ReduceOp, so it declares its own. The enumerators are in the same
// order and mean the same as runtime's, so the collectives engine converts
// ElementType{DType} one to one with a static_cast. ReduceKind follows
// ReduceOp except for Average, which has no kind here (the caller sums, then
// scales by 1/world, see reduce.h): Sum, Prod, Min and Max have ReduceOp's
// numbers, and Band, Bor and Bxor, which come after Avg in ReduceOp, are one
// lower. New values are appended at the end of both enums, so that existing
// ones keep their numbers. Keep the orders in step with runtime/dtype.h; code
// that converts should static_assert the pairs.
//
// Everything here is constexpr, pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/half.h"

namespace myriad::kernels {

enum class ElementType : uint8_t { F32, F64, F16, BF16, I8, U8, I32, I64, I16 };
inline constexpr int kElementTypeCount = 9;
inline constexpr ElementType kAllElementTypes[] = {ElementType::F32,  ElementType::F64, ElementType::F16,
                                                   ElementType::BF16, ElementType::I8,  ElementType::U8,
                                                   ElementType::I32,  ElementType::I64, ElementType::I16};

// Band, Bor and Bxor are bitwise and, or and exclusive or.
enum class ReduceKind : uint8_t { Sum, Prod, Min, Max, Band, Bor, Bxor };
inline constexpr int kReduceKindCount = 7;
inline constexpr ReduceKind kAllReduceKinds[] = {ReduceKind::Sum, ReduceKind::Prod, ReduceKind::Min,
                                                 ReduceKind::Max, ReduceKind::Band, ReduceKind::Bor,
                                                 ReduceKind::Bxor};

// Bytes of one element.
constexpr size_t element_size(ElementType type) {
  switch (type) {
    case ElementType::F64:
    case ElementType::I64: return 8;
    case ElementType::F32:
    case ElementType::I32: return 4;
    case ElementType::F16:
    case ElementType::BF16:
    case ElementType::I16: return 2;
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

// The bitwise reductions (Band, Bor, Bxor).
constexpr bool is_bitwise(ReduceKind kind) {
  return kind == ReduceKind::Band || kind == ReduceKind::Bor || kind == ReduceKind::Bxor;
}

// Whether a kernel exists for (type, kind): every kind for the integer
// types, every kind but the bitwise ones for the floating types.
constexpr bool reduce_defined(ElementType type, ReduceKind kind) {
  return !(is_bitwise(kind) && is_floating(type));
}

// "f32", "f64", "f16", "bf16", "i8", "u8", "i32", "i64", "i16" (runtime's names).
constexpr const char* element_type_name(ElementType type) {
  constexpr const char* kNames[] = {"f32", "f64", "f16", "bf16", "i8", "u8", "i32", "i64", "i16"};
  return kNames[static_cast<int>(type)];
}

// "sum", "prod", "min", "max", "band", "bor", "bxor".
constexpr const char* reduce_kind_name(ReduceKind kind) {
  constexpr const char* kNames[] = {"sum", "prod", "min", "max", "band", "bor", "bxor"};
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
struct ElementTypeOf<int16_t> {
  static constexpr ElementType value = ElementType::I16;
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
