// torchrun's flags as Myriad reads them: -r/-t stream specs, --rdzv-conf,
// --local-ranks-filter, --nproc-per-node's words, the prefix template and
// the values Myriad refuses.
#include "launcher/torchrun_flags.h"

#include <gtest/gtest.h>

#include "launcher/agent.h"
#include "launcher/agent_launch.h"
#include "launcher/elastic_flags.h"

#include "runtime/error.h"

namespace myriad::launcher {
namespace {

void expect_invalid(const std::function<void()>& call, const std::string& named) {
  try {
    call();
    ADD_FAILURE() << "accepted; expected an error naming " << named;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(e.message().find(named), std::string::npos) << e.message();
  }
}

TEST(StreamSpec, OneValueForEveryRankOrOnePerLocalRank) {
  StreamSpec all = parse_stream_spec("3", "--redirects");
  EXPECT_EQ(all.for_rank(0), 3);
  EXPECT_EQ(all.for_rank(7), 3);
  StreamSpec each = parse_stream_spec("0:1,1:2", "--tee");
  EXPECT_EQ(each.for_rank(0), 1);
  EXPECT_EQ(each.for_rank(1), 2);
  EXPECT_EQ(each.for_rank(2), 0);
  EXPECT_EQ(parse_stream_spec("", "-r").for_rank(0), 0);
  expect_invalid([] { parse_stream_spec("4", "--redirects"); }, "--redirects");
  expect_invalid([] { parse_stream_spec("0:1,x", "--tee"); }, "--tee");
  expect_invalid([] { parse_stream_spec("a:1", "--tee"); }, "--tee");
}

TEST(RdzvConf, JoinAndLastCallTimeoutsInSecondsOtherKeysAccepted) {
  RdzvConf conf = parse_rdzv_conf("join_timeout=30,read_timeout=60,last_call_timeout=2");
  EXPECT_EQ(conf.join_timeout, std::chrono::milliseconds(30000));
  EXPECT_EQ(conf.last_call, std::chrono::milliseconds(2000));
  EXPECT_FALSE(parse_rdzv_conf("").join_timeout);
  expect_invalid([] { parse_rdzv_conf("join_timeout"); }, "--rdzv-conf");
  expect_invalid([] { parse_rdzv_conf("join_timeout=soon"); }, "join_timeout");
}

TEST(LocalRanksFilter, ListsLocalRanks) {
  EXPECT_FALSE(parse_local_ranks_filter(""));
  EXPECT_EQ(*parse_local_ranks_filter("0,2"), (std::set<int>{0, 2}));
  expect_invalid([] { parse_local_ranks_filter("0,-1"); }, "--local-ranks-filter");
}

TEST(NprocPerNode, NumbersAndTorchrunsWords) {
  EXPECT_EQ(parse_nproc_per_node("4"), 4);
  EXPECT_GE(parse_nproc_per_node("cpu"), 1);
  EXPECT_GE(parse_nproc_per_node("auto"), 1);
  expect_invalid([] { parse_nproc_per_node("four"); }, "--nproc-per-node");
  expect_invalid([] { parse_nproc_per_node("0"); }, "--nproc-per-node");
  expect_invalid([] { parse_nproc_per_node("-2"); }, "--nproc-per-node");
}

TEST(TorchrunFlags, EtcdBackendTakesTorchrunsEndpointListOrAnEtcdAddress) {
  ElasticFlags flags;
  EXPECT_EQ(rdzv_store_address(flags), "");  // the embedded store
  flags.rdzv_endpoint = "head:29400";
  EXPECT_EQ(rdzv_store_address(flags), "head:29400");
  flags.torchrun.rdzv_backend = "etcd";
  flags.rdzv_endpoint = "e1:2379,e2:2379";
  EXPECT_EQ(rdzv_store_address(flags), "etcd://e1:2379,e2:2379");
  flags.torchrun.rdzv_backend = "etcd-v2";
  flags.rdzv_endpoint = "etcd://e1:2379/jobs";
  EXPECT_EQ(rdzv_store_address(flags), "etcd://e1:2379/jobs");
  // An etcd:// endpoint means etcd whatever the backend says.
  flags.torchrun.rdzv_backend = "c10d";
  EXPECT_EQ(rdzv_store_address(flags), "etcd://e1:2379/jobs");
  flags.torchrun.rdzv_backend = "etcd";
  flags.rdzv_endpoint = "";
  expect_invalid([&] { rdzv_store_address(flags); }, "--rdzv-backend etcd needs the etcd cluster");
  flags.rdzv_endpoint = "e1:2379,";
  expect_invalid([&] { rdzv_store_address(flags); }, "--rdzv-endpoint");
  flags.torchrun.rdzv_backend = "static";
  flags.rdzv_endpoint = "no-port";
  expect_invalid([&] { rdzv_store_address(flags); }, "--rdzv-endpoint");
}

TEST(TorchrunFlags, StandaloneIsTheC10dRendezvousOnAStoreOfItsOwn) {
  ElasticFlags flags;
  flags.torchrun.node_rank = 1;
  EXPECT_EQ(apply_standalone(flags).torchrun.rdzv_backend, "static");  // without it: as given
  flags.standalone = true;
  flags.torchrun.rdzv_backend = "etcd";
  flags.rdzv_endpoint = "e1:2379";
  flags.rdzv_id = "job7";
  ElasticFlags applied = apply_standalone(flags);
  EXPECT_EQ(applied.torchrun.rdzv_backend, "c10d");
  EXPECT_EQ(applied.rdzv_endpoint, "");
  EXPECT_EQ(applied.rdzv_id, "");
  EXPECT_EQ(rdzv_store_address(applied), "");  // the embedded store, on a free port
  // Under c10d the node rank does not place the node (apply_torchrun_flags ignores it, as torchrun).
  AgentOptions agent;
  apply_torchrun_flags(applied.torchrun, agent);
  EXPECT_EQ(agent.elastic.node_rank, -1);
  TorchrunFlags static_backend;
  static_backend.node_rank = 1;
  apply_torchrun_flags(static_backend, agent);
  EXPECT_EQ(agent.elastic.node_rank, 1);
}

TEST(TorchrunFlags, RefusesWhatMyriadDoesNotHave) {
  TorchrunFlags flags;
  EXPECT_NO_THROW(check_torchrun_flags(flags));
  flags.rdzv_backend = "static";
  EXPECT_NO_THROW(check_torchrun_flags(flags));
  flags.rdzv_backend = "etcd";
  EXPECT_NO_THROW(check_torchrun_flags(flags));
  flags.rdzv_backend = "etcd-v2";
  EXPECT_NO_THROW(check_torchrun_flags(flags));
  flags.rdzv_backend = "zookeeper";
  expect_invalid([&] { check_torchrun_flags(flags); }, "--rdzv-backend 'zookeeper'");
  flags = TorchrunFlags{};
  flags.logs_specs = "my_plugin";
  expect_invalid([&] { check_torchrun_flags(flags); }, "--logs-specs");
  flags = TorchrunFlags{};
  flags.start_method = "thread";
  expect_invalid([&] { check_torchrun_flags(flags); }, "--start-method");
  flags = TorchrunFlags{};
  flags.module = flags.no_python = true;
  expect_invalid([&] { check_torchrun_flags(flags); }, "--no-python");
  flags = TorchrunFlags{};
  flags.redirects = "9";
  expect_invalid([&] { check_torchrun_flags(flags); }, "--redirects");
}

TEST(PrefixTemplate, FillsTorchrunsMacros) {
  EXPECT_EQ(
      expand_prefix_template("${hostname}:${rank}: [${role_name}${local_rank}] ", "trainer", 1, 5, "n1"),
      "n1:5: [trainer1] ");
  EXPECT_EQ(expand_prefix_template("${rank}${rank}", "r", 0, 12, "h"), "1212");
}

}  // namespace
}  // namespace myriad::launcher
