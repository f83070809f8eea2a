#include "runtime/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "runtime/error.h"
#include "tests/harness/process.h"

namespace myriad {
namespace {

using std::chrono::milliseconds;

// Expects `fn` to throw Error(InvalidArgument) whose message holds every
// fragment in `fragments`.
template <typename Fn>
void expect_invalid(Fn fn, std::initializer_list<std::string_view> fragments) {
  try {
    fn();
    FAIL() << "no error thrown";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::InvalidArgument) << error.what();
    for (std::string_view fragment : fragments) {
      EXPECT_NE(error.message().find(fragment), std::string::npos)
          << "'" << fragment << "' missing from: " << error.message();
    }
  }
}

TEST(Env, MapIsIsolatedFromProcess) {
  setenv("MYRIAD_CONFIG_TEST_ONLY", "x", 1);
  Env env = Env::from_map({{"A", "1"}, {"EMPTY", ""}});
  EXPECT_EQ(env.get("A"), "1");
  EXPECT_EQ(env.get("EMPTY"), "");
  EXPECT_FALSE(env.get("MYRIAD_CONFIG_TEST_ONLY"));
  EXPECT_EQ(Env::process().get("MYRIAD_CONFIG_TEST_ONLY"), "x");
  unsetenv("MYRIAD_CONFIG_TEST_ONLY");
}

TEST(Config, IntDefaultsWhenUnsetOrEmpty) {
  Env env = Env::from_map({{"MYRIAD_X", ""}});
  EXPECT_EQ(config::get_int(env, "MYRIAD_X", 7), 7);
  EXPECT_EQ(config::get_int(env, "MYRIAD_Y", -3), -3);
}

TEST(Config, IntParsesAndChecksRange) {
  Env env = Env::from_map({{"MYRIAD_X", " 42 "}, {"MYRIAD_BIG", "1000"}, {"MYRIAD_BAD", "4x"}});
  EXPECT_EQ(config::get_int(env, "MYRIAD_X", 0, 0, 100), 42);
  expect_invalid([&] { config::get_int(env, "MYRIAD_BIG", 0, 0, 100); }, {"MYRIAD_BIG", "1000", "0 to 100"});
  expect_invalid([&] { config::get_int(env, "MYRIAD_BAD", 0); }, {"MYRIAD_BAD", "'4x'", "not an integer"});
}

TEST(Config, Bool) {
  Env env = Env::from_map({{"T1", "1"},
                           {"T2", "TRUE"},
                           {"T3", "yes"},
                           {"T4", "On"},
                           {"F1", "0"},
                           {"F2", "false"},
                           {"F3", "NO"},
                           {"F4", "off"},
                           {"BAD", "maybe"}});
  for (const char* name : {"T1", "T2", "T3", "T4"}) EXPECT_TRUE(config::get_bool(env, name, false)) << name;
  for (const char* name : {"F1", "F2", "F3", "F4"}) EXPECT_FALSE(config::get_bool(env, name, true)) << name;
  EXPECT_TRUE(config::get_bool(env, "UNSET", true));
  expect_invalid([&] { config::get_bool(env, "BAD", false); }, {"BAD", "maybe", "true/false"});
}

TEST(Config, Duration) {
  Env env = Env::from_map({{"D1", "30"},
                           {"D2", "500ms"},
                           {"D3", "2m"},
                           {"D4", "1.5s"},
                           {"D5", "1h"},
                           {"BAD1", "ten"},
                           {"BAD2", "5 weeks"},
                           {"BAD3", "-1"}});
  EXPECT_EQ(config::get_duration(env, "D1", milliseconds(0)), milliseconds(30'000));
  EXPECT_EQ(config::get_duration(env, "D2", milliseconds(0)), milliseconds(500));
  EXPECT_EQ(config::get_duration(env, "D3", milliseconds(0)), milliseconds(120'000));
  EXPECT_EQ(config::get_duration(env, "D4", milliseconds(0)), milliseconds(1'500));
  EXPECT_EQ(config::get_duration(env, "D5", milliseconds(0)), milliseconds(3'600'000));
  EXPECT_EQ(config::get_duration(env, "UNSET", milliseconds(9)), milliseconds(9));
  for (const char* name : {"BAD1", "BAD2", "BAD3"}) {
    expect_invalid([&] { config::get_duration(env, name, milliseconds(0)); }, {name, "not a duration"});
  }
}

TEST(Config, Choice) {
  Env env = Env::from_map({{"MYRIAD_LOG_LEVEL", "DEBUG"}, {"BAD", "loud"}});
  EXPECT_EQ(config::get_choice(env, "MYRIAD_LOG_LEVEL", "info", {"debug", "info"}), "debug");
  EXPECT_EQ(config::get_choice(env, "UNSET", "info", {"debug", "info"}), "info");
  expect_invalid(
      [&] {
        config::get_choice(env, "BAD", "info", {"debug", "info"});
      },
      {"BAD", "loud", "debug, info"});
}

TEST(Config, EveryVariableIsDocumented) {
  std::ifstream file(test::source_dir() + "/docs/config.md");
  ASSERT_TRUE(file) << "docs/config.md is missing";
  std::stringstream text;
  text << file.rdbuf();
  std::set<std::string_view> seen;
  for (const config::Variable& variable : config::variables()) {
    EXPECT_TRUE(seen.insert(variable.name).second) << "declared twice: " << variable.name;
    EXPECT_NE(text.str().find(fmt::format("`{}`", variable.name)), std::string::npos)
        << variable.name << " is not in docs/config.md";
    EXPECT_FALSE(variable.description.empty()) << variable.name;
  }
}

}  // namespace
}  // namespace myriad
