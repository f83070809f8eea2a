// `myriad ckpt ls|verify|inspect` on checkpoints saved by forked ranks,
// run as a user runs them.
#include <gtest/gtest.h>

#include <fstream>

#include "checkpoint/file_io.h"
#include "checkpoint/reader.h"
#include "tests/checkpoint/checkpoint_test_util.h"

namespace myriad::test {
namespace {

CommandResult ckpt(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MYRIAD_CLI_PATH, "ckpt"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions options;
  options.argv = argv;
  return run_command(options);
}

class CkptCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WorldResult saved = save_steps(dir_.path(), 2, mixed_specs(), {4, 9});
    ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  }
  TempDir dir_;
};

TEST_F(CkptCliTest, LsListsStepsSizesWorldSizeAndLatest) {
  checkpoint::make_dir(dir_.path() + "/step-000000010.tmp-crashed");
  CommandResult r = ckpt({"ls", dir_.path()});
  ASSERT_EQ(r.shell_code(), 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "STEP")) << r.out;
  const auto line_of = [&](const std::string& start) {
    size_t at = r.out.find("\n" + start + " ");
    return at == std::string::npos ? std::string() : r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
  };
  const std::string four = line_of("4"), nine = line_of("9");
  EXPECT_TRUE(contains(four, "KiB") && contains(four, " 2 ")) << r.out;
  EXPECT_FALSE(contains(four, "latest")) << r.out;
  EXPECT_TRUE(contains(nine, "latest")) << r.out;
  EXPECT_TRUE(contains(r.out, "step-000000010.tmp-crashed: incomplete save")) << r.out;
}

TEST_F(CkptCliTest, VerifyPassesOnAGoodCheckpoint) {
  CommandResult r = ckpt({"verify", dir_.path()});
  EXPECT_EQ(r.shell_code(), 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "step 4: ok")) << r.out;
  EXPECT_TRUE(contains(r.out, "step 9: ok")) << r.out;
  EXPECT_TRUE(contains(r.out, "verdict: ok")) << r.out;
}

TEST_F(CkptCliTest, VerifyFailsAndNamesTheCorruptedChunk) {
  checkpoint::Manifest m = checkpoint::read_manifest(dir_.path(), 9);
  const checkpoint::ChunkRecord c = m.find("replicated.bf16")->chunks.at(0);
  const std::string file = dir_.path() + "/step-000000009/" + c.file;
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(c.offset + 1));
    f.put('\x7f');
  }
  CommandResult r = ckpt({"verify", dir_.path()});
  EXPECT_EQ(r.shell_code(), 1) << r.describe();
  EXPECT_TRUE(contains(r.out, "step 4: ok")) << r.out;
  EXPECT_TRUE(contains(r.out, "step 9: FAILED")) << r.out;
  EXPECT_TRUE(contains(
      r.out,
      fmt::format("{}: offset {}: checksum mismatch in chunk of tensor 'replicated.bf16'", file, c.offset)))
      << r.out;
  EXPECT_TRUE(contains(r.out, "verdict: FAILED")) << r.out;

  CommandResult only4 = ckpt({"verify", dir_.path(), "--step", "4"});
  EXPECT_EQ(only4.shell_code(), 0) << only4.describe();
  CommandResult only9 = ckpt({"verify", dir_.path(), "--step", "9"});
  EXPECT_EQ(only9.shell_code(), 1) << only9.describe();
}

TEST_F(CkptCliTest, InspectPrintsTheTensorTable) {
  CommandResult r = ckpt({"inspect", dir_.path()});
  ASSERT_EQ(r.shell_code(), 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "step 9 of")) << r.out;
  EXPECT_TRUE(contains(r.out, "2 ranks")) << r.out;
  EXPECT_TRUE(contains(r.out, "\"nested\"")) << r.out;
  EXPECT_TRUE(contains(r.out, "matrix")) << r.out;
  EXPECT_TRUE(contains(r.out, "[37,2,3]")) << r.out;
  EXPECT_TRUE(contains(r.out, "replicated")) << r.out;
  EXPECT_TRUE(contains(r.out, "bf16")) << r.out;
  CommandResult four = ckpt({"inspect", dir_.path(), "--step", "4"});
  EXPECT_EQ(four.shell_code(), 0) << four.describe();
  EXPECT_TRUE(contains(four.out, "step 4 of")) << four.out;
}

TEST_F(CkptCliTest, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(ckpt({"ls", dir_.path() + "/missing"}).shell_code(), 2);
  CommandResult r = ckpt({"inspect", dir_.path(), "--step", "5"});
  EXPECT_EQ(r.shell_code(), 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "step-000000005: no such step")) << r.err;
}

}  // namespace
}  // namespace myriad::test
