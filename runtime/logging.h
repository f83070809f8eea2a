// Logging: one spdlog logger per process that writes to stderr, with the
// rank in every line ("[2026-11-27 21:00:00.123] [rank 3] [info] ...").
//
// The level comes from MYRIAD_LOG_LEVEL (trace, debug, info, warn, error,
// off; default info) the first time the logger is used; set_log_level()
// overrides it. Before set_log_rank() is called the rank shows as "-".
// All functions are thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace myriad {

spdlog::logger& logger();
// Sets the rank printed in every line (-1 prints "-").
void set_log_rank(int rank);
// Sets a free-form role printed in place of the rank, e.g. "launcher".
void set_log_role(std::string_view role);
// "trace", "debug", "info", "warn", "error" or "off".
void set_log_level(std::string_view level);

}  // namespace myriad

// The level is checked before the arguments are evaluated: a debug line on
// an operation's path costs nothing when debug logging is off.
#define MYRIAD_LOG_AT(level, ...)                                                 \
  do {                                                                            \
    ::spdlog::logger& myriad_logger_ = ::myriad::logger();                        \
    if (myriad_logger_.should_log(level)) myriad_logger_.log(level, __VA_ARGS__); \
  } while (false)
#define MYRIAD_LOG_TRACE(...) MYRIAD_LOG_AT(::spdlog::level::trace, __VA_ARGS__)
#define MYRIAD_LOG_DEBUG(...) MYRIAD_LOG_AT(::spdlog::level::debug, __VA_ARGS__)
#define MYRIAD_LOG_INFO(...) ::myriad::logger().info(__VA_ARGS__)
#define MYRIAD_LOG_WARN(...) ::myriad::logger().warn(__VA_ARGS__)
#define MYRIAD_LOG_ERROR(...) ::myriad::logger().error(__VA_ARGS__)
