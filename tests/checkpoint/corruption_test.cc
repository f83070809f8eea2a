// Damaged checkpoints: bit flips and truncation in data files and in the
// manifest, an unknown format version, a garbled `latest` — each detected
// and named (file, offset, tensor), and fallback loads the previous step.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "checkpoint/file_io.h"
#include "checkpoint/format.h"
#include "checkpoint/reader.h"
#include "tests/checkpoint/checkpoint_test_util.h"

namespace myriad::test {
namespace {

using checkpoint::ChunkRecord;
using checkpoint::LoadOptions;

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WorldResult saved = save_steps(dir_.path(), 2, specs_, {1, 2});
    ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  }
  std::string step2() const { return dir_.path() + "/step-000000002"; }
  // The chunk of `tensor` in step 2 stored in `file`.
  ChunkRecord chunk_of(const std::string& tensor, const std::string& file) const {
    checkpoint::Manifest m = checkpoint::read_manifest(dir_.path(), 2);
    for (const ChunkRecord& c : m.find(tensor)->chunks) {
      if (c.file == file) return c;
    }
    ADD_FAILURE() << "no chunk of " << tensor << " in " << file;
    return {};
  }
  static void flip(const std::string& path, uint64_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ 0x10));
  }
  // Load error (code and message) of the latest step without fallback.
  Error load_error() {
    OwnedState owned(specs_, 0, 1, 2, false);
    try {
      checkpoint::load_checkpoint(owned.state(), dir_.path());
    } catch (const Error& e) {
      return e;
    }
    return Error(ErrorCode::Internal, "no error");
  }
  // Fallback load: expects step 1 and a skipped step 2.
  void expect_fallback_to_step1() {
    OwnedState owned(specs_, 0, 1, 1, false);
    checkpoint::LoadResult result =
        checkpoint::load_checkpoint(owned.state(), dir_.path(), LoadOptions{.fallback = true});
    EXPECT_EQ(result.step, 1u);
    ASSERT_EQ(result.skipped.size(), 1u);
    EXPECT_TRUE(contains(result.skipped[0], "step 2")) << result.skipped[0];
    EXPECT_EQ(owned.mismatch(1), "");
    EXPECT_TRUE(checkpoint::verify_step(dir_.path(), 1).ok());
  }

  TempDir dir_;
  std::vector<TensorSpec> specs_ = mixed_specs();
};

TEST_F(CorruptionTest, BitFlipInAChunkIsNamedAndFallbackLoadsThePreviousStep) {
  const ChunkRecord c = chunk_of("matrix", "rank-00001.bin");
  flip(step2() + "/rank-00001.bin", c.offset + c.bytes / 2);
  Error e = load_error();
  EXPECT_EQ(e.code(), ErrorCode::Corruption) << e.what();
  EXPECT_TRUE(contains(e.message(), step2() + "/rank-00001.bin")) << e.message();
  EXPECT_TRUE(contains(e.message(), fmt::format("offset {}", c.offset))) << e.message();
  EXPECT_TRUE(contains(e.message(), "'matrix'")) << e.message();
  expect_fallback_to_step1();
}

TEST_F(CorruptionTest, TruncatedDataFileIsNamed) {
  const ChunkRecord c = chunk_of("matrix", "rank-00001.bin");
  ASSERT_EQ(::truncate((step2() + "/rank-00001.bin").c_str(), static_cast<off_t>(c.offset + 1)), 0);
  Error e = load_error();
  EXPECT_EQ(e.code(), ErrorCode::Corruption) << e.what();
  EXPECT_TRUE(contains(e.message(), "truncated")) << e.message();
  EXPECT_TRUE(contains(e.message(), "rank-00001.bin")) << e.message();
  EXPECT_TRUE(contains(e.message(), "'")) << e.message();
  expect_fallback_to_step1();
}

TEST_F(CorruptionTest, MissingDataFileIsNamed) {
  ASSERT_EQ(::unlink((step2() + "/rank-00000.bin").c_str()), 0);
  Error e = load_error();
  EXPECT_EQ(e.code(), ErrorCode::Corruption) << e.what();
  EXPECT_TRUE(contains(e.message(), "rank-00000.bin: missing")) << e.message();
  expect_fallback_to_step1();
}

TEST_F(CorruptionTest, BitFlipInTheManifestIsFound) {
  const std::string path = step2() + "/manifest.json";
  const std::string text = checkpoint::read_text_file(path);
  // A digit of a value: the manifest still parses, only its checksum differs.
  const size_t at = text.find("\"lr\": ") + 6;
  flip(path, at);
  Error e = load_error();
  EXPECT_EQ(e.code(), ErrorCode::Corruption) << e.what();
  EXPECT_TRUE(contains(e.message(), path)) << e.message();
  EXPECT_TRUE(contains(e.message(), "checksum")) << e.message();
  expect_fallback_to_step1();
}

TEST_F(CorruptionTest, TruncatedManifestIsFound) {
  const std::string path = step2() + "/manifest.json";
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  Error e = load_error();
  EXPECT_EQ(e.code(), ErrorCode::Corruption) << e.what();
  EXPECT_TRUE(contains(e.message(), path)) << e.message();
  expect_fallback_to_step1();
}

TEST_F(CorruptionTest, UnknownFormatVersionIsAClearError) {
  const std::string path = step2() + "/manifest.json";
  checkpoint::Manifest m = checkpoint::read_manifest(dir_.path(), 2);
  m.format_version = 2;
  checkpoint::write_file_durably(path, checkpoint::manifest_to_text(m));
  Error e = load_error();
  EXPECT_EQ(e.code(), ErrorCode::NotSupported) << e.what();
  EXPECT_TRUE(contains(e.message(), "format version 2 is not supported")) << e.message();
  EXPECT_TRUE(contains(e.message(), path)) << e.message();
  expect_fallback_to_step1();
}

TEST_F(CorruptionTest, GarbledLatestPointer) {
  checkpoint::write_file_durably(dir_.path() + "/latest", "step-00\n");
  Error e = load_error();
  EXPECT_EQ(e.code(), ErrorCode::Corruption) << e.what();
  EXPECT_TRUE(contains(e.message(), dir_.path() + "/latest")) << e.message();
  // With fallback the newest committed step is used.
  OwnedState owned(specs_, 0, 1, 2, false);
  EXPECT_EQ(checkpoint::load_checkpoint(owned.state(), dir_.path(), LoadOptions{.fallback = true}).step, 2u);
  EXPECT_EQ(owned.mismatch(2), "");
}

TEST_F(CorruptionTest, VerifyNamesEveryBadChunk) {
  const ChunkRecord a = chunk_of("matrix", "rank-00000.bin");
  const ChunkRecord b = chunk_of("sharded.i64", "rank-00001.bin");
  flip(step2() + "/rank-00000.bin", a.offset);
  flip(step2() + "/rank-00001.bin", b.offset + b.bytes - 1);
  checkpoint::VerifyResult v = checkpoint::verify_step(dir_.path(), 2);
  EXPECT_FALSE(v.ok());
  std::string all;
  for (const std::string& p : v.problems) all += p + "\n";
  EXPECT_TRUE(contains(
      all, fmt::format("rank-00000.bin: offset {}: checksum mismatch in chunk of tensor 'matrix'", a.offset)))
      << all;
  EXPECT_TRUE(contains(
      all,
      fmt::format("rank-00001.bin: offset {}: checksum mismatch in chunk of tensor 'sharded.i64'", b.offset)))
      << all;
  EXPECT_TRUE(contains(all, "rank-00000.bin: file checksum mismatch")) << all;
  EXPECT_TRUE(contains(all, "rank-00001.bin: file checksum mismatch")) << all;
  EXPECT_EQ(v.problems.size(), 4u) << all;
  EXPECT_TRUE(checkpoint::verify_step(dir_.path(), 1).ok());
}

TEST_F(CorruptionTest, NoStepVerifiesIsAnErrorListingEach) {
  for (const std::string step : {"step-000000001", "step-000000002"}) {
    flip(dir_.path() + "/" + step + "/manifest.json", 10);
  }
  OwnedState owned(specs_, 0, 1, 1, false);
  try {
    checkpoint::load_checkpoint(owned.state(), dir_.path(), LoadOptions{.fallback = true});
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corruption);
    EXPECT_TRUE(contains(e.message(), "no step verifies")) << e.message();
    EXPECT_TRUE(contains(e.message(), "step 1:")) << e.message();
    EXPECT_TRUE(contains(e.message(), "step 2:")) << e.message();
  }
}

}  // namespace
}  // namespace myriad::test
