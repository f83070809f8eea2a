// process_alive, wait_until, binary_dir/source_dir, TempDir: see process.h.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "tests/harness/process.h"

namespace myriad::test {
namespace {

constexpr std::chrono::milliseconds kPollInterval{10};

}  // namespace

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie answers kill(0) but is dead; its state is the field after the ")" closing the name.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return false;
  char state = text[close + 2];
  return state != 'Z' && state != 'X';
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// The build compiles the two trees' paths in (tests/CMakeLists.txt); the
// environment may point elsewhere, e.g. at an installed tree.
std::string binary_dir() {
  const char* value = std::getenv("MYRIAD_BINARY_DIR");
  return value != nullptr && *value != '\0' ? std::string(value) : std::string(MYRIAD_TEST_BINARY_DIR);
}
std::string source_dir() {
  const char* value = std::getenv("MYRIAD_SOURCE_DIR");
  return value != nullptr && *value != '\0' ? std::string(value) : std::string(MYRIAD_TEST_SOURCE_DIR);
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/myriad-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern + " failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace myriad::test
