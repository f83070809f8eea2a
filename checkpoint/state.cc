#include "checkpoint/state.h"

#include <set>

#include "runtime/error.h"

namespace myriad::checkpoint {

std::string_view placement_name(Placement placement) {
  return placement == Placement::Sharded ? "sharded" : "replicated";
}

Placement parse_placement(std::string_view text) {
  if (text == "sharded") return Placement::Sharded;
  if (text == "replicated") return Placement::Replicated;
  raise(ErrorCode::InvalidArgument, "unknown placement '{}' (expected sharded or replicated)", text);
}

void State::add_replicated(std::string name, TensorView view, std::vector<int64_t> shape) {
  tensors.push_back({std::move(name), view, std::move(shape), Placement::Replicated, 0});
}

void State::add_sharded(std::string name, TensorView view, std::vector<int64_t> global_shape,
                        int64_t row_offset) {
  tensors.push_back({std::move(name), view, std::move(global_shape), Placement::Sharded, row_offset});
}

uint64_t row_elements(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= static_cast<uint64_t>(shape[i]);
  return n;
}

uint64_t row_count(const std::vector<int64_t>& shape) {
  return shape.empty() ? 1 : static_cast<uint64_t>(shape[0]);
}

void validate_state(const State& state) {
  std::set<std::string> names;
  for (const TensorEntry& t : state.tensors) {
    if (t.name.empty()) raise(ErrorCode::InvalidArgument, "a checkpoint tensor has an empty name");
    if (!names.insert(t.name).second) raise(ErrorCode::InvalidArgument, "tensor '{}' appears twice", t.name);
    for (int64_t d : t.global_shape) {
      if (d < 0) raise(ErrorCode::InvalidArgument, "tensor '{}': negative dimension {}", t.name, d);
    }
    if (!t.view.device.is_cpu()) {
      raise(ErrorCode::NotSupported, "tensor '{}' is on {}: the checkpoint service reads host memory only",
            t.name, device_name(t.view.device));
    }
    if (t.view.count > 0 && t.view.data == nullptr) {
      raise(ErrorCode::InvalidArgument, "tensor '{}': null buffer with {} elements", t.name, t.view.count);
    }
    const uint64_t per_row = row_elements(t.global_shape);
    const uint64_t total_rows = row_count(t.global_shape);
    if (per_row == 0) {
      if (t.view.count != 0) {
        raise(ErrorCode::InvalidArgument, "tensor '{}': shape has no elements but the view has {}", t.name,
              t.view.count);
      }
      continue;
    }
    if (t.view.count % per_row != 0) {
      raise(ErrorCode::InvalidArgument, "tensor '{}': {} elements are not whole rows of {}", t.name,
            t.view.count, per_row);
    }
    const uint64_t rows = t.view.count / per_row;
    if (t.placement == Placement::Replicated) {
      if (rows != total_rows) {
        raise(ErrorCode::InvalidArgument, "replicated tensor '{}': view has {} elements, the tensor {}",
              t.name, t.view.count, per_row * total_rows);
      }
    } else if (t.global_shape.empty()) {
      raise(ErrorCode::InvalidArgument, "tensor '{}': a scalar cannot be sharded", t.name);
    } else if (t.row_offset < 0 || static_cast<uint64_t>(t.row_offset) + rows > total_rows) {
      raise(ErrorCode::InvalidArgument, "sharded tensor '{}': rows [{}, {}) outside its {} rows", t.name,
            t.row_offset, static_cast<uint64_t>(t.row_offset) + rows, total_rows);
    }
  }
}

}  // namespace myriad::checkpoint
