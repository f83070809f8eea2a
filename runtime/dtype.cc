#include "runtime/dtype.h"

#include "runtime/error.h"

namespace myriad {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::I8:
    case DType::U8: return 1;
    case DType::F16:
    case DType::BF16:
    case DType::I16: return 2;
    case DType::F32:
    case DType::I32: return 4;
    case DType::F64:
    case DType::I64: return 8;
  }
  MYRIAD_CHECK(false, "dtype {}", static_cast<int>(dtype));
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I8: return "i8";
    case DType::U8: return "u8";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::I16: return "i16";
  }
  MYRIAD_CHECK(false, "dtype {}", static_cast<int>(dtype));
}

DType parse_dtype(std::string_view text) {
  struct Alias {
    std::string_view name;
    DType dtype;
  };
  static constexpr Alias kAliases[] = {
      {"f32", DType::F32},     {"float", DType::F32},   {"float32", DType::F32},   {"f64", DType::F64},
      {"double", DType::F64},  {"float64", DType::F64}, {"f16", DType::F16},       {"half", DType::F16},
      {"float16", DType::F16}, {"bf16", DType::BF16},   {"bfloat16", DType::BF16}, {"i8", DType::I8},
      {"int8", DType::I8},     {"u8", DType::U8},       {"uint8", DType::U8},      {"i32", DType::I32},
      {"int", DType::I32},     {"int32", DType::I32},   {"i64", DType::I64},       {"int64", DType::I64},
      {"long", DType::I64},    {"i16", DType::I16},     {"int16", DType::I16},     {"short", DType::I16},
  };
  for (const Alias& alias : kAliases) {
    if (alias.name == text) return alias.dtype;
  }
  raise(ErrorCode::InvalidArgument,
        "unknown dtype '{}': accepted values are f32, f64, f16, bf16, i8, u8, i32, i64, i16", text);
}

bool dtype_is_floating(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F64 || dtype == DType::F16 || dtype == DType::BF16;
}

std::string_view reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Prod: return "prod";
    case ReduceOp::Min: return "min";
    case ReduceOp::Max: return "max";
    case ReduceOp::Avg: return "avg";
    case ReduceOp::Band: return "band";
    case ReduceOp::Bor: return "bor";
    case ReduceOp::Bxor: return "bxor";
  }
  MYRIAD_CHECK(false, "reduce op {}", static_cast<int>(op));
}

ReduceOp parse_reduce_op(std::string_view text) {
  for (ReduceOp op : kAllReduceOps) {
    if (reduce_op_name(op) == text) return op;
  }
  raise(ErrorCode::InvalidArgument,
        "unknown reduction '{}': accepted values are sum, prod, min, max, avg, band, bor, bxor", text);
}

bool reduce_op_is_bitwise(ReduceOp op) {
  return op == ReduceOp::Band || op == ReduceOp::Bor || op == ReduceOp::Bxor;
}

std::string device_name(Device device) {
  return device.is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", device.index);
}

}  // namespace myriad
