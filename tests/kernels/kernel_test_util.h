// Shared helpers for the kernel tests: random inputs that include the
// awkward values (NaN, infinities, signed zeros, subnormals, wrap-around
// integers), bitwise comparison that treats any two NaNs as equal, and
// buffers with guard elements that catch a kernel writing out of bounds.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/half.h"

namespace myriad::kernels::testing {

// The counts every sweep runs: empty, below/at/above each vector width,
// and large and odd.
inline constexpr size_t kCounts[] = {0,  1,  7,  15, 16, 17,   31,
                                     32, 33, 63, 64, 65, 1023, (size_t{1} << 20) + 3};

template <typename T>
constexpr bool kIsFloat =
    std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// Widens a value to double for messages and NaN tests.
template <typename T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    return static_cast<double>(static_cast<float>(v));
  } else {
    return static_cast<double>(v);
  }
}

template <typename T>
bool is_nan(T v) {
  if constexpr (kIsFloat<T>) return std::isnan(to_double(v));
  return false;
}

// Same bits, or both NaN (NaN payloads are not part of the contract).
template <typename T>
bool same(T x, T y) {
  if (is_nan(x) || is_nan(y)) return is_nan(x) && is_nan(y);
  using Bits = std::conditional_t<
      sizeof(T) == 8, uint64_t,
      std::conditional_t<sizeof(T) == 4, uint32_t, std::conditional_t<sizeof(T) == 2, uint16_t, uint8_t>>>;
  Bits bx;
  Bits by;
  std::memcpy(&bx, &x, sizeof(T));
  std::memcpy(&by, &y, sizeof(T));
  return bx == by;
}

template <typename T>
std::string describe(T v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    char bits[8];
    std::snprintf(bits, sizeof(bits), "%04x", v.bits);
    return std::to_string(to_double(v)) + " (0x" + bits + ")";
  } else {
    return std::to_string(to_double(v));
  }
}

// Random values of T. One in eight floating values is special; the rest are
// ordinary numbers of moderate size so that sums and products mean something.
template <typename T>
T random_value(std::mt19937_64& rng) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(rng());
  } else if constexpr (std::is_same_v<T, Half>) {
    // Every 16-bit pattern is a valid half: draw them all sometimes.
    if (rng() % 4 == 0) return Half::from_bits(static_cast<uint16_t>(rng()));
    return Half(std::uniform_real_distribution<float>(-8.0f, 8.0f)(rng));
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    if (rng() % 4 == 0) return BFloat16::from_bits(static_cast<uint16_t>(rng()));
    return BFloat16(std::uniform_real_distribution<float>(-8.0f, 8.0f)(rng));
  } else {
    using L = std::numeric_limits<T>;
    if (rng() % 8 == 0) {
      const T specials[] = {L::quiet_NaN(), -L::quiet_NaN(), L::infinity(),   -L::infinity(),
                            T(0),           -T(0),           L::denorm_min(), -L::denorm_min() * 3,
                            L::min() / 2,   L::max(),        L::lowest(),     L::min()};
      return specials[rng() % std::size(specials)];
    }
    return std::uniform_real_distribution<T>(T(-8), T(8))(rng);
  }
}

template <typename T>
std::vector<T> random_values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> values(n);
  for (T& v : values) v = random_value<T>(rng);
  return values;
}

// A buffer of n elements starting `offset` elements past a 64-byte boundary,
// with guard elements on both sides filled with a known pattern.
template <typename T>
class GuardedBuffer {
 public:
  static constexpr size_t kGuard = 64;
  GuardedBuffer(size_t n, size_t offset) : n_(n), offset_(offset), storage_(n + 2 * kGuard + offset + 64) {
    auto address = reinterpret_cast<uintptr_t>(storage_.data());
    const size_t skew = (64 - address % 64) % 64 / sizeof(T);
    begin_ = skew + kGuard + offset_;
    std::memset(static_cast<void*>(storage_.data()), kPattern, storage_.size() * sizeof(T));
  }
  T* data() { return storage_.data() + begin_; }
  void fill(const std::vector<T>& values) {
    // An empty vector's data() may be null, which memcpy must not get.
    if (n_ > 0) std::memcpy(static_cast<void*>(data()), values.data(), n_ * sizeof(T));
  }
  // True if no byte outside [data(), data() + n) changed.
  bool guards_intact() const {
    const auto* bytes = reinterpret_cast<const unsigned char*>(storage_.data());
    const size_t first = begin_ * sizeof(T);
    const size_t last = (begin_ + n_) * sizeof(T);
    for (size_t i = 0; i < storage_.size() * sizeof(T); ++i) {
      if ((i < first || i >= last) && bytes[i] != kPattern) return false;
    }
    return true;
  }

 private:
  static constexpr unsigned char kPattern = 0xa5;
  size_t n_;
  size_t offset_;
  size_t begin_ = 0;
  std::vector<T> storage_;
};

}  // namespace myriad::kernels::testing
