#include "runtime/bootstrap.h"

#include <gtest/gtest.h>

#include "runtime/error.h"

namespace myriad {
namespace {

using Vars = std::map<std::string, std::string>;

BootstrapInfo detect(Vars vars) {
  return detect_bootstrap(Env::from_map(std::move(vars)));
}

void expect_invalid(Vars vars, std::initializer_list<std::string_view> fragments) {
  try {
    BootstrapInfo info = detect(std::move(vars));
    FAIL() << "accepted: rank " << info.rank << " of " << info.world_size;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::InvalidArgument) << error.what();
    for (std::string_view fragment : fragments) {
      EXPECT_NE(error.message().find(fragment), std::string::npos)
          << "'" << fragment << "' missing from: " << error.message();
    }
  }
}

TEST(Bootstrap, NothingSetIsAWorldOfOne) {
  BootstrapInfo info = detect({});
  EXPECT_EQ(info.source, "default");
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.world_size, 1);
  EXPECT_EQ(info.local_rank, 0);
  EXPECT_EQ(info.local_world_size, 1);
  EXPECT_EQ(info.node, host_name());
  EXPECT_FALSE(info.store);
}

TEST(Bootstrap, MyriadVariables) {
  BootstrapInfo info = detect({{"MYRIAD_RANK", "5"},
                               {"MYRIAD_WORLD_SIZE", "8"},
                               {"MYRIAD_LOCAL_RANK", "1"},
                               {"MYRIAD_LOCAL_WORLD_SIZE", "4"},
                               {"MYRIAD_NODE_ID", "node-b"},
                               {"MYRIAD_STORE", "10.1.2.3:29500"},
                               {"MYRIAD_TOKEN", "secret"},
                               {"MYRIAD_RUN_ID", "job7"},
                               {"MYRIAD_RESTART_COUNT", "2"}});
  EXPECT_EQ(info.source, "myriad");
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.world_size, 8);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_world_size, 4);
  EXPECT_EQ(info.node, "node-b");
  ASSERT_TRUE(info.store);
  EXPECT_EQ(info.store->host, "10.1.2.3");
  EXPECT_EQ(info.store->port, 29500);
  EXPECT_EQ(info.token, "secret");
  EXPECT_EQ(info.run_id, "job7");
  EXPECT_EQ(info.restart_count, 2);
}

TEST(Bootstrap, TorchrunVariables) {
  BootstrapInfo info = detect({{"RANK", "3"},
                               {"WORLD_SIZE", "4"},
                               {"LOCAL_RANK", "1"},
                               {"LOCAL_WORLD_SIZE", "2"},
                               {"MASTER_ADDR", "host0"},
                               {"MASTER_PORT", "1234"},
                               {"TORCHELASTIC_RUN_ID", "te"},
                               {"TORCHELASTIC_RESTART_COUNT", "1"}});
  EXPECT_EQ(info.source, "torchrun");
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.world_size, 4);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_world_size, 2);
  ASSERT_TRUE(info.store);
  EXPECT_EQ(info.store->to_string(), "host0:1234");
  EXPECT_EQ(info.run_id, "te");
  EXPECT_EQ(info.restart_count, 1);
}

TEST(Bootstrap, OpenMpiVariables) {
  BootstrapInfo info = detect({{"OMPI_COMM_WORLD_RANK", "6"},
                               {"OMPI_COMM_WORLD_SIZE", "7"},
                               {"OMPI_COMM_WORLD_LOCAL_RANK", "2"},
                               {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"}});
  EXPECT_EQ(info.source, "openmpi");
  EXPECT_EQ(info.rank, 6);
  EXPECT_EQ(info.world_size, 7);
  EXPECT_EQ(info.local_rank, 2);
  EXPECT_EQ(info.local_world_size, 3);
}

TEST(Bootstrap, SlurmVariables) {
  BootstrapInfo info = detect({{"SLURM_PROCID", "9"},
                               {"SLURM_NTASKS", "16"},
                               {"SLURM_LOCALID", "1"},
                               {"SLURM_NTASKS_PER_NODE", "8"}});
  EXPECT_EQ(info.source, "slurm");
  EXPECT_EQ(info.rank, 9);
  EXPECT_EQ(info.world_size, 16);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_world_size, 8);
}

TEST(Bootstrap, SlurmUnevenTasksPerNodeLeavesLocalSizeToTheWorld) {
  BootstrapInfo info = detect({{"SLURM_PROCID", "4"},
                               {"SLURM_NTASKS", "7"},
                               {"SLURM_LOCALID", "0"},
                               {"SLURM_NTASKS_PER_NODE", "4,3"}});
  EXPECT_EQ(info.rank, 4);
  EXPECT_EQ(info.world_size, 7);
  EXPECT_EQ(info.local_rank, 0);
  EXPECT_EQ(info.local_world_size, 7);
}

TEST(Bootstrap, SourcesAreTakenInOrder) {
  // Myriad's own wins over Open MPI's and Slurm's; torchrun's over Open MPI's.
  EXPECT_EQ(detect({{"MYRIAD_RANK", "1"},
                    {"MYRIAD_WORLD_SIZE", "2"},
                    {"OMPI_COMM_WORLD_RANK", "0"},
                    {"OMPI_COMM_WORLD_SIZE", "4"},
                    {"SLURM_PROCID", "3"},
                    {"SLURM_NTASKS", "4"}})
                .source,
            "myriad");
  EXPECT_EQ(
      detect(
          {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "4"}})
          .source,
      "torchrun");
  EXPECT_EQ(detect({{"OMPI_COMM_WORLD_RANK", "0"},
                    {"OMPI_COMM_WORLD_SIZE", "4"},
                    {"SLURM_PROCID", "3"},
                    {"SLURM_NTASKS", "4"}})
                .source,
            "openmpi");
}

TEST(Bootstrap, MyriadStoreWinsOverMasterAddr) {
  BootstrapInfo info = detect({{"MYRIAD_STORE", "a:1"}, {"MASTER_ADDR", "b"}, {"MASTER_PORT", "2"}});
  ASSERT_TRUE(info.store);
  EXPECT_EQ(info.store->to_string(), "a:1");
}

TEST(Bootstrap, Ipv6StoreAddress) {
  BootstrapInfo info = detect({{"MYRIAD_STORE", "[::1]:5000"}});
  ASSERT_TRUE(info.store);
  EXPECT_EQ(info.store->host, "::1");
  EXPECT_EQ(info.store->port, 5000);
}

TEST(Bootstrap, RankWithoutWorldSize) {
  expect_invalid({{"MYRIAD_RANK", "1"}}, {"MYRIAD_RANK=1", "MYRIAD_WORLD_SIZE"});
  expect_invalid({{"RANK", "0"}}, {"RANK=0", "WORLD_SIZE"});
  expect_invalid({{"OMPI_COMM_WORLD_RANK", "0"}}, {"OMPI_COMM_WORLD_SIZE"});
  expect_invalid({{"SLURM_PROCID", "0"}}, {"SLURM_NTASKS"});
}

TEST(Bootstrap, RankNotBelowWorldSize) {
  expect_invalid({{"RANK", "4"}, {"WORLD_SIZE", "4"}}, {"RANK=4", "WORLD_SIZE=4"});
}

TEST(Bootstrap, LocalRankNotBelowLocalWorldSize) {
  expect_invalid({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}},
                 {"LOCAL_RANK=2", "LOCAL_WORLD_SIZE=2"});
}

TEST(Bootstrap, LocalWorldLargerThanWorld) {
  expect_invalid({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "3"}},
                 {"LOCAL_WORLD_SIZE=3", "WORLD_SIZE=2"});
}

TEST(Bootstrap, ValuesThatDoNotParse) {
  expect_invalid({{"MYRIAD_RANK", "one"}, {"MYRIAD_WORLD_SIZE", "2"}}, {"MYRIAD_RANK", "'one'"});
  expect_invalid({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}, {"RANK=-1"});
  expect_invalid({{"RANK", "0"}, {"WORLD_SIZE", "0"}}, {"WORLD_SIZE=0"});
  expect_invalid({{"MYRIAD_STORE", "nohost"}}, {"MYRIAD_STORE", "host:port"});
  expect_invalid({{"MYRIAD_STORE", "h:99999"}}, {"MYRIAD_STORE", "99999"});
  expect_invalid({{"MYRIAD_RESTART_COUNT", "x"}}, {"MYRIAD_RESTART_COUNT"});
}

TEST(Bootstrap, HalfAStoreAddress) {
  expect_invalid({{"MASTER_ADDR", "h"}}, {"MASTER_ADDR", "MASTER_PORT"});
  expect_invalid({{"MASTER_PORT", "5"}}, {"MASTER_PORT", "MASTER_ADDR"});
}

TEST(Bootstrap, MyriadAndTorchrunVariablesMustAgree) {
  BootstrapInfo info =
      detect({{"MYRIAD_RANK", "1"}, {"MYRIAD_WORLD_SIZE", "2"}, {"RANK", "1"}, {"WORLD_SIZE", "2"}});
  EXPECT_EQ(info.rank, 1);
  expect_invalid({{"MYRIAD_RANK", "1"}, {"MYRIAD_WORLD_SIZE", "2"}, {"RANK", "0"}, {"WORLD_SIZE", "2"}},
                 {"RANK=0", "MYRIAD_RANK=1"});
}

}  // namespace
}  // namespace myriad
