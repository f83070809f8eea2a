// The backend registry's plugins (collectives/backend_plugin.h, plugin.h):
// a backend that is not built in is loaded by name from MYRIAD_PLUGIN_PATH
// or from beside libmyriad_collectives, and only when asked for; a missing
// plugin, a missing dependency, a missing entry point and a plugin that
// registers another name each give an Error naming the backend, the file
// and the reason. The test plugins are built in tests/collectives/plugins/.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

#include "collectives/backend.h"
#include "runtime/error.h"
#include "tests/harness/process.h"

namespace myriad {
namespace {

// Every file this process has mapped, one /proc/self/maps line each.
std::string mapped_files() {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str();
}

bool mapped(const std::string& library) {
  return mapped_files().find(library) != std::string::npos;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Runs `fn` in a forked child, a process that has loaded no plugin whatever
// ran before in this one, so that "not mapped until asked for" is checked
// from a clean start. `fn` returns what failed, or "" when all held.
void expect_in_fresh_process(const std::function<std::string()>& fn) {
  test::RanksResult result = test::fork_ranks(1, [&](int) {
    std::string failure = fn();
    if (failure.empty()) return 0;
    std::fprintf(stderr, "%s\n", failure.c_str());
    return 1;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe() << " (its stderr says what failed)";
}

class BackendPlugin : public ::testing::Test {
 protected:
  // The test plugins' directory after one that does not exist: the loader
  // skips an absent entry and goes on.
  void SetUp() override { ::setenv("MYRIAD_PLUGIN_PATH", "/nonexistent-myriad-plugins:" TEST_PLUGIN_DIR, 1); }
  void TearDown() override { ::unsetenv("MYRIAD_PLUGIN_PATH"); }

  // The error require_backend(name) raises (the test fails if none).
  static Error error_of(const std::string& name) {
    try {
      require_backend(name);
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "require_backend(" << name << ") did not fail";
    return Error(ErrorCode::Internal, "no error");
  }
};

TEST_F(BackendPlugin, APluginOnThePluginPathIsLoadedWhenAskedForAndRegistersItsBackend) {
  EXPECT_TRUE(contains(backend_plugin_names(), "testecho"));
  expect_in_fresh_process([]() -> std::string {
    if (contains(backend_names(), "testecho")) return "registered before it was asked for";
    if (mapped("libmyriad_backend_testecho.so")) return "mapped before it was asked for";
    std::unique_ptr<Backend> backend = make_backend("testecho", BackendContext{});
    if (backend == nullptr || backend->name() != "testecho") return "make_backend did not build it";
    if (!contains(backend_names(), "testecho")) return "not registered after loading";
    if (!mapped(TEST_PLUGIN_DIR "/libmyriad_backend_testecho.so")) return "not mapped from the plugin path";
    // Asked again, it is found registered: nothing is loaded twice.
    require_backend("testecho");
    if (make_backend("testecho", BackendContext{})->name() != "testecho")
      return "a second make_backend failed";
    return "";
  });
}

TEST_F(BackendPlugin, NativeIsBuiltInAndLoadsNoPlugin) {
  EXPECT_TRUE(contains(backend_names(), "native"));
  EXPECT_NO_THROW(require_backend("native"));
  expect_in_fresh_process([]() -> std::string {
    require_backend("native");
    return mapped("libmyriad_backend_") ? "the native backend loaded a plugin" : "";
  });
}

TEST_F(BackendPlugin, AMissingPluginNamesTheBackendAndEveryFileTried) {
  Error e = error_of("nosuch");
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  const std::string& message = e.message();
  EXPECT_NE(message.find("unknown backend 'nosuch'"), std::string::npos) << message;
  EXPECT_NE(message.find("/nonexistent-myriad-plugins/libmyriad_backend_nosuch.so"), std::string::npos)
      << message;
  EXPECT_NE(message.find(TEST_PLUGIN_DIR "/libmyriad_backend_nosuch.so"), std::string::npos) << message;
  EXPECT_NE(message.find("native"), std::string::npos) << "lists the backends there are: " << message;
  EXPECT_NE(message.find("testecho (plugin)"), std::string::npos) << message;
}

TEST_F(BackendPlugin, MakeBackendNamesTheRankInTheError) {
  BackendContext context;
  context.rank = 3;
  try {
    make_backend("nosuch", context);
    ADD_FAILURE() << "make_backend(nosuch) did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_TRUE(e.message().starts_with("rank 3: unknown backend 'nosuch'")) << e.message();
  }
}

TEST_F(BackendPlugin, ANameThatIsNotAFileNameIsRefusedWithoutLoading) {
  Error e = error_of("../testecho");
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_NE(e.message().find("unknown backend '../testecho'"), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("looked for"), std::string::npos) << "no file was tried: " << e.message();
}

TEST_F(BackendPlugin, AMissingDependencyNamesThePluginAndTheLoadersReason) {
  Error e = error_of("missingdep");
  EXPECT_EQ(e.code(), ErrorCode::Unavailable);
  const std::string& message = e.message();
  EXPECT_NE(message.find("backend 'missingdep'"), std::string::npos) << message;
  EXPECT_NE(message.find(TEST_PLUGIN_DIR "/libmyriad_backend_missingdep.so"), std::string::npos) << message;
  // dlerror()'s words: the library that could not be found.
  EXPECT_NE(message.find("libmyriad_test_plugin_dep.so"), std::string::npos) << message;
  EXPECT_FALSE(contains(backend_names(), "missingdep"));
  // Nothing is kept: the same failure again, not a half-registered backend.
  EXPECT_EQ(error_of("missingdep").code(), ErrorCode::Unavailable);
}

TEST_F(BackendPlugin, ALibraryWithoutTheEntryPointIsRefused) {
  Error e = error_of("noentry");
  EXPECT_EQ(e.code(), ErrorCode::Unavailable);
  EXPECT_NE(e.message().find("does not export myriad_backend_plugin_register"), std::string::npos)
      << e.message();
  EXPECT_NE(e.message().find("libmyriad_backend_noentry.so"), std::string::npos) << e.message();
}

TEST_F(BackendPlugin, APluginThatRegistersAnotherNameIsRefused) {
  Error e = error_of("misnamed");
  EXPECT_EQ(e.code(), ErrorCode::Unavailable);
  EXPECT_NE(e.message().find("registered no backend of that name"), std::string::npos) << e.message();
  EXPECT_FALSE(contains(backend_names(), "misnamed"));
}

TEST_F(BackendPlugin, TheFirstDirectoryWithTheFileWins) {
  // The plugin directory twice: found in the first, which is the one mapped.
  ::setenv("MYRIAD_PLUGIN_PATH", TEST_PLUGIN_DIR ":/nonexistent-myriad-plugins", 1);
  ASSERT_NO_THROW(require_backend("testecho"));
  EXPECT_TRUE(mapped(TEST_PLUGIN_DIR "/libmyriad_backend_testecho.so"));
}

// The plugins Myriad builds: found beside libmyriad_collectives (no
// MYRIAD_PLUGIN_PATH), and their heavy libraries are mapped only once asked.
TEST(BuiltPlugins, TheMpiBackendLoadsLibmpiOnlyWhenAskedFor) {
  if (!MYRIAD_HAVE_MPI_PLUGIN)
    GTEST_SKIP()
        << "built without MPI (MYRIAD_WITH_MPI off or MPI not found): there is no MPI plugin to load";
  ::unsetenv("MYRIAD_PLUGIN_PATH");
  EXPECT_TRUE(contains(backend_plugin_names(), "mpi"));
  expect_in_fresh_process([]() -> std::string {
    if (mapped("libmpi.so")) return "libmpi mapped before the mpi backend was asked for";
    require_backend("mpi");
    if (!contains(backend_names(), "mpi")) return "mpi not registered after loading";
    if (!mapped("/libmyriad_backend_mpi.so")) return "libmyriad_backend_mpi.so not mapped";
    if (!mapped("libmpi.so")) return "libmpi not mapped by the mpi plugin";
    return "";
  });
}

TEST(BuiltPlugins, TheNcclBackendLoadsNcclAndCudaOnlyWhenAskedFor) {
  if (!MYRIAD_HAVE_NCCL_PLUGIN) GTEST_SKIP() << "built without CUDA/NCCL: there is no NCCL plugin to load";
  ::unsetenv("MYRIAD_PLUGIN_PATH");
  EXPECT_TRUE(contains(backend_plugin_names(), "nccl"));
  expect_in_fresh_process([]() -> std::string {
    if (mapped("libnccl.so") || mapped("libcudart.so"))
      return "NCCL or CUDA mapped before nccl was asked for";
    // Loading needs no GPU: only making a communicator does.
    require_backend("nccl");
    if (!mapped("/libmyriad_backend_nccl.so")) return "libmyriad_backend_nccl.so not mapped";
    if (!mapped("libnccl.so") || !mapped("libcudart.so")) return "NCCL or CUDA not mapped by the nccl plugin";
    return "";
  });
}

}  // namespace
}  // namespace myriad
