// Algorithm selection: MYRIAD_ALGO, tuning rules, then the cost model.
#include "collectives/native/selector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "runtime/error.h"

namespace myriad {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::string accepted_ops() {
  std::vector<std::string_view> names;
  for (int k = 0; k <= static_cast<int>(OpKind::Recv); ++k) {
    if (!algorithms_for(static_cast<OpKind>(k)).empty())
      names.push_back(op_kind_name(static_cast<OpKind>(k)));
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string accepted_algorithms(OpKind kind) {
  std::vector<std::string_view> names;
  for (const Algorithm* algorithm : algorithms_for(kind)) names.push_back(algorithm->name());
  return fmt::format("{}", fmt::join(names, ", "));
}

// "850 us", "1.2 ms", "3.4 s": three significant digits.
std::string duration_text(double seconds) {
  if (seconds < 1e-3) return fmt::format("{:.3g} us", seconds * 1e6);
  if (seconds < 1) return fmt::format("{:.3g} ms", seconds * 1e3);
  return fmt::format("{:.3g} s", seconds);
}

bool rule_matches(const TuningRule& rule, const CollectiveArgs& args, uint64_t bytes) {
  return rule.kind == args.kind && bytes >= rule.min_bytes && bytes <= rule.max_bytes &&
         args.size >= rule.min_ranks && args.size <= rule.max_ranks;
}

}  // namespace

std::map<OpKind, std::string> parse_algorithm_overrides(std::string_view text, std::string_view what) {
  std::map<OpKind, std::string> overrides;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    if (colon == std::string_view::npos) {
      raise(ErrorCode::InvalidArgument, "{}: '{}' is not op:algorithm (e.g. allreduce:ring)", what, entry);
    }
    const std::string op(trim(entry.substr(0, colon)));
    const std::string name(trim(entry.substr(colon + 1)));
    OpKind kind;
    try {
      kind = parse_op_kind(op);
    } catch (const Error&) {
      raise(ErrorCode::InvalidArgument, "{}: unknown op '{}' (accepted: {})", what, op, accepted_ops());
    }
    if (algorithms_for(kind).empty()) {
      raise(ErrorCode::InvalidArgument, "{}: unknown op '{}' (accepted: {})", what, op, accepted_ops());
    }
    if (find_algorithm(kind, name) == nullptr) {
      raise(ErrorCode::InvalidArgument, "{}: no algorithm '{}' for {} (accepted: {})", what, name, op,
            accepted_algorithms(kind));
    }
    if (!overrides.emplace(kind, name).second) {
      raise(ErrorCode::InvalidArgument, "{}: {} is named twice", what, op);
    }
  }
  return overrides;
}

Selector::Selector() {
  tuning_.model = CostModel::defaults();
}

Selector::Selector(Tuning tuning, std::map<OpKind, std::string> overrides)
    : tuning_(std::move(tuning)), overrides_(std::move(overrides)) {
  for (const auto& [kind, name] : overrides_) {
    if (find_algorithm(kind, name) == nullptr) {
      raise(ErrorCode::InvalidArgument, "no algorithm '{}' for {} (accepted: {})", name, op_kind_name(kind),
            accepted_algorithms(kind));
    }
  }
}

Selector Selector::from_env(const Env& env) {
  Tuning tuning;
  tuning.model = CostModel::defaults();
  if (std::optional<std::string> path = config::get_string(env, kTuningFileVariable)) {
    tuning = load_tuning_file(*path);
  }
  std::map<OpKind, std::string> overrides;
  if (std::optional<std::string> text = config::get_string(env, kAlgoVariable)) {
    overrides = parse_algorithm_overrides(*text, kAlgoVariable);
  }
  return Selector(std::move(tuning), std::move(overrides));
}

AlgorithmChoice Selector::select(const CollectiveArgs& args) const {
  MYRIAD_CHECK(args.topology != nullptr, "select() for {} without a topology", op_kind_name(args.kind));
  std::string skipped;  // overrides passed over, for the reason
  if (auto it = overrides_.find(args.kind); it != overrides_.end()) {
    const Algorithm* algorithm = find_algorithm(args.kind, it->second);
    if (algorithm->supports(args)) {
      return {algorithm, fmt::format("{}={}:{}", kAlgoVariable, op_kind_name(args.kind), it->second)};
    }
    skipped +=
        fmt::format("{} asks for {}, which does not support these arguments; ", kAlgoVariable, it->second);
  }
  const uint64_t bytes = collective_bytes(args);
  for (size_t i = 0; i < tuning_.rules.size(); ++i) {
    const TuningRule& rule = tuning_.rules[i];
    if (!rule_matches(rule, args, bytes)) continue;
    const Algorithm* algorithm = find_algorithm(args.kind, rule.algorithm);
    if (algorithm != nullptr && algorithm->supports(args)) {
      return {algorithm, fmt::format("{}tuning rule {} of '{}' ({} bytes): {}", skipped, i, tuning_.source,
                                     bytes, rule.algorithm)};
    }
    skipped += fmt::format("tuning rule {} asks for {}, which does not support these arguments; ", i,
                           rule.algorithm);
  }
  std::vector<std::pair<double, const Algorithm*>> costs;
  for (const Algorithm* algorithm : algorithms_for(args.kind)) {
    if (algorithm->supports(args)) costs.emplace_back(algorithm->cost(args, tuning_.model), algorithm);
  }
  if (costs.empty()) {
    raise(ErrorCode::NotSupported,
          "no native algorithm supports {} with {} ranks (rank {}, root {}, {} counts)",
          op_kind_name(args.kind), args.size, args.rank, args.root, args.counts.size());
  }
  std::stable_sort(costs.begin(), costs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string reason = skipped;
  for (size_t i = 0; i < costs.size(); ++i) {
    reason += fmt::format("{}{}: cost {}", i == 0 ? "" : " <= ", costs[i].second->name(),
                          duration_text(costs[i].first));
  }
  reason += fmt::format(" ({} bytes, {} ranks, {} nodes)", bytes, args.size,
                        args.topology != nullptr ? args.topology->num_nodes() : 1);
  return {costs.front().second, reason};
}

}  // namespace myriad
