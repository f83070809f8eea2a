#include "runtime/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <span>
#include <sstream>
#include <vector>

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

// docs/config.md's table is runtime/config.cc's: the same variables in the
// same order, each with the same type and default.
TEST(Config, DocsTableIsTheDeclaredTable) {
  std::ifstream file(test::source_dir() + "/docs/config.md");
  ASSERT_TRUE(file) << "docs/config.md is missing";
  struct Row {
    std::string name, type, default_value;
  };
  std::vector<Row> rows;
  auto cell = [](std::string text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '`')) text.erase(text.begin());
    while (!text.empty() && (text.back() == ' ' || text.back() == '`')) text.pop_back();
    return text;
  };
  for (std::string line; std::getline(file, line);) {
    if (!line.starts_with("| `MYRIAD_")) continue;
    std::vector<std::string> cells;
    std::stringstream cells_in(line.substr(1));
    for (std::string c; std::getline(cells_in, c, '|');) cells.push_back(cell(c));
    ASSERT_GE(cells.size(), 4u) << "docs/config.md row with fewer than 4 cells: " << line;
    rows.push_back({cells[0], cells[1], cells[2]});
  }
  std::span<const config::Variable> declared = config::variables();
  ASSERT_EQ(rows.size(), declared.size()) << "docs/config.md lists " << rows.size()
                                          << " variables, runtime/config.cc declares " << declared.size();
  std::set<std::string_view> seen;
  for (size_t i = 0; i < declared.size(); ++i) {
    const config::Variable& variable = declared[i];
    EXPECT_TRUE(seen.insert(variable.name).second) << "declared twice: " << variable.name;
    EXPECT_FALSE(variable.description.empty()) << variable.name;
    EXPECT_EQ(rows[i].name, variable.name) << "row " << i + 1 << " of docs/config.md";
    EXPECT_EQ(rows[i].type, variable.type) << variable.name << "'s type in docs/config.md";
    EXPECT_EQ(rows[i].default_value, variable.default_value)
        << variable.name << "'s default in docs/config.md";
  }
}

// A typed read takes its default from the table, so every typed default must
// parse; and a variable without a default cannot be read as if it had one.
TEST(Config, EveryTypedDefaultParses) {
  const Env empty = Env::from_map({});
  for (const config::Variable& v : config::variables()) {
    if (v.default_value.empty()) continue;
    if (v.type == "int") {
      EXPECT_EQ(config::read_int(empty, v.name), config::parse_int(v.default_value, v.name)) << v.name;
    } else if (v.type == "duration") {
      EXPECT_EQ(config::read_duration(empty, v.name), config::parse_duration(v.default_value, v.name))
          << v.name;
    } else if (v.type == "bool") {
      EXPECT_EQ(config::read_bool(empty, v.name), config::parse_bool(v.default_value, v.name)) << v.name;
    }
  }
  EXPECT_EQ(config::read_duration(empty, "MYRIAD_TIMEOUT"), milliseconds(300'000));
  EXPECT_EQ(config::read_int(empty, "MYRIAD_SNAPSHOT_KEEP", 1, 100), 2);
  EXPECT_EQ(config::read_choice(empty, "MYRIAD_LOG_LEVEL", {"debug", "info"}), "info");
}

TEST(Config, TypedReadsPreferTheEnvironmentAndCheckIt) {
  const Env env = Env::from_map({{"MYRIAD_TIMEOUT", "2m"}, {"MYRIAD_SNAPSHOT_KEEP", "0"}});
  EXPECT_EQ(config::read_duration(env, "MYRIAD_TIMEOUT"), milliseconds(120'000));
  expect_invalid([&] { config::read_int(env, "MYRIAD_SNAPSHOT_KEEP", 1, 100); },
                 {"MYRIAD_SNAPSHOT_KEEP", "1 to 100"});
}

TEST(Config, ReadingAnUndeclaredVariableOrOneWithoutDefaultIsABug) {
  const Env empty = Env::from_map({});
  for (auto read : {+[](const Env& e) { config::read_int(e, "MYRIAD_NOT_DECLARED"); },
                    +[](const Env& e) { config::read_int(e, "MYRIAD_RANK"); }}) {
    try {
      read(empty);
      ADD_FAILURE() << "no error";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::Internal) << error.what();
      EXPECT_NE(error.message().find("runtime/config.cc"), std::string::npos) << error.message();
    }
  }
  EXPECT_EQ(config::read_int(Env::from_map({{"MYRIAD_RANK", "3"}}), "MYRIAD_RANK"), 3);
}

}  // namespace
}  // namespace myriad
