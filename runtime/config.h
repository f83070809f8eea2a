// Typed reading of Myriad's MYRIAD_* environment variables.
//
// Every variable Myriad reads is declared once in config.cc's table (name,
// type, default, meaning); docs/config.md is that table for users, and a
// test keeps the two equal. A value that does not parse, or is out of range,
// is an Error(InvalidArgument) naming the variable, the value and what is
// accepted. An unset or empty variable yields the default.
//
// Env is a read-only source of variables: the process environment, or a map
// (tests, and launchers that compose a rank's environment before exec).
// Thread-safety: Env is safe to read from many threads; the process
// environment must not be modified concurrently (setenv is not thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace myriad {

class Env {
 public:
  // The environment of this process (getenv).
  static Env process();
  // A fixed set of variables; nothing else is visible.
  static Env from_map(std::map<std::string, std::string> vars);

  // The value, or nullopt when unset. An empty value counts as set.
  std::optional<std::string> get(std::string_view name) const;

 private:
  bool use_process_ = true;
  std::map<std::string, std::string, std::less<>> vars_;
};

namespace config {

struct Variable {
  std::string_view name;
  std::string_view type;           // "int", "bool", "duration", "string", "choice", "host:port"
  std::string_view default_value;  // as documented; "" when there is none
  std::string_view description;
};

// Every MYRIAD_* variable Myriad reads, in the order docs/config.md lists them.
std::span<const Variable> variables();

// The table's entry for `name`; Error(Internal) naming it when Myriad does
// not declare it (a reader of an undeclared variable is a bug).
const Variable& variable(std::string_view name);

// Reads of a declared variable whose default is the table's, so that each
// default is written once. The table's default must parse as the type
// (tests/runtime/config_test.cc checks every entry).
int64_t read_int(const Env& env, std::string_view name, int64_t min = INT64_MIN, int64_t max = INT64_MAX);
bool read_bool(const Env& env, std::string_view name);
std::chrono::milliseconds read_duration(const Env& env, std::string_view name);
std::string read_choice(const Env& env, std::string_view name,
                        std::initializer_list<std::string_view> accepted);

// Reads with the caller's default: for variables outside the table (the
// torchrun, Open MPI and Slurm variables Myriad also reads) and for tests.
// The value as text, or nullopt when unset or empty.
std::optional<std::string> get_string(const Env& env, std::string_view name);

// An integer in [min, max].
int64_t get_int(const Env& env, std::string_view name, int64_t default_value, int64_t min = INT64_MIN,
                int64_t max = INT64_MAX);

// 1/0, true/false, yes/no, on/off (any case).
bool get_bool(const Env& env, std::string_view name, bool default_value);

// A duration: a number with an optional unit ms, s (the default), m or h.
std::chrono::milliseconds get_duration(const Env& env, std::string_view name,
                                       std::chrono::milliseconds default_value);

// One of `accepted` (compared case-insensitively; the accepted spelling is returned).
std::string get_choice(const Env& env, std::string_view name, std::string_view default_value,
                       std::initializer_list<std::string_view> accepted);

// Parsers shared with command-line flags; `what` names the source in errors.
int64_t parse_int(std::string_view text, std::string_view what, int64_t min = INT64_MIN,
                  int64_t max = INT64_MAX);
bool parse_bool(std::string_view text, std::string_view what);
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view what);

}  // namespace config
}  // namespace myriad
