// A rank's place from Open MPI's and Slurm's variables, for `myriad rank-exec`.
#include "launcher/rank_place.h"

#include <gtest/gtest.h>

#include <map>

#include "runtime/error.h"

namespace myriad::launcher {
namespace {

Env env_of(std::map<std::string, std::string> vars) {
  return Env::from_map(std::move(vars));
}

std::string value(const EnvVars& vars, std::string_view name) {
  std::string found = "<unset>";
  for (const auto& [n, v] : vars) {
    if (n == name) found = v;
  }
  return found;
}

TEST(SlurmCounts, ExpandsRepeats) {
  EXPECT_EQ(expand_slurm_counts("2(x3),1", "X"), (std::vector<int>{2, 2, 2, 1}));
  EXPECT_EQ(expand_slurm_counts("4", "X"), (std::vector<int>{4}));
  EXPECT_THROW(expand_slurm_counts("2(x3", "X"), Error);
  EXPECT_THROW(expand_slurm_counts("", "X"), Error);
}

TEST(BatchPlace, OpenMpiWithNodeSizes) {
  Env env = env_of({{"OMPI_COMM_WORLD_RANK", "3"},
                    {"OMPI_COMM_WORLD_SIZE", "5"},
                    {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                    {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"},
                    {"MYRIAD_RUN_ID", "abc"}});
  BatchPlace place = batch_place(env, "2,3");
  EXPECT_EQ(place.source, "openmpi");
  EXPECT_EQ(place.rank, 3);
  EXPECT_EQ(place.group_rank, 1);
  EXPECT_EQ(place.group_world_size, 2);
  EXPECT_EQ(place.local_world_size, 3);
  EXPECT_EQ(place.run_id, "abc");
  // Without sizes (or sizes that disagree with Open MPI's local size): equal nodes of consecutive ranks.
  BatchPlace uniform = batch_place(env, "");
  EXPECT_EQ(uniform.group_rank, 0);
  EXPECT_EQ(uniform.group_world_size, 2);
  EXPECT_EQ(batch_place(env, "4,1").group_rank, 0);
}

TEST(BatchPlace, SlurmReadsTheNodeAndItsTaskCount) {
  Env env = env_of({{"SLURM_PROCID", "5"},
                    {"SLURM_NTASKS", "7"},
                    {"SLURM_LOCALID", "0"},
                    {"SLURM_NODEID", "2"},
                    {"SLURM_NNODES", "3"},
                    {"SLURM_STEP_TASKS_PER_NODE", "3,2(x2)"},
                    {"SLURMD_NODENAME", "n3"}});
  BatchPlace place = batch_place(env, "");
  EXPECT_EQ(place.source, "slurm");
  EXPECT_EQ(place.rank, 5);
  EXPECT_EQ(place.world_size, 7);
  EXPECT_EQ(place.group_rank, 2);
  EXPECT_EQ(place.local_world_size, 2);
  EXPECT_EQ(place.node_id, "n3");
}

TEST(BatchPlace, NamesWhatIsMissingOrWrong) {
  try {
    batch_place(env_of({}), "");
    ADD_FAILURE() << "accepted an empty environment";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("OMPI_COMM_WORLD_RANK"), std::string::npos) << e.message();
  }
  try {
    batch_place(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}), "");
    ADD_FAILURE() << "accepted a Slurm rank without SLURM_LOCALID";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("SLURM_LOCALID"), std::string::npos) << e.message();
  }
  EXPECT_THROW(batch_place(env_of({{"OMPI_COMM_WORLD_RANK", "4"},
                                   {"OMPI_COMM_WORLD_SIZE", "4"},
                                   {"OMPI_COMM_WORLD_LOCAL_RANK", "0"},
                                   {"OMPI_COMM_WORLD_LOCAL_SIZE", "1"}}),
                           ""),
               Error);
}

TEST(BatchRankVariables, EveryTorchrunVariable) {
  BatchPlace place{.source = "slurm",
                   .rank = 5,
                   .world_size = 7,
                   .local_rank = 0,
                   .local_world_size = 2,
                   .group_rank = 2,
                   .group_world_size = 3,
                   .node_id = "n3",
                   .run_id = "job"};
  EnvVars vars = batch_rank_variables(place, {"10.1.1.1", 4242}, "trainer");
  EXPECT_EQ(value(vars, "RANK"), "5");
  EXPECT_EQ(value(vars, "WORLD_SIZE"), "7");
  EXPECT_EQ(value(vars, "LOCAL_RANK"), "0");
  EXPECT_EQ(value(vars, "LOCAL_WORLD_SIZE"), "2");
  EXPECT_EQ(value(vars, "GROUP_RANK"), "2");
  EXPECT_EQ(value(vars, "GROUP_WORLD_SIZE"), "3");
  EXPECT_EQ(value(vars, "ROLE_RANK"), "5");
  EXPECT_EQ(value(vars, "ROLE_NAME"), "trainer");
  EXPECT_EQ(value(vars, "MASTER_ADDR"), "10.1.1.1");
  EXPECT_EQ(value(vars, "MASTER_PORT"), "4242");
  EXPECT_EQ(value(vars, "TORCHELASTIC_RUN_ID"), "job");
  EXPECT_EQ(value(vars, "MYRIAD_RANK"), "5");
  EXPECT_EQ(value(vars, "MYRIAD_NODE_ID"), "n3");
}

}  // namespace
}  // namespace myriad::launcher
