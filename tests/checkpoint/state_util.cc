#include "tests/checkpoint/state_util.h"

#include <fmt/format.h>

#include <functional>

namespace myriad::test {

RowRange shard_rows(int64_t rows, int rank, int size) {
  const int64_t base = rows / size, extra = rows % size;
  return {rank * base + std::min<int64_t>(rank, extra), base + (rank < extra ? 1 : 0)};
}

unsigned char pattern_byte(const std::string& name, uint64_t index, uint64_t step) {
  uint64_t x =
      std::hash<std::string>{}(name) ^ (index * 0x9E3779B97F4A7C15ull) ^ (step * 0xC2B2AE3D27D4EB4Full);
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<unsigned char>(x);
}

OwnedState::OwnedState(const std::vector<TensorSpec>& specs, int rank, int size, uint64_t step, bool fill) {
  tensors_.reserve(specs.size());
  for (const TensorSpec& spec : specs) {
    const uint64_t row_bytes = checkpoint::row_elements(spec.shape) * dtype_size(spec.dtype);
    const int64_t rows = static_cast<int64_t>(checkpoint::row_count(spec.shape));
    RowRange range{0, rows};
    if (spec.placement == checkpoint::Placement::Sharded) range = shard_rows(rows, rank, size);
    OwnedTensor t{spec, range.first,
                  std::vector<unsigned char>(static_cast<size_t>(range.count) * row_bytes)};
    if (fill) {
      for (size_t i = 0; i < t.bytes.size(); ++i) {
        t.bytes[i] = pattern_byte(spec.name, range.first * row_bytes + i, step);
      }
    }
    tensors_.push_back(std::move(t));
  }
  for (OwnedTensor& t : tensors_) {
    TensorView view{t.bytes.data(), t.bytes.size() / dtype_size(t.spec.dtype), t.spec.dtype};
    if (t.spec.placement == checkpoint::Placement::Sharded) {
      state_.add_sharded(t.spec.name, view, t.spec.shape, t.row_offset);
    } else {
      state_.add_replicated(t.spec.name, view, t.spec.shape);
    }
  }
  if (fill) state_.values = sample_values(step);
}

std::string OwnedState::mismatch(uint64_t step) const {
  for (const OwnedTensor& t : tensors_) {
    const uint64_t row_bytes = checkpoint::row_elements(t.spec.shape) * dtype_size(t.spec.dtype);
    for (size_t i = 0; i < t.bytes.size(); ++i) {
      const unsigned char want = pattern_byte(t.spec.name, t.row_offset * row_bytes + i, step);
      if (t.bytes[i] != want) {
        return fmt::format("tensor {} byte {} (global {}): {} != {} (step {})", t.spec.name, i,
                           t.row_offset * row_bytes + i, t.bytes[i], want, step);
      }
    }
  }
  if (state_.values != sample_values(step)) {
    return fmt::format("values {} != {}", state_.values.dump(), sample_values(step).dump());
  }
  return "";
}

nlohmann::json sample_values(uint64_t step) {
  return {{"step", step},
          {"lr", 0.125 * static_cast<double>(step + 1)},
          {"name", fmt::format("run at {}", step)},
          {"flags", {true, false, nullptr}},
          {"nested",
           {{"list", {1, 2.5, "three", {{"deep", {{"x", -7}}}}}}, {"empty", nlohmann::json::object()}}}};
}

}  // namespace myriad::test
