// State: what a checkpoint saves and what a load fills in — named tensors
// and a JSON document of plain values.
//
// A tensor is a TensorView of this rank's part plus its place in the global
// tensor. `Sharded` tensors are split along dimension 0 between ranks in
// contiguous pieces (even, uneven or empty): this rank holds rows
// [row_offset, row_offset + rows) where rows = view.count / (elements per
// row). `Replicated` tensors are whole on every rank (row_offset 0, the full
// shape); rank 0 saves them once.
//
// The State does not own tensor memory: the views must stay valid and, for
// save(), unchanged until save() returns (the snapshot is taken then); for
// load(), until load() returns. Tensors live in host memory (Device::cpu);
// a device tensor is copied to the host by the caller (the Python API does
// this on a side stream). Not thread-safe: one thread builds and uses a State.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace myriad::checkpoint {

enum class Placement : uint8_t { Sharded, Replicated };
// "sharded" or "replicated"; parse throws Error(InvalidArgument).
std::string_view placement_name(Placement placement);
Placement parse_placement(std::string_view text);

struct TensorEntry {
  std::string name;
  TensorView view;                    // this rank's rows, C order
  std::vector<int64_t> global_shape;  // empty: a scalar (one element)
  Placement placement = Placement::Replicated;
  int64_t row_offset = 0;  // first global row held here (Sharded only)
};

struct State {
  std::vector<TensorEntry> tensors;
  // Plain values: numbers, strings, booleans, null, arrays, objects. A save
  // keeps rank 0's (they are the same on every rank in a data-parallel run).
  nlohmann::json values = nlohmann::json::object();

  // Adds a replicated tensor (the whole tensor on every rank).
  void add_replicated(std::string name, TensorView view, std::vector<int64_t> shape);
  // Adds this rank's rows [row_offset, row_offset + rows) of a tensor of
  // `global_shape`, split along dimension 0.
  void add_sharded(std::string name, TensorView view, std::vector<int64_t> global_shape, int64_t row_offset);
};

// Elements in one row (dimension 0) of `shape`: the product of the other
// dimensions; 1 for a scalar or a 1-d tensor.
uint64_t row_elements(const std::vector<int64_t>& shape);
// Rows of `shape`: shape[0], or 1 for a scalar.
uint64_t row_count(const std::vector<int64_t>& shape);
// Throws Error(InvalidArgument) naming the tensor when an entry is
// inconsistent: empty or duplicate name, negative dimension, a view whose
// count is not whole rows, rows outside the global tensor, a replicated view
// that is not the whole tensor, a null buffer, or memory not on the host.
void validate_state(const State& state);

}  // namespace myriad::checkpoint
