// The environment and command lines the launcher builds: user variables,
// environ composition, rank variables, shell quoting, mpirun's argv and the
// translation of mpirun's single-dash flags.
#include "launcher/job_env.h"

#include <gtest/gtest.h>

#include "launcher/cli.h"
#include "launcher/command_line.h"
#include "launcher/commands.h"
#include "launcher/mpi_engine.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

TEST(UserEnv, AcceptsAssignmentsAndInheritsBareNamesForDashX) {
  Env env = Env::from_map({{"FOO", "from-launcher"}});
  EXPECT_EQ(parse_user_env("BAR=1=2", "--env", false, env),
            (std::pair<std::string, std::string>{"BAR", "1=2"}));
  EXPECT_EQ(parse_user_env("EMPTY=", "-x", true, env), (std::pair<std::string, std::string>{"EMPTY", ""}));
  EXPECT_EQ(parse_user_env("FOO", "-x", true, env),
            (std::pair<std::string, std::string>{"FOO", "from-launcher"}));
}

TEST(UserEnv, RejectsBadNamesUnsetInheritsAndReservedNames) {
  Env env = Env::from_map({});
  for (auto [spec, inherit] : std::vector<std::pair<std::string, bool>>{{"1BAD=x", true},
                                                                        {"A-B=x", true},
                                                                        {"=x", true},
                                                                        {"UNSET_VAR", true},
                                                                        {"FOO", false},
                                                                        {"RANK=3", true},
                                                                        {"MYRIAD_TOKEN=x", true},
                                                                        {"MASTER_PORT=1", false}}) {
    try {
      parse_user_env(spec, "-x", inherit, env);
      ADD_FAILURE() << "accepted " << spec;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      EXPECT_NE(e.message().find("-x"), std::string::npos) << e.message();
    }
  }
}

TEST(ComposeEnviron, OverridesInPlaceAppendsNewAndRemoves) {
  std::vector<std::string> base = {"PATH=/bin", "RANK=9", "HOME=/root"};
  std::vector<char*> pointers;
  for (std::string& s : base) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  std::string_view removed[] = {"HOME"};
  std::vector<std::string> out = compose_environ(pointers.data(), {{"RANK", "1"}, {"NEW", "x"}}, removed);
  EXPECT_EQ(out, (std::vector<std::string>{"PATH=/bin", "RANK=1", "NEW=x"}));
}

TEST(JobVariables, NameTheStoreTokenRunIdAndPlaceButNotTheMastersPort) {
  JobEnv job{
      .store = {"10.0.0.1", 29500}, .token = "t", .run_id = "r", .restart_count = 0, .user = {{"U", "1"}}};
  EnvVars vars = job_variables(job);
  auto value = [&vars](std::string_view name) {
    for (const auto& [n, v] : vars) {
      if (n == name) return v;
    }
    return std::string("<unset>");
  };
  EXPECT_EQ(value("MYRIAD_STORE"), "10.0.0.1:29500");
  // MASTER_PORT is rank 0's own store's, never Myriad's: a script that starts torch's TCPStore there would
  // find it taken.
  EXPECT_EQ(value("MASTER_ADDR"), "<unset>");
  EXPECT_EQ(value("MASTER_PORT"), "<unset>");
  EXPECT_EQ(value("TORCHELASTIC_USE_AGENT_STORE"), "False");
  EXPECT_EQ(master_variables({"h", 7}), (EnvVars{{"MASTER_ADDR", "h"}, {"MASTER_PORT", "7"}}));
  EXPECT_EQ(master_host("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(master_host("localhost"), "127.0.0.1");
  EXPECT_EQ(value("MYRIAD_RESTART_COUNT"), "0");
  EXPECT_EQ(value("U"), "1");
  EnvVars place =
      rank_variables({.rank = 3, .world_size = 8, .local_rank = 1, .local_world_size = 2, .group_rank = 1});
  EXPECT_EQ(place.size(), rank_variable_names().size());
  EXPECT_EQ(place[0], (std::pair<std::string, std::string>{"MYRIAD_RANK", "3"}));
}

TEST(Tokens, AreRandomHex) {
  std::string a = make_token();
  std::string b = make_token();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(make_run_id().size(), 12u);
}

TEST(ShellQuote, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(shell_quote("plain-word_1.txt"), "plain-word_1.txt");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_join({"echo", "$HOME"}), "echo '$HOME'");
}

RunPlan mpi_plan() {
  RunPlan plan;
  plan.engine = "mpi";
  plan.world_size = 4;
  plan.program_path = "/usr/bin/mpirun";
  plan.argv = {"./train", "--lr", "0.1"};
  plan.map_by = "slot";
  plan.bind_to = "none";
  return plan;
}

TEST(MpirunArgv, LocalJobUsesLocalhostSlotsAndExportsByName) {
  EnvVars vars = {{"MYRIAD_STORE", "127.0.0.1:5"}, {"MYRIAD_TOKEN", "secret"}, {"USER_VAR", "1"}};
  std::vector<std::string> argv = mpirun_argv(mpi_plan(), vars, /*as_root=*/false, "/bin/myriad");
  std::string line = shell_join(argv);
  EXPECT_EQ(
      line,
      "/usr/bin/mpirun -np 4 --host localhost:4 --map-by slot --bind-to none --tag-output -x MYRIAD_STORE -x "
      "MYRIAD_TOKEN -x USER_VAR /bin/myriad rank-exec --role default --node-sizes 4 -- ./train --lr 0.1");
  EXPECT_EQ(line.find("secret"), std::string::npos) << "the token must not be on mpirun's command line";
}

TEST(MpirunArgv, HostsRootAndNoTagging) {
  RunPlan plan = mpi_plan();
  plan.hosts = {{"a", 2, std::nullopt}, {"b", 2, std::nullopt}};
  plan.tag_output = false;
  plan.map_by = "node";
  plan.role = "trainer";
  std::string line = shell_join(mpirun_argv(plan, {}, /*as_root=*/true, "/bin/myriad"));
  // --map-by node places ranks round-robin: the shim's node rule of rank_place.h, no --node-sizes.
  EXPECT_EQ(
      line,
      "/usr/bin/mpirun --allow-run-as-root -np 4 --host a:2,b:2 --map-by node --bind-to none /bin/myriad "
      "rank-exec --role trainer -- ./train --lr 0.1");
}

TEST(MpirunArgv, NodeSizesFollowTheSlotsInOrder) {
  RunPlan plan = mpi_plan();
  plan.world_size = 5;
  plan.hosts = {{"a", 2, std::nullopt}, {"b", 4, std::nullopt}, {"c", 1, std::nullopt}};
  EXPECT_EQ(node_sizes(plan), "2,3");
  plan.world_size = 8;  // more than the slots: mpirun's own placement
  EXPECT_EQ(node_sizes(plan), "");
  plan.hosts.clear();
  EXPECT_EQ(node_sizes(plan), "8");
}

std::vector<std::string> translate(std::vector<std::string> args) {
  CLI::App app;
  add_run_command(app);
  add_store_command(app);
  return normalize_run_args(app, std::move(args));
}

TEST(RunArgs, MpirunFlagsAreTranslatedBeforeTheProgramOnly) {
  EXPECT_EQ(translate({"run", "-np", "4", "-x", "-np", "-host", "a:1", "prog", "-np", "2"}),
            (std::vector<std::string>{"run", "--np", "4", "-x", "-np", "--host", "a:1", "prog", "-np", "2"}));
  EXPECT_EQ(translate({"run", "--dry-run", "-hostfile", "f", "prog"}),
            (std::vector<std::string>{"run", "--dry-run", "--hostfile", "f", "prog"}));
  EXPECT_EQ(translate({"store", "-np"}), (std::vector<std::string>{"store", "-np"}));
}

TEST(RunArgs, TorchrunsUnderscoreSpellingsBecomeDashesBeforeTheProgramOnly) {
  EXPECT_EQ(translate({"run", "--nproc_per_node", "2", "--max_restarts=3", "--rdzv_conf", "a=1",
                       "--no_python", "prog", "--my_flag"}),
            (std::vector<std::string>{"run", "--nproc-per-node", "2", "--max-restarts=3", "--rdzv-conf",
                                      "a=1", "--no-python", "prog", "--my_flag"}));
  // Not an option of run: left for the parser to name.
  EXPECT_EQ(translate({"run", "--not_a_flag", "prog"}),
            (std::vector<std::string>{"run", "--not_a_flag", "prog"}));
}

}  // namespace
}  // namespace myriad::launcher
