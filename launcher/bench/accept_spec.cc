#include "launcher/bench/accept_spec.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "launcher/bench/coll_bench.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {

// Reads one spec, keeping the file name for every message.
class SpecReader {
 public:
  explicit SpecReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& message) const {
    // yaml-cpp counts lines from 0.
    raise(ErrorCode::InvalidArgument, "{}:{}: {}", source_, at.Mark().line + 1, message);
  }

  int line(const YAML::Node& node) const { return node.Mark().line + 1; }

  // A map whose keys must all be in `known`.
  void expect_map(const YAML::Node& node, const std::string& where,
                  const std::set<std::string>& known) const {
    if (!node.IsMap()) fail(node, fmt::format("'{}' must be a mapping of keys to values", where));
    for (const auto& item : node) {
      std::string key = item.first.as<std::string>();
      if (!known.contains(key)) {
        fail(item.first,
             fmt::format("unknown key '{}' in {} (accepted: {})", key, where, fmt::join(known, ", ")));
      }
    }
  }

  double number(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) fail(node, fmt::format("key '{}' must be a number", key));
    try {
      return node.as<double>();
    } catch (const YAML::Exception&) {
      fail(node, fmt::format("key '{}' must be a number, got '{}'", key, node.Scalar()));
    }
  }

  int integer(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) fail(node, fmt::format("key '{}' must be an integer", key));
    try {
      return node.as<int>();
    } catch (const YAML::Exception&) {
      fail(node, fmt::format("key '{}' must be an integer, got '{}'", key, node.Scalar()));
    }
  }

  std::string text(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) fail(node, fmt::format("key '{}' must be a string", key));
    return node.Scalar();
  }

  size_t size(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar())
      fail(node, fmt::format("key '{}' must be a size (a number of bytes or 64M-style text)", key));
    try {
      return parse_size(node.Scalar());
    } catch (const Error&) {
      fail(node, fmt::format("key '{}' must be a size (a number of bytes or 64M-style text), got '{}'", key,
                             node.Scalar()));
    }
  }

  MembwCheck membw(const YAML::Node& node) const {
    expect_map(node, "membw",
               {"bytes", "iterations", "copy_gbs_per_node", "triad_gbs_per_node", "device_copy_gbs"});
    MembwCheck check;
    check.line = line(node);
    if (node["bytes"]) check.bytes = size(node["bytes"], "bytes");
    if (node["iterations"]) check.iterations = integer(node["iterations"], "iterations");
    if (node["copy_gbs_per_node"])
      check.copy_gbs_per_node = number(node["copy_gbs_per_node"], "copy_gbs_per_node");
    if (node["triad_gbs_per_node"])
      check.triad_gbs_per_node = number(node["triad_gbs_per_node"], "triad_gbs_per_node");
    if (node["device_copy_gbs"]) check.device_copy_gbs = number(node["device_copy_gbs"], "device_copy_gbs");
    if (!check.copy_gbs_per_node && !check.triad_gbs_per_node && !check.device_copy_gbs) {
      fail(node,
           "membw has no threshold: give at least one of copy_gbs_per_node, triad_gbs_per_node, "
           "device_copy_gbs");
    }
    return check;
  }

  P2pCheck p2p(const YAML::Node& node) const {
    expect_map(node, "p2p", {"backend", "bytes", "iterations", "min_bandwidth_gbs", "max_latency_us"});
    P2pCheck check;
    check.line = line(node);
    if (node["backend"]) check.backend = text(node["backend"], "backend");
    if (node["bytes"]) check.bytes = size(node["bytes"], "bytes");
    if (node["iterations"]) check.iterations = integer(node["iterations"], "iterations");
    if (node["min_bandwidth_gbs"])
      check.min_bandwidth_gbs = number(node["min_bandwidth_gbs"], "min_bandwidth_gbs");
    if (node["max_latency_us"]) check.max_latency_us = number(node["max_latency_us"], "max_latency_us");
    if (!check.min_bandwidth_gbs && !check.max_latency_us) {
      fail(node, "p2p has no threshold: give min_bandwidth_gbs or max_latency_us");
    }
    return check;
  }

  GemmCheck gemm(const YAML::Node& node) const {
    expect_map(node, "gemm", {"size", "iterations", "min_tflops"});
    GemmCheck check;
    check.line = line(node);
    if (node["size"]) check.size = static_cast<size_t>(integer(node["size"], "size"));
    if (node["iterations"]) check.iterations = integer(node["iterations"], "iterations");
    if (!node["min_tflops"])
      fail(node, "gemm has no threshold: give min_tflops (per dtype: fp32, tf32, fp16, bf16)");
    expect_map(node["min_tflops"], "gemm.min_tflops", {"fp32", "tf32", "fp16", "bf16"});
    for (const auto& item : node["min_tflops"]) {
      std::string dtype = item.first.as<std::string>();
      check.min_tflops[dtype] = number(item.second, "min_tflops." + dtype);
    }
    if (check.min_tflops.empty())
      fail(node["min_tflops"], "gemm.min_tflops is empty: give at least one dtype");
    return check;
  }

  CollCheck coll(const YAML::Node& node, size_t index) const {
    std::string where = fmt::format("coll[{}]", index);
    expect_map(node, where, {"op", "backend", "dtype", "bytes", "iterations", "min_busbw_gbs"});
    CollCheck check;
    check.line = line(node);
    if (!node["op"]) fail(node, fmt::format("{} is missing required key 'op'", where));
    check.op = text(node["op"], "op");
    try {
      parse_coll_op(check.op);
    } catch (const Error& e) {
      fail(node["op"], fmt::format("key 'op' in {}: {}", where, e.message()));
    }
    if (node["backend"]) check.backend = text(node["backend"], "backend");
    if (node["dtype"]) check.dtype = text(node["dtype"], "dtype");
    if (!node["bytes"]) fail(node, fmt::format("{} is missing required key 'bytes'", where));
    check.bytes = size(node["bytes"], "bytes");
    if (node["iterations"]) check.iterations = integer(node["iterations"], "iterations");
    if (!node["min_busbw_gbs"]) fail(node, fmt::format("{} has no threshold: give min_busbw_gbs", where));
    check.min_busbw_gbs = number(node["min_busbw_gbs"], "min_busbw_gbs");
    return check;
  }

 private:
  std::string source_;
};

}  // namespace

AcceptSpec parse_accept_spec(const std::string& text, const std::string& source) {
  SpecReader reader(source);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    raise(ErrorCode::InvalidArgument, "{}:{}: not valid YAML or JSON: {}", source, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap()) {
    raise(ErrorCode::InvalidArgument,
          "{}: the spec must be a mapping with keys such as membw, p2p, gemm, coll", source);
  }
  reader.expect_map(
      root, "the spec",
      {"version", "name", "description", "nodes", "ranks", "gpus_per_node", "membw", "p2p", "gemm", "coll"});
  AcceptSpec spec;
  spec.source = source;
  if (root["version"]) {
    int version = reader.integer(root["version"], "version");
    if (version != kAcceptSpecVersion) {
      reader.fail(root["version"], fmt::format("version {} is not supported (this Myriad reads version {})",
                                               version, kAcceptSpecVersion));
    }
  }
  if (root["name"]) spec.name = reader.text(root["name"], "name");
  if (root["description"]) reader.text(root["description"], "description");
  if (root["nodes"]) spec.nodes = reader.integer(root["nodes"], "nodes");
  if (root["ranks"]) spec.ranks = reader.integer(root["ranks"], "ranks");
  if (root["gpus_per_node"]) spec.gpus_per_node = reader.integer(root["gpus_per_node"], "gpus_per_node");
  if (root["membw"]) spec.membw = reader.membw(root["membw"]);
  if (root["p2p"]) spec.p2p = reader.p2p(root["p2p"]);
  if (root["gemm"]) spec.gemm = reader.gemm(root["gemm"]);
  if (root["coll"]) {
    if (!root["coll"].IsSequence())
      reader.fail(root["coll"], "key 'coll' must be a list of collective checks");
    for (size_t i = 0; i < root["coll"].size(); ++i) spec.coll.push_back(reader.coll(root["coll"][i], i));
  }
  if (!spec.nodes && !spec.ranks && !spec.gpus_per_node && !spec.membw && !spec.p2p && !spec.gemm &&
      spec.coll.empty()) {
    raise(ErrorCode::InvalidArgument,
          "{}: the spec has no check (give nodes, ranks, gpus_per_node, membw, p2p, gemm or coll)", source);
  }
  return spec;
}

AcceptSpec load_accept_spec(const std::string& path) {
  std::ifstream in(path);
  if (!in) raise(ErrorCode::Io, "--spec {}: cannot be read", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_accept_spec(text.str(), path);
}

}  // namespace myriad::bench
