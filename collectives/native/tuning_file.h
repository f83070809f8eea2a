// Tuning file: measured link costs and explicit algorithm rules that
// override the built-in cost model (format: docs/tuning.md).
//
// parse_tuning() validates everything: an unknown key, a value of the wrong
// type or out of range, an unknown op or algorithm name is an
// Error(InvalidArgument) naming the file and the key ("rules[2].op"). A file
// that cannot be read is Error(Io) naming it. Nothing is partly applied:
// the result is built only when the whole file is valid.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/native/cost_model.h"
#include "collectives/types.h"

namespace myriad {

inline constexpr int kTuningFileVersion = 1;

// "Use `algorithm` for `kind` when the op's bytes (collective_bytes) and
// rank count are within these inclusive bounds."
struct TuningRule {
  OpKind kind = OpKind::Allreduce;
  uint64_t min_bytes = 0;
  uint64_t max_bytes = UINT64_MAX;
  int min_ranks = 1;
  int max_ranks = INT_MAX;
  std::string algorithm;
};

struct Tuning {
  std::string source;  // the file, for messages
  CostModel model;
  std::vector<TuningRule> rules;  // first match wins
};

// Parses `text` (named `source` in errors) over the costs of `base`.
Tuning parse_tuning(std::string_view text, std::string_view source,
                    const CostModel& base = CostModel::defaults());
// Reads and parses the file at `path`.
Tuning load_tuning_file(const std::string& path, const CostModel& base = CostModel::defaults());

}  // namespace myriad
