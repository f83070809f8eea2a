#include "runtime/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <memory>
#include <mutex>

#include "runtime/config.h"
#include "runtime/error.h"

namespace myriad {
namespace {

spdlog::level::level_enum parse_level(std::string_view level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "info") return spdlog::level::info;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  if (level == "off") return spdlog::level::off;
  raise(ErrorCode::InvalidArgument,
        "log level '{}' is not accepted: accepted values are trace, debug, info, warn, error, off", level);
}

void set_tag(spdlog::logger& log, std::string_view tag) {
  log.set_pattern(fmt::format("[%Y-%m-%d %H:%M:%S.%e] [{}] [%l] %v", tag));
}

std::shared_ptr<spdlog::logger> make_logger() {
  // The stderr sink is unbuffered and mutex-protected: one line, one write.
  auto log = std::make_shared<spdlog::logger>("myriad", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  set_tag(*log, "rank -");
  std::string level = config::read_choice(Env::process(), "MYRIAD_LOG_LEVEL",
                                          {"trace", "debug", "info", "warn", "error", "off"});
  log->set_level(parse_level(level));
  log->flush_on(spdlog::level::trace);
  return log;
}

}  // namespace

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> log = make_logger();
  return *log;
}

void set_log_rank(int rank) {
  set_tag(logger(), rank < 0 ? std::string("rank -") : fmt::format("rank {}", rank));
}

void set_log_role(std::string_view role) {
  set_tag(logger(), role);
}

void set_log_level(std::string_view level) {
  logger().set_level(parse_level(level));
}

}  // namespace myriad
