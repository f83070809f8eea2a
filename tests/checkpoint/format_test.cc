// The pieces of the on-disk format: names, the data file header, the
// manifest's text and checksum, State validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <vector>

#include "checkpoint/file_io.h"
#include "checkpoint/format.h"
#include "checkpoint/manifest.h"
#include "checkpoint/state.h"
#include "runtime/error.h"
#include "tests/harness/process.h"

namespace myriad::checkpoint {
namespace {

Manifest sample_manifest() {
  Manifest m;
  m.format_version = kCheckpointFormatVersion;
  m.step = 42;
  m.world_size = 2;
  m.run_id = "r1";
  m.created_unix_ms = 1234;
  m.values = {{"epoch", 3}, {"lr", 0.1}, {"nested", {{"a", {1, 2, "x"}}}}};
  m.files = {{"rank-00000.bin", 0, 128, 0x1234}, {"rank-00001.bin", 1, 64, 0xabcdef}};
  m.tensors = {{"w",
                DType::BF16,
                {4, 2},
                Placement::Sharded,
                {{"rank-00000.bin", 64, 8, 0, 2, 7}, {"rank-00001.bin", 64, 8, 2, 2, 9}}}};
  return m;
}

ErrorCode code_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.message();
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return ErrorCode::Internal;
}

TEST(FormatTest, StepNamesAreCanonical) {
  EXPECT_EQ(step_dir_name(123), "step-000000123");
  EXPECT_EQ(step_dir_name(12345678901), "step-12345678901");
  EXPECT_EQ(parse_step_dir_name("step-000000123"), 123u);
  EXPECT_EQ(parse_step_dir_name("step-12345678901"), 12345678901u);
  EXPECT_FALSE(parse_step_dir_name("step-0000000123"));
  EXPECT_FALSE(parse_step_dir_name("step-000000123.tmp-r1"));
  EXPECT_FALSE(parse_step_dir_name("step-00000012x"));
  EXPECT_FALSE(parse_step_dir_name("latest"));
  EXPECT_EQ(rank_file_name(3), "rank-00003.bin");
}

TEST(FormatTest, HeaderRoundTripsAndRejectsBadMagic) {
  unsigned char buf[kHeaderBytes];
  encode_header({kCheckpointFormatVersion, 5, 77, 8, kHeaderBytes, 4096}, buf);
  FileHeader h = decode_header(buf, "f");
  EXPECT_EQ(h.version, kCheckpointFormatVersion);
  EXPECT_EQ(h.rank, 5u);
  EXPECT_EQ(h.step, 77u);
  EXPECT_EQ(h.world_size, 8u);
  EXPECT_EQ(h.data_bytes, 4096u);
  buf[0] ^= 1;
  std::string message;
  EXPECT_EQ(code_of([&] { decode_header(buf, "some/file"); }, &message), ErrorCode::Corruption);
  EXPECT_NE(message.find("some/file"), std::string::npos) << message;
}

TEST(FormatTest, ChecksumHexRoundTrips) {
  EXPECT_EQ(checksum_hex(0x00ab), "00000000000000ab");
  EXPECT_EQ(parse_checksum_hex("00000000000000ab"), 0xabu);
  EXPECT_FALSE(parse_checksum_hex("00000000000000AB"));
  EXPECT_FALSE(parse_checksum_hex("abc"));
}

TEST(FormatTest, StreamingChecksumOfPiecesIsTheChecksumOfTheWhole) {
  std::vector<unsigned char> bytes(1 << 20);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 2654435761u >> 13);
  StreamingChecksum sum;
  for (size_t at = 0, piece = 1; at < bytes.size(); at += piece, piece = piece * 3 + 7) {
    sum.update(bytes.data() + at, std::min(piece, bytes.size() - at));
  }
  EXPECT_EQ(sum.digest(), checksum(bytes.data(), bytes.size()));
  sum.reset();
  sum.update(bytes.data(), 100);
  EXPECT_EQ(sum.digest(), checksum(bytes.data(), 100));
  EXPECT_NE(sum.digest(), checksum(bytes.data(), 101));
}

TEST(FormatTest, ManifestRoundTrips) {
  const Manifest m = sample_manifest();
  const std::string text = manifest_to_text(m);
  Manifest back = parse_manifest(text, "m.json");
  EXPECT_EQ(back.step, 42u);
  EXPECT_EQ(back.world_size, 2);
  EXPECT_EQ(back.values, m.values);
  ASSERT_EQ(back.tensors.size(), 1u);
  EXPECT_EQ(back.tensors[0].dtype, DType::BF16);
  ASSERT_EQ(back.tensors[0].chunks.size(), 2u);
  EXPECT_EQ(back.tensors[0].chunks[1].xxh3, 9u);
  EXPECT_EQ(back.files[1].xxh3, 0xabcdefu);
  EXPECT_EQ(back.total_bytes(), 192u);
  EXPECT_EQ(nlohmann::json::parse(text).at("manifest_xxh3").get<std::string>().size(), 16u);
}

TEST(FormatTest, EveryFlippedByteOfTheManifestIsFound) {
  const std::string text = manifest_to_text(sample_manifest());
  for (size_t i = 0; i < text.size(); ++i) {
    std::string bad = text;
    bad[i] ^= 0x01;
    std::string message;
    ErrorCode code = code_of([&] { parse_manifest(bad, "dir/manifest.json"); }, &message);
    EXPECT_TRUE(code == ErrorCode::Corruption || code == ErrorCode::NotSupported) << "byte " << i;
    EXPECT_NE(message.find("dir/manifest.json"), std::string::npos) << message;
  }
  for (size_t cut : {size_t{0}, size_t{1}, text.size() / 2, text.size() - 1}) {
    EXPECT_EQ(code_of([&] { parse_manifest(text.substr(0, cut), "m"); }), ErrorCode::Corruption) << cut;
  }
}

TEST(FormatTest, UnknownFormatVersionIsNamed) {
  Manifest m = sample_manifest();
  m.format_version = 9;
  std::string message;
  EXPECT_EQ(code_of([&] { parse_manifest(manifest_to_text(m), "d/manifest.json"); }, &message),
            ErrorCode::NotSupported);
  EXPECT_NE(message.find("format version 9"), std::string::npos) << message;
  EXPECT_NE(message.find("reads version 1"), std::string::npos) << message;
}

TEST(FormatTest, StateValidationNamesTheTensor) {
  float data[6] = {};
  auto expect_invalid = [](State s, const std::string& part) {
    std::string message;
    EXPECT_EQ(code_of([&] { validate_state(s); }, &message), ErrorCode::InvalidArgument) << part;
    EXPECT_NE(message.find(part), std::string::npos) << message;
  };
  State ok;
  ok.add_sharded("w", {data, 6, DType::F32}, {4, 3}, 2);
  ok.add_replicated("b", {data, 3, DType::F32}, {3});
  ok.add_replicated("s", {data, 1, DType::F32}, {});
  EXPECT_NO_THROW(validate_state(ok));

  State dup = ok;
  dup.add_replicated("b", {data, 3, DType::F32}, {3});
  expect_invalid(dup, "'b' appears twice");
  State partial;
  partial.add_sharded("w", {data, 5, DType::F32}, {4, 3}, 0);
  expect_invalid(partial, "'w'");
  State outside;
  outside.add_sharded("w", {data, 6, DType::F32}, {4, 3}, 3);
  expect_invalid(outside, "rows [3, 5)");
  State short_replica;
  short_replica.add_replicated("r", {data, 2, DType::F32}, {3});
  expect_invalid(short_replica, "'r'");
  State device;
  device.add_replicated("g", {data, 3, DType::F32, Device::cuda(0)}, {3});
  EXPECT_EQ(code_of([&] { validate_state(device); }), ErrorCode::NotSupported);
}

// MYRIAD_CKPT_WRITE_MBPS: a paced write takes at least bytes / rate and
// writes the same bytes; an aligned buffer (the O_DIRECT path) and an
// unaligned one (the ordinary one) alike.
TEST(FormatTest, PacedWriteHoldsItsRateAndKeepsTheBytes) {
  test::TempDir dir;
  constexpr size_t kBytes = 3u << 20;
  constexpr uint64_t kRate = 10'000'000;  // 3 MiB at 10 MB/s: at least 0.31 s
  std::vector<unsigned char> storage(kBytes + 4096 + 1);
  unsigned char* aligned = storage.data() + (4096 - reinterpret_cast<uintptr_t>(storage.data()) % 4096);
  for (unsigned char* data : {aligned, aligned + 1}) {
    for (size_t i = 0; i < kBytes; ++i) data[i] = static_cast<unsigned char>(i * 31 + 7);
    const std::string path = dir.path() + "/paced.bin";
    const auto start = std::chrono::steady_clock::now();
    write_file_durably(path, data, kBytes, kRate);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_GE(seconds, static_cast<double>(kBytes) / static_cast<double>(kRate) * 0.9);
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(back.size(), kBytes);
    EXPECT_TRUE(std::equal(back.begin(), back.end(), data)) << (data == aligned ? "aligned" : "unaligned");
  }
}

}  // namespace
}  // namespace myriad::checkpoint
