// The portable f32 <-> f16/bf16 array conversions (kernels/half.h, one
// element at a time); the reference the vector levels match bit for bit.
#include "kernels/detail/kernel_table.h"
#include "kernels/half.h"

namespace myriad::kernels::detail {
namespace {

void f32_to_f16(void* dst, const void* src, size_t n) {
  const auto* in = static_cast<const float*>(src);
  auto* out = static_cast<Half*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = Half(in[i]);
}

void f16_to_f32(void* dst, const void* src, size_t n) {
  const auto* in = static_cast<const Half*>(src);
  auto* out = static_cast<float*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]);
}

void f32_to_bf16(void* dst, const void* src, size_t n) {
  const auto* in = static_cast<const float*>(src);
  auto* out = static_cast<BFloat16*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = BFloat16(in[i]);
}

void bf16_to_f32(void* dst, const void* src, size_t n) {
  const auto* in = static_cast<const BFloat16*>(src);
  auto* out = static_cast<float*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]);
}

// In Cast order.
constexpr CastTable kScalarCastTable{{&f32_to_f16, &f16_to_f32, &f32_to_bf16, &bf16_to_f32}};

}  // namespace

const CastTable* scalar_cast_table() {
  return &kScalarCastTable;
}

}  // namespace myriad::kernels::detail
