// Selection: MYRIAD_ALGO parsing and its errors, the tuning file and every
// error path, precedence, and the cost ordering (latency-optimal algorithms
// for small messages, bandwidth-optimal ones for large).
#include "collectives/native/selector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>

#include "collectives/native/tuning_file.h"
#include "runtime/error.h"
#include "sim_test_util.h"

namespace myriad {
namespace {

using testing::make_args;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

CollectiveArgs args_on(const Topology& topology, OpKind kind, uint64_t count) {
  CollectiveArgs args = make_args(kind, topology.size(), count);
  args.topology = &topology;
  return args;
}

TEST(AlgoOverridesTest, ParsesPairs) {
  const auto overrides = parse_algorithm_overrides(" allreduce:ring , broadcast: tree,,");
  ASSERT_EQ(overrides.size(), 2u);
  EXPECT_EQ(overrides.at(OpKind::Allreduce), "ring");
  EXPECT_EQ(overrides.at(OpKind::Broadcast), "tree");
  EXPECT_TRUE(parse_algorithm_overrides("").empty());
}

TEST(AlgoOverridesTest, RejectsUnknownNamesListingAccepted) {
  std::string message = error_of([] { parse_algorithm_overrides("allreduce:ringg"); });
  EXPECT_NE(message.find("MYRIAD_ALGO: no algorithm 'ringg' for allreduce"), std::string::npos) << message;
  EXPECT_NE(message.find("accepted: ring, recursive_doubling, rabenseifner, hierarchical"), std::string::npos)
      << message;
  message = error_of([] { parse_algorithm_overrides("allreduse:ring"); });
  EXPECT_NE(message.find("unknown op 'allreduse'"), std::string::npos) << message;
  EXPECT_NE(message.find("allreduce, reduce, broadcast"), std::string::npos) << message;
  message = error_of([] { parse_algorithm_overrides("send:ring"); });
  EXPECT_NE(message.find("unknown op 'send'"), std::string::npos) << message;
  message = error_of([] { parse_algorithm_overrides("allreduce"); });
  EXPECT_NE(message.find("is not op:algorithm"), std::string::npos) << message;
  message = error_of([] { parse_algorithm_overrides("allreduce:ring,allreduce:rabenseifner"); });
  EXPECT_NE(message.find("allreduce is named twice"), std::string::npos) << message;
}

TEST(SelectorTest, EnvOverrideWinsAndSaysSo) {
  const Selector selector = Selector::from_env(Env::from_map({{"MYRIAD_ALGO", "allreduce:rabenseifner"}}));
  const Topology topology = Topology::uniform(1, 8);
  const AlgorithmChoice choice = selector.select(args_on(topology, OpKind::Allreduce, 1 << 24));
  EXPECT_EQ(choice.algorithm->name(), "rabenseifner");
  EXPECT_EQ(choice.reason, "MYRIAD_ALGO=allreduce:rabenseifner");
}

TEST(SelectorTest, BadEnvOverrideIsAnError) {
  const std::string message = error_of([] {
    Selector::from_env(Env::from_map({{"MYRIAD_ALGO", "broadcast:ring"}}));
  });
  EXPECT_NE(message.find("no algorithm 'ring' for broadcast (accepted: tree)"), std::string::npos) << message;
}

TEST(SelectorTest, SmallMessagesPickLatencyOptimal) {
  const Selector selector;
  const Topology topology = Topology::uniform(1, 16);
  const AlgorithmChoice choice = selector.select(args_on(topology, OpKind::Allreduce, 8));
  EXPECT_EQ(choice.algorithm->name(), "recursive_doubling") << choice.reason;
  EXPECT_NE(choice.reason.find("recursive_doubling: cost"), std::string::npos) << choice.reason;
  EXPECT_EQ(selector.select(args_on(topology, OpKind::Allgather, 1)).algorithm->name(), "recursive_doubling");
}

TEST(SelectorTest, LargeMessagesPickBandwidthOptimal) {
  const Selector selector;
  const Topology topology = Topology::uniform(1, 16);
  const AlgorithmChoice choice = selector.select(args_on(topology, OpKind::Allreduce, 64 << 20));
  EXPECT_TRUE(choice.algorithm->name() == "ring" || choice.algorithm->name() == "rabenseifner")
      << choice.reason;
  EXPECT_NE(choice.algorithm->name(), "recursive_doubling");
  // With a power of two, recursive doubling allgather is bandwidth-optimal
  // too; with 12 ranks its fold sends the whole result once more.
  const Topology twelve = Topology::uniform(1, 12);
  EXPECT_EQ(selector.select(args_on(twelve, OpKind::Allgather, 1 << 20)).algorithm->name(), "ring");
  EXPECT_EQ(selector.select(args_on(twelve, OpKind::Allgather, 1)).algorithm->name(), "recursive_doubling");
}

TEST(SelectorTest, ManyNodesPickHierarchical) {
  const Selector selector;
  const Topology topology = Topology::uniform(8, 8);
  const AlgorithmChoice choice = selector.select(args_on(topology, OpKind::Allreduce, 16 << 20));
  EXPECT_EQ(choice.algorithm->name(), "hierarchical") << choice.reason;
}

TEST(SelectorTest, CostsOrderAsTheModelSays) {
  const Topology topology = Topology::uniform(1, 16);
  const CostModel model = CostModel::defaults();
  const Algorithm& ring = *find_algorithm(OpKind::Allreduce, "ring");
  const Algorithm& doubling = *find_algorithm(OpKind::Allreduce, "recursive_doubling");
  EXPECT_LT(doubling.cost(args_on(topology, OpKind::Allreduce, 1), model),
            ring.cost(args_on(topology, OpKind::Allreduce, 1), model));
  EXPECT_GT(doubling.cost(args_on(topology, OpKind::Allreduce, 1 << 24), model),
            ring.cost(args_on(topology, OpKind::Allreduce, 1 << 24), model));
  // Bigger is never cheaper.
  for (const Algorithm* algorithm : algorithms_for(OpKind::Allreduce)) {
    EXPECT_LE(algorithm->cost(args_on(topology, OpKind::Allreduce, 1000), model),
              algorithm->cost(args_on(topology, OpKind::Allreduce, 100000), model))
        << algorithm->name();
  }
}

TEST(SelectorTest, NothingSupportedIsNotSupported) {
  const Selector selector;
  const Topology topology = Topology::uniform(1, 4);
  CollectiveArgs args = args_on(topology, OpKind::Allgatherv, 3);
  args.counts.pop_back();
  try {
    selector.select(args);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::NotSupported);
  }
}

class TuningFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = ::testing::TempDir() + "tuning_" + std::to_string(::getpid()) + ".json";
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  std::string path_;
};

TEST_F(TuningFileTest, LinksAndRulesApply) {
  const std::string path = write(R"({
    "version": 1,
    "links": {"shm": {"alpha_us": 1.5, "gbps": 10}, "tcp": {"gbps": 1}},
    "reduce_gbps": 20,
    "rules": [{"op": "allreduce", "max_bytes": 65536, "algorithm": "ring"},
              {"op": "allreduce", "min_ranks": 100, "algorithm": "rabenseifner"}]
  })");
  const Tuning tuning = load_tuning_file(path);
  EXPECT_DOUBLE_EQ(tuning.model.link(LinkClass::Shm).alpha, 1.5e-6);
  EXPECT_DOUBLE_EQ(tuning.model.link(LinkClass::Shm).beta, 1e-10);
  EXPECT_DOUBLE_EQ(tuning.model.link(LinkClass::Tcp).beta, 1e-9);
  EXPECT_DOUBLE_EQ(tuning.model.link(LinkClass::Tcp).alpha, CostModel::defaults().link(LinkClass::Tcp).alpha);
  EXPECT_DOUBLE_EQ(tuning.model.gamma(), 1.0 / 20e9);
  ASSERT_EQ(tuning.rules.size(), 2u);
  EXPECT_EQ(tuning.rules[0].max_bytes, 65536u);

  const Selector selector = Selector::from_env(Env::from_map({{"MYRIAD_TUNING_FILE", path}}));
  const Topology topology = Topology::uniform(1, 8);
  // 8 bytes: the first rule, against what the cost model would choose.
  AlgorithmChoice choice = selector.select(args_on(topology, OpKind::Allreduce, 1));
  EXPECT_EQ(choice.algorithm->name(), "ring");
  EXPECT_NE(choice.reason.find("tuning rule 0 of '" + path + "'"), std::string::npos) << choice.reason;
  // Above max_bytes with 8 ranks: no rule, the cost model.
  choice = selector.select(args_on(topology, OpKind::Allreduce, 1 << 20));
  EXPECT_NE(choice.reason.find(": cost "), std::string::npos) << choice.reason;
  // MYRIAD_ALGO beats the rules.
  const Selector both = Selector::from_env(
      Env::from_map({{"MYRIAD_TUNING_FILE", path}, {"MYRIAD_ALGO", "allreduce:recursive_doubling"}}));
  EXPECT_EQ(both.select(args_on(topology, OpKind::Allreduce, 1)).algorithm->name(), "recursive_doubling");
}

TEST_F(TuningFileTest, EveryErrorNamesTheFileAndTheKey) {
  const struct {
    const char* text;
    const char* message;
  } cases[] = {
      {"{", "not valid JSON"},
      {"[]", "(top level): expected an object"},
      {R"({"links": {}})", "version: missing"},
      {R"({"version": 2})", "version: 2 is not supported"},
      {R"({"version": 1, "speed": 3})", "speed: unknown key (accepted: version, links, reduce_gbps, rules)"},
      {R"({"version": 1, "links": []})", "links: expected an object"},
      {R"({"version": 1, "links": {"smh": {}}})", "links.smh: unknown link class (accepted: self, shm, tcp"},
      {R"({"version": 1, "links": {"shm": 3}})", "links.shm: expected an object"},
      {R"({"version": 1, "links": {"shm": {"alpha": 3}}})",
       "links.shm.alpha: unknown key (accepted: alpha_us, gbps)"},
      {R"({"version": 1, "links": {"shm": {"alpha_us": "3"}}})", "links.shm.alpha_us: expected a number"},
      {R"({"version": 1, "links": {"shm": {"alpha_us": -1}}})",
       "links.shm.alpha_us: expected a non-negative number"},
      {R"({"version": 1, "links": {"tcp": {"gbps": 0}}})", "links.tcp.gbps: expected a positive number"},
      {R"({"version": 1, "reduce_gbps": -2})", "reduce_gbps: expected a positive number"},
      {R"({"version": 1, "rules": {}})", "rules: expected an array"},
      {R"({"version": 1, "rules": [3]})", "rules[0]: expected an object"},
      {R"({"version": 1, "rules": [{"algorithm": "ring"}]})", "rules[0].op: missing"},
      {R"({"version": 1, "rules": [{"op": "allreduce"}]})", "rules[0].algorithm: missing"},
      {R"({"version": 1, "rules": [{"op": "allreduse", "algorithm": "ring"}]})",
       "rules[0].op: unknown op 'allreduse'"},
      {R"({"version": 1, "rules": [{"op": 7, "algorithm": "ring"}]})", "rules[0].op: expected a string"},
      {R"({"version": 1, "rules": [{"op": "allreduce", "algorithm": "tree"}]})",
       "rules[0].algorithm: no algorithm 'tree' for allreduce (accepted: ring"},
      {R"({"version": 1, "rules": [{"op": "allreduce", "algorithm": "ring", "max_bytes": -1}]})",
       "rules[0].max_bytes: expected a non-negative integer"},
      {R"({"version": 1, "rules": [{"op": "allreduce", "algorithm": "ring", "min_ranks": 0}]})",
       "rules[0].min_ranks: out of range"},
      {R"({"version": 1, "rules": [{"op": "allreduce", "algorithm": "ring", "min_bytes": 9, "max_bytes": 8}]})",
       "rules[0]: min_bytes is larger than max_bytes"},
      {R"({"version": 1, "rules": [{"op": "allreduce", "algorithm": "ring", "min_ranks": 9, "max_ranks": 8}]})",
       "rules[0]: min_ranks is larger than max_ranks"},
      {R"({"version": 1, "rules": [{"op": "allreduce", "algorithm": "ring", "bytes": 8}]})",
       "rules[0].bytes: unknown key"},
  };
  for (const auto& c : cases) {
    const std::string path = write(c.text);
    const std::string message = error_of([&] { load_tuning_file(path); });
    EXPECT_NE(message.find("tuning file '" + path + "'"), std::string::npos) << c.text << " -> " << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << c.text << " -> " << message;
  }
}

TEST_F(TuningFileTest, MissingFileIsAnIoError) {
  try {
    Selector::from_env(Env::from_map({{"MYRIAD_TUNING_FILE", "/nonexistent/tuning.json"}}));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::Io);
    EXPECT_NE(error.message().find("/nonexistent/tuning.json"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace myriad
