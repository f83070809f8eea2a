// Bad input: an unwritable directory, a full disk (a small tmpfs mounted by
// the test), each a clear error on every rank with the last committed step
// still loadable.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "checkpoint/file_io.h"
#include "checkpoint/reader.h"
#include "tests/checkpoint/checkpoint_test_util.h"

namespace myriad::test {
namespace {

// A tmpfs of `size` mounted on `path` for the test's lifetime. mount(2)
// needs CAP_SYS_ADMIN; error() says why it failed.
class TmpfsMount {
 public:
  TmpfsMount(std::string path, const std::string& size) : path_(std::move(path)) {
    const std::string options = "size=" + size;
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      error_ = fmt::format("mount -t tmpfs {}: {}", path_, std::strerror(errno));
    }
  }
  ~TmpfsMount() {
    if (error_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }
  bool remount_read_only() {
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0;
  }

 private:
  std::string path_;
  std::string error_;
};

// Every rank saves `step` of `specs` and expects an Io error containing `part`.
WorldResult expect_save_error(const std::string& dir, const std::vector<TensorSpec>& specs, uint64_t step,
                              const std::string& part) {
  return run_world(Layout::one_node(2), [&](Rank& r) {
    checkpoint::Checkpointer ck(r.comm);
    OwnedState owned(specs, r.rank, r.size, step, true);
    checkpoint::SaveHandle handle = ck.save(owned.state(), dir, step);
    try {
      handle.wait();
    } catch (const Error& e) {
      if (e.code() == ErrorCode::Io && contains(e.message(), part) &&
          contains(e.message(), "not committed")) {
        return kRankOk;
      }
      r.report(fmt::format("unexpected error: {}", e.what()));
      return kRankUnexpected;
    }
    r.report("the save succeeded");
    return kRankUnexpected;
  });
}

std::vector<TensorSpec> big_specs() {
  auto specs = mixed_specs();
  specs.push_back({"big", DType::F32, {1024, 256}, checkpoint::Placement::Sharded});  // 1 MiB
  return specs;
}

TEST(BadInputTest, DirectoryUnderAFileIsAnErrorNamingIt) {
  TempDir dir;
  std::ofstream(dir.path() + "/file") << "x";
  const std::string target = dir.path() + "/file/ckpt";
  WorldResult r = expect_save_error(target, mixed_specs(), 1, target);
  EXPECT_TRUE(r.all_succeeded()) << r.describe();
  EXPECT_TRUE(checkpoint::list_steps(target).empty());
}

TEST(BadInputTest, ReadOnlyDirectoryKeepsTheLastCommittedStep) {
  TempDir dir;
  const auto specs = mixed_specs();
  std::unique_ptr<TmpfsMount> mount;
  if (::geteuid() == 0) {
    // Permission bits do not stop root: a read-only mount does.
    mount = std::make_unique<TmpfsMount>(dir.path(), "4m");
    if (!mount->error().empty())
      GTEST_SKIP() << "cannot make a read-only directory as root: " << mount->error();
  }
  ASSERT_TRUE(save_steps(dir.path(), 2, specs, {1}).all_succeeded());
  if (mount) {
    ASSERT_TRUE(mount->remount_read_only()) << std::strerror(errno);
  } else {
    ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  }
  WorldResult r = expect_save_error(dir.path(), specs, 2, dir.path());
  EXPECT_TRUE(r.all_succeeded()) << r.describe();
  EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, 1), "");
  EXPECT_TRUE(checkpoint::verify_step(dir.path(), 1).ok());
  if (!mount) ::chmod(dir.path().c_str(), 0755);
}

TEST(BadInputTest, DiskFullKeepsTheLastCommittedStepAndTheNextSaveCleansUp) {
  TempDir dir;
  TmpfsMount mount(dir.path(), "512k");
  if (!mount.error().empty())
    GTEST_SKIP() << "mounting a small tmpfs is not permitted here: " << mount.error();
  const auto specs = mixed_specs();
  ASSERT_TRUE(save_steps(dir.path(), 2, specs, {1}).all_succeeded());

  WorldResult full = expect_save_error(dir.path(), big_specs(), 2, "No space left on device");
  EXPECT_TRUE(full.all_succeeded()) << full.describe();
  EXPECT_EQ(checkpoint::list_steps(dir.path()), std::vector<uint64_t>{1});
  EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, 1), "");
  EXPECT_TRUE(checkpoint::verify_step(dir.path(), 1).ok());

  // The next save removes the failed one's files and fits again.
  ASSERT_TRUE(save_steps(dir.path(), 2, specs, {3}).all_succeeded());
  EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, 3), "");
  for (const std::string& name : checkpoint::list_dir(dir.path())) {
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace myriad::test
