// Parsing of the tuning file (docs/tuning.md).
#include "collectives/native/tuning_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "collectives/native/algorithm.h"
#include "runtime/error.h"

namespace myriad {
namespace {

using nlohmann::json;

constexpr double kMicrosecond = 1e-6;
constexpr double kGigabyte = 1e9;

constexpr LinkClass kLinks[] = {LinkClass::Self, LinkClass::Shm,    LinkClass::Tcp,
                                LinkClass::Ucx,  LinkClass::NvLink, LinkClass::Ib};

class Parser {
 public:
  explicit Parser(std::string_view source) : source_(source) {}

  [[noreturn]] void fail(std::string_view key, std::string_view problem) const {
    raise(ErrorCode::InvalidArgument, "tuning file '{}': {}: {}", source_, key, problem);
  }

  void only_keys(const json& object, std::string_view key,
                 std::initializer_list<std::string_view> accepted) const {
    for (const auto& [name, value] : object.items()) {
      bool known = false;
      for (std::string_view a : accepted) known = known || a == name;
      if (!known)
        fail(key.empty() ? name : fmt::format("{}.{}", key, name),
             fmt::format("unknown key (accepted: {})", fmt::join(accepted, ", ")));
    }
  }

  const json& object(const json& value, std::string_view key) const {
    if (!value.is_object()) fail(key, fmt::format("expected an object, got {}", value.dump()));
    return value;
  }

  double number(const json& value, std::string_view key, bool positive) const {
    if (!value.is_number()) fail(key, fmt::format("expected a number, got {}", value.dump()));
    const double number = value.get<double>();
    if (positive ? !(number > 0) : !(number >= 0)) {
      fail(key,
           fmt::format("expected a {} number, got {}", positive ? "positive" : "non-negative", value.dump()));
    }
    return number;
  }

  uint64_t count(const json& value, std::string_view key) const {
    if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
      fail(key, fmt::format("expected a non-negative integer, got {}", value.dump()));
    }
    return value.get<uint64_t>();
  }

  std::string text(const json& value, std::string_view key) const {
    if (!value.is_string()) fail(key, fmt::format("expected a string, got {}", value.dump()));
    return value.get<std::string>();
  }

 private:
  std::string source_;
};

LinkClass parse_link(const Parser& parser, const std::string& name, std::string_view key) {
  std::vector<std::string_view> names;
  for (LinkClass link : kLinks) {
    if (link_class_name(link) == name) return link;
    names.push_back(link_class_name(link));
  }
  parser.fail(key, fmt::format("unknown link class (accepted: {})", fmt::join(names, ", ")));
}

OpKind parse_op(const Parser& parser, const std::string& name, std::string_view key) {
  try {
    const OpKind kind = parse_op_kind(name);
    if (!algorithms_for(kind).empty()) return kind;
  } catch (const Error&) {
  }
  std::vector<std::string_view> names;
  for (int k = 0; k <= static_cast<int>(OpKind::Recv); ++k) {
    if (!algorithms_for(static_cast<OpKind>(k)).empty())
      names.push_back(op_kind_name(static_cast<OpKind>(k)));
  }
  parser.fail(key, fmt::format("unknown op '{}' (accepted: {})", name, fmt::join(names, ", ")));
}

TuningRule parse_rule(const Parser& parser, const json& value, std::string_view key) {
  parser.object(value, key);
  parser.only_keys(value, key, {"op", "algorithm", "min_bytes", "max_bytes", "min_ranks", "max_ranks"});
  TuningRule rule;
  for (std::string_view required : {"op", "algorithm"}) {
    if (!value.contains(required)) parser.fail(fmt::format("{}.{}", key, required), "missing");
  }
  rule.kind =
      parse_op(parser, parser.text(value["op"], fmt::format("{}.op", key)), fmt::format("{}.op", key));
  rule.algorithm = parser.text(value["algorithm"], fmt::format("{}.algorithm", key));
  if (find_algorithm(rule.kind, rule.algorithm) == nullptr) {
    std::vector<std::string_view> names;
    for (const Algorithm* algorithm : algorithms_for(rule.kind)) names.push_back(algorithm->name());
    parser.fail(fmt::format("{}.algorithm", key),
                fmt::format("no algorithm '{}' for {} (accepted: {})", rule.algorithm,
                            op_kind_name(rule.kind), fmt::join(names, ", ")));
  }
  if (value.contains("min_bytes"))
    rule.min_bytes = parser.count(value["min_bytes"], fmt::format("{}.min_bytes", key));
  if (value.contains("max_bytes"))
    rule.max_bytes = parser.count(value["max_bytes"], fmt::format("{}.max_bytes", key));
  const auto ranks = [&](const char* name, int fallback) {
    if (!value.contains(name)) return fallback;
    const uint64_t n = parser.count(value[name], fmt::format("{}.{}", key, name));
    if (n < 1 || n > static_cast<uint64_t>(INT_MAX))
      parser.fail(fmt::format("{}.{}", key, name), "out of range");
    return static_cast<int>(n);
  };
  rule.min_ranks = ranks("min_ranks", 1);
  rule.max_ranks = ranks("max_ranks", INT_MAX);
  if (rule.min_bytes > rule.max_bytes) parser.fail(key, "min_bytes is larger than max_bytes");
  if (rule.min_ranks > rule.max_ranks) parser.fail(key, "min_ranks is larger than max_ranks");
  return rule;
}

}  // namespace

Tuning parse_tuning(std::string_view text, std::string_view source, const CostModel& base) {
  const Parser parser(source);
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& error) {
    raise(ErrorCode::InvalidArgument, "tuning file '{}': not valid JSON: {}", source, error.what());
  }
  parser.object(root, "(top level)");
  parser.only_keys(root, "", {"version", "links", "reduce_gbps", "rules"});
  if (!root.contains("version"))
    parser.fail("version", fmt::format("missing (this Myriad reads version {})", kTuningFileVersion));
  if (!root["version"].is_number_integer() || root["version"].get<int64_t>() != kTuningFileVersion) {
    parser.fail("version", fmt::format("{} is not supported (this Myriad reads version {})",
                                       root["version"].dump(), kTuningFileVersion));
  }
  Tuning tuning;
  tuning.source = std::string(source);
  tuning.model = base;
  if (root.contains("links")) {
    for (const auto& [name, value] : parser.object(root["links"], "links").items()) {
      const std::string key = "links." + name;
      const LinkClass link = parse_link(parser, name, key);
      parser.object(value, key);
      parser.only_keys(value, key, {"alpha_us", "gbps"});
      LinkCost cost = tuning.model.link(link);
      if (value.contains("alpha_us"))
        cost.alpha = parser.number(value["alpha_us"], key + ".alpha_us", false) * kMicrosecond;
      if (value.contains("gbps"))
        cost.beta = 1.0 / (parser.number(value["gbps"], key + ".gbps", true) * kGigabyte);
      tuning.model.set_link(link, cost);
    }
  }
  if (root.contains("reduce_gbps")) {
    tuning.model.set_gamma(1.0 / (parser.number(root["reduce_gbps"], "reduce_gbps", true) * kGigabyte));
  }
  if (root.contains("rules")) {
    const json& rules = root["rules"];
    if (!rules.is_array()) parser.fail("rules", fmt::format("expected an array, got {}", rules.dump()));
    for (size_t i = 0; i < rules.size(); ++i)
      tuning.rules.push_back(parse_rule(parser, rules[i], fmt::format("rules[{}]", i)));
  }
  return tuning;
}

Tuning load_tuning_file(const std::string& path, const CostModel& base) {
  std::ifstream file(path);
  if (!file) raise_errno(errno, fmt::format("tuning file '{}': cannot open", path));
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) raise_errno(errno, fmt::format("tuning file '{}': cannot read", path));
  return parse_tuning(text.str(), path, base);
}

}  // namespace myriad
