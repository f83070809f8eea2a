// Selector: picks the algorithm that runs a collective, and says why.
//
// In order of precedence:
//   1. MYRIAD_ALGO, e.g. "allreduce:ring,broadcast:tree": that algorithm
//      for that op whenever it supports the arguments;
//   2. the first rule of the tuning file (MYRIAD_TUNING_FILE, docs/tuning.md)
//      matching the op, its size in bytes (collective_bytes) and the rank count;
//   3. the lowest cost() under the cost model (the defaults, or the tuning
//      file's links) among the algorithms that support the arguments; ties
//      go to the one registered first.
// An override whose algorithm does not support the arguments (a `v` op's
// counts, say) falls through to the next level, and the reason says so.
//
// Construction validates everything (unknown op or algorithm names are
// Error(InvalidArgument) listing the accepted ones); select() throws
// Error(NotSupported) only when no algorithm supports the arguments.
// A Selector is immutable after construction: select() is thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "collectives/native/algorithm.h"
#include "collectives/native/tuning_file.h"
#include "runtime/config.h"

namespace myriad {

inline constexpr std::string_view kAlgoVariable = "MYRIAD_ALGO";
inline constexpr std::string_view kTuningFileVariable = "MYRIAD_TUNING_FILE";

struct AlgorithmChoice {
  const Algorithm* algorithm = nullptr;
  // One line for the debug log: "MYRIAD_ALGO=allreduce:ring", "tuning rule 0
  // of t.json", or "ring: cost 1.2 ms < rabenseifner 1.5 ms < ...".
  std::string reason;
};

// Parses MYRIAD_ALGO's syntax: comma-separated op:algorithm pairs (spaces
// around either ignored, empty entries skipped). `what` names the source in
// errors. An op named twice is an error.
std::map<OpKind, std::string> parse_algorithm_overrides(std::string_view text,
                                                        std::string_view what = kAlgoVariable);

class Selector {
 public:
  // The default cost model; no overrides.
  Selector();
  Selector(Tuning tuning, std::map<OpKind, std::string> overrides);
  // MYRIAD_ALGO and MYRIAD_TUNING_FILE from `env`.
  static Selector from_env(const Env& env);

  AlgorithmChoice select(const CollectiveArgs& args) const;
  const CostModel& model() const { return tuning_.model; }

 private:
  Tuning tuning_;
  std::map<OpKind, std::string> overrides_;
};

}  // namespace myriad
