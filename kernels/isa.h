// Which instruction set the CPU kernels run with.
//
// Every kernel exists at three levels: Scalar (any x86-64 or other CPU),
// Avx2 (AVX2 + FMA + F16C) and Avx512 (AVX-512 F, BW, VL and DQ). The active
// level is chosen once per process, on first use: the best level the CPU
// supports, or the level named by the environment variable
//
//   MYRIAD_KERNELS_ISA=scalar|avx2|avx512
//
// which exists to test and benchmark the lower levels on a newer CPU. It is
// read with getenv here (kernels/ depends on nothing of Myriad's, so it
// cannot use runtime's config table). A level the CPU lacks is lowered to
// the best one it has below it; a value that is none of the three names
// throws std::invalid_argument from the first kernel lookup.
//
// All functions are thread-safe; active_isa() caches its answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace myriad::kernels {

enum class Isa : uint8_t { Scalar, Avx2, Avx512 };
inline constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512};

// The environment variable that forces a level.
inline constexpr const char* kIsaEnvVar = "MYRIAD_KERNELS_ISA";

// "scalar", "avx2", "avx512".
const char* isa_name(Isa isa);
// The inverse of isa_name; nullopt for anything else.
std::optional<Isa> parse_isa(std::string_view text);

// Whether this CPU (and this build: the vector files are only compiled for
// x86-64) can run kernels of level `isa`. Scalar is always supported.
bool isa_supported(Isa isa);
// The best supported level.
Isa best_isa();
// The level a MYRIAD_KERNELS_ISA value selects on this CPU: best_isa() for
// nullptr or "", else the named level lowered to the best supported one at
// or below it. Throws std::invalid_argument naming the variable and the
// accepted values for any other text.
Isa resolve_isa(const char* value);
// The level the untyped lookups (reduce_function, scale_function, the casts)
// use: resolve_isa(getenv(MYRIAD_KERNELS_ISA)), computed on first use.
Isa active_isa();

}  // namespace myriad::kernels
