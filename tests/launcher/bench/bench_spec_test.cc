// The acceptance spec parser: a good YAML spec and the same spec in JSON,
// then every error path, each naming the file, the line and the key.
#include <gtest/gtest.h>

#include "launcher/bench/accept_spec.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {

const char* kGoodYaml = R"(version: 1
name: two-node
nodes: 2
ranks: 16
gpus_per_node: 8
membw:
  bytes: 256M
  copy_gbs_per_node: 100
  device_copy_gbs: 1500
p2p:
  bytes: 8M
  min_bandwidth_gbs: 20
  max_latency_us: 50
gemm:
  size: 4096
  min_tflops:
    bf16: 600
    fp32: 40
coll:
  - op: allreduce
    backend: nccl
    bytes: 1G
    min_busbw_gbs: 400
  - op: all_gather
    bytes: 65536
    dtype: bfloat16
    iterations: 3
    min_busbw_gbs: 1.5
)";

TEST(BenchSpec, ReadsEveryKeyOfAGoodSpec) {
  AcceptSpec spec = parse_accept_spec(kGoodYaml, "good.yaml");
  EXPECT_EQ(spec.name, "two-node");
  EXPECT_EQ(spec.nodes, 2);
  EXPECT_EQ(spec.ranks, 16);
  EXPECT_EQ(spec.gpus_per_node, 8);
  ASSERT_TRUE(spec.membw);
  EXPECT_EQ(spec.membw->bytes, 256u << 20);
  EXPECT_EQ(spec.membw->copy_gbs_per_node, 100.0);
  EXPECT_FALSE(spec.membw->triad_gbs_per_node);
  EXPECT_EQ(spec.membw->device_copy_gbs, 1500.0);
  ASSERT_TRUE(spec.p2p);
  EXPECT_EQ(spec.p2p->bytes, 8u << 20);
  EXPECT_EQ(spec.p2p->min_bandwidth_gbs, 20.0);
  EXPECT_EQ(spec.p2p->max_latency_us, 50.0);
  ASSERT_TRUE(spec.gemm);
  EXPECT_EQ(spec.gemm->size, 4096u);
  EXPECT_EQ(spec.gemm->min_tflops.at("bf16"), 600.0);
  EXPECT_EQ(spec.gemm->min_tflops.at("fp32"), 40.0);
  ASSERT_EQ(spec.coll.size(), 2u);
  EXPECT_EQ(spec.coll[0].op, "allreduce");
  EXPECT_EQ(spec.coll[0].backend, "nccl");
  EXPECT_EQ(spec.coll[0].bytes, 1u << 30);
  EXPECT_EQ(spec.coll[0].min_busbw_gbs, 400.0);
  EXPECT_EQ(spec.coll[0].line, 20);
  EXPECT_EQ(spec.coll[1].backend, "native");
  EXPECT_EQ(spec.coll[1].dtype, "bfloat16");
  EXPECT_EQ(spec.coll[1].iterations, 3);
  EXPECT_EQ(spec.coll[1].bytes, 65536u);
}

TEST(BenchSpec, ReadsTheSameSpecInJson) {
  const char* json = R"({
  "name": "json-spec",
  "ranks": 2,
  "membw": {"copy_gbs_per_node": 1.5, "bytes": "32M"},
  "coll": [{"op": "allreduce", "bytes": 4194304, "min_busbw_gbs": 0.05}]
})";
  AcceptSpec spec = parse_accept_spec(json, "spec.json");
  EXPECT_EQ(spec.name, "json-spec");
  EXPECT_EQ(spec.ranks, 2);
  EXPECT_EQ(spec.membw->bytes, 32u << 20);
  ASSERT_EQ(spec.coll.size(), 1u);
  EXPECT_EQ(spec.coll[0].bytes, 4194304u);
  EXPECT_EQ(spec.coll[0].line, 5);
}

// Parsing `text` fails with a message containing every one of `parts`.
void expect_rejected(const std::string& text, const std::vector<std::string>& parts) {
  try {
    parse_accept_spec(text, "bad.yaml");
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    for (const std::string& part : parts) {
      EXPECT_NE(e.message().find(part), std::string::npos) << "'" << part << "' not in: " << e.message();
    }
  }
}

TEST(BenchSpec, UnknownKeysAreNamedWithTheirLine) {
  expect_rejected("ranks: 2\nrnaks: 3\n", {"bad.yaml:2:", "unknown key 'rnaks'", "the spec"});
  expect_rejected("membw:\n  copy_gbs_per_node: 1\n  cpoy: 2\n", {"bad.yaml:3:", "'cpoy'", "membw"});
  expect_rejected("p2p:\n  min_bandwidth_gbs: 1\n  size: 2\n", {"bad.yaml:3:", "'size'", "p2p"});
  expect_rejected("gemm:\n  min_tflops: {bf16: 1}\n  dtype: bf16\n", {"bad.yaml:3:", "'dtype'", "gemm"});
  expect_rejected("gemm:\n  min_tflops:\n    int4: 1\n", {"bad.yaml:3:", "'int4'", "gemm.min_tflops"});
  expect_rejected("coll:\n  - op: allreduce\n    bytes: 1M\n    min_busbw_gbs: 1\n    busbw: 2\n",
                  {"bad.yaml:5:", "'busbw'", "coll[0]"});
}

TEST(BenchSpec, WrongTypesAreNamedWithTheirLine) {
  expect_rejected("ranks: two\n", {"bad.yaml:1:", "'ranks'", "integer", "two"});
  expect_rejected("ranks: 2.5\n", {"bad.yaml:1:", "'ranks'", "integer"});
  expect_rejected("name: [a, b]\n", {"bad.yaml:1:", "'name'", "string"});
  expect_rejected("membw:\n  copy_gbs_per_node: fast\n",
                  {"bad.yaml:2:", "'copy_gbs_per_node'", "number", "fast"});
  expect_rejected("membw:\n  bytes: lots\n  copy_gbs_per_node: 1\n",
                  {"bad.yaml:2:", "'bytes'", "size", "lots"});
  expect_rejected("membw: 5\n", {"bad.yaml:1:", "'membw'", "mapping"});
  expect_rejected("coll:\n  op: allreduce\n", {"bad.yaml:2:", "'coll'", "list"});
  expect_rejected("p2p:\n  max_latency_us: {a: 1}\n", {"bad.yaml:2:", "'max_latency_us'", "number"});
  expect_rejected("coll:\n  - op: allsum\n    bytes: 1M\n    min_busbw_gbs: 1\n",
                  {"bad.yaml:2:", "'op'", "allsum"});
}

TEST(BenchSpec, MissingThresholdsAndRequiredKeysAreNamed) {
  expect_rejected("membw:\n  bytes: 1M\n", {"bad.yaml:2:", "membw has no threshold", "copy_gbs_per_node"});
  expect_rejected("p2p:\n  bytes: 1M\n", {"bad.yaml:2:", "p2p has no threshold", "min_bandwidth_gbs"});
  expect_rejected("gemm:\n  size: 1024\n", {"bad.yaml:2:", "gemm has no threshold", "min_tflops"});
  expect_rejected("gemm:\n  min_tflops: {}\n", {"bad.yaml:2:", "min_tflops is empty"});
  expect_rejected("coll:\n  - op: allreduce\n    bytes: 1M\n",
                  {"bad.yaml:2:", "coll[0] has no threshold", "min_busbw_gbs"});
  expect_rejected("coll:\n  - bytes: 1M\n    min_busbw_gbs: 1\n",
                  {"bad.yaml:2:", "missing required key 'op'"});
  expect_rejected("coll:\n  - op: allreduce\n    min_busbw_gbs: 1\n",
                  {"bad.yaml:2:", "missing required key 'bytes'"});
}

TEST(BenchSpec, SyntaxVersionAndEmptySpecs) {
  expect_rejected("ranks: 2\nmembw: {copy_gbs_per_node: 1\n", {"bad.yaml:", "not valid YAML or JSON"});
  expect_rejected("version: 7\nranks: 2\n", {"bad.yaml:1:", "version 7"});
  expect_rejected("name: nothing\n", {"bad.yaml", "no check"});
  expect_rejected("- a\n- b\n", {"bad.yaml", "must be a mapping"});
  EXPECT_THROW(load_accept_spec("/nonexistent/spec.yaml"), Error);
}

}  // namespace
}  // namespace myriad::bench
