// The acceptance spec of `myriad bench accept --spec FILE`: which checks to
// run and their thresholds, in YAML or JSON (JSON is read as YAML's flow
// style, so one parser gives both the same line numbers). Format, every
// key and an example: docs/bench.md; shipped examples: benchmarks/specs/.
//
// parse_accept_spec() rejects, with Error(InvalidArgument) naming the
// file, the line and the key: text that is not YAML/JSON, an unknown key,
// a value of the wrong type, a check without any threshold, a missing
// required key, and a spec with no check at all. Pure; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace myriad::bench {

inline constexpr int kAcceptSpecVersion = 1;

struct MembwCheck {
  size_t bytes = 64u << 20;
  int iterations = 10;
  std::optional<double> copy_gbs_per_node;   // minimum, sum over a node's ranks
  std::optional<double> triad_gbs_per_node;  // minimum
  std::optional<double> device_copy_gbs;     // minimum, per GPU
  int line = 0;
};

struct P2pCheck {
  std::string backend = "native";
  size_t bytes = 4u << 20;
  int iterations = 10;
  std::optional<double> min_bandwidth_gbs;  // every pair at least
  std::optional<double> max_latency_us;     // every pair at most
  int line = 0;
};

struct GemmCheck {
  size_t size = 8192;
  int iterations = 20;
  std::map<std::string, double> min_tflops;  // per dtype (fp32, tf32, fp16, bf16), per GPU
  int line = 0;
};

struct CollCheck {
  std::string op;
  std::string backend = "native";
  std::string dtype = "float";
  size_t bytes = 0;  // the size the threshold applies to (the sweep ends there)
  int iterations = 10;
  double min_busbw_gbs = 0;
  int line = 0;
};

struct AcceptSpec {
  std::string source;  // the file name, for messages
  std::string name;
  std::optional<int> nodes;          // expected node count
  std::optional<int> ranks;          // expected rank count
  std::optional<int> gpus_per_node;  // expected GPUs on every node
  std::optional<MembwCheck> membw;
  std::optional<P2pCheck> p2p;
  std::optional<GemmCheck> gemm;
  std::vector<CollCheck> coll;
};

AcceptSpec parse_accept_spec(const std::string& text, const std::string& source);
// Reads and parses a file; a file that cannot be read is Error(Io) naming it.
AcceptSpec load_accept_spec(const std::string& path);

}  // namespace myriad::bench
