// CPU feature detection and the MYRIAD_KERNELS_ISA override (see isa.h).
#include "kernels/isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace myriad::kernels {
namespace {

#if defined(__x86_64__)
// F16C from CPUID leaf 1 (ECX bit 29) rather than __builtin_cpu_supports:
// not every compiler accepts "f16c" there (clang 14, which clang-tidy uses,
// rejects it), and the bit is architectural.
bool cpu_has_f16c() {
  unsigned eax = 0;
  unsigned ebx = 0;
  unsigned ecx = 0;
  unsigned edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
#endif

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

std::optional<Isa> parse_isa(std::string_view text) {
  for (Isa isa : kAllIsas) {
    if (text == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case Isa::Avx512:
      // F for the 512-bit ops, BW for byte/word lanes and masks, VL for the
      // 256-bit half conversions, DQ for the 64-bit multiply.
      return isa_supported(Isa::Avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq");
  }
  return false;
#else
  return isa == Isa::Scalar;
#endif
}

Isa best_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa resolve_isa(const char* value) {
  if (value == nullptr || *value == '\0') return best_isa();
  const std::optional<Isa> wanted = parse_isa(value);
  if (!wanted) {
    throw std::invalid_argument(std::string(kIsaEnvVar) + "='" + value +
                                "': accepted values are scalar, avx2, avx512");
  }
  // Lower an unsupported request rather than fail, so one test environment
  // can run on every machine; isa_supported() tells a test what it got.
  Isa isa = *wanted;
  while (!isa_supported(isa)) isa = static_cast<Isa>(static_cast<int>(isa) - 1);
  return isa;
}

Isa active_isa() {
  // A function-local static: computed once, thread-safely. If resolve_isa()
  // throws, the next call tries again and throws again.
  static const Isa isa = resolve_isa(std::getenv(kIsaEnvVar));
  return isa;
}

}  // namespace myriad::kernels
