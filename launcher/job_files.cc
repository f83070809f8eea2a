#include "launcher/job_files.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "runtime/logging.h"

namespace myriad::launcher {
namespace {

constexpr std::string_view kShmDir = "/dev/shm";
constexpr std::string_view kDefaultTmpDir = "/tmp";

int remove_shm_segments(std::string_view run_id) {
  namespace fs = std::filesystem;
  int removed = 0;
  std::string prefix = shm_segment_prefix(run_id);
  std::error_code ec;
  for (fs::directory_iterator it(kShmDir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    std::error_code remove_ec;
    // A directory is a node's checkpoint snapshots (an agent killed before it removed them).
    if (fs::remove_all(it->path(), remove_ec) > 0 && !remove_ec) {
      ++removed;
      MYRIAD_LOG_DEBUG("removed shared-memory segment {} left by job {}", it->path().string(), run_id);
    } else if (remove_ec) {
      MYRIAD_LOG_WARN("cannot remove shared-memory segment {}: {}", it->path().string(), remove_ec.message());
    }
  }
  return removed;
}

int remove_temp_dir(std::string_view run_id) {
  std::string temp_dir = job_temp_dir(run_id);
  std::error_code ec;
  std::uintmax_t count = std::filesystem::remove_all(temp_dir, ec);
  if (ec) {
    MYRIAD_LOG_WARN("cannot remove the job's temporary directory {}: {}", temp_dir, ec.message());
    return 0;
  }
  if (count == 0) return 0;
  MYRIAD_LOG_DEBUG("removed the job's temporary directory {} ({} entries)", temp_dir, count);
  return 1;
}

}  // namespace

std::string shm_segment_prefix(std::string_view run_id) {
  return fmt::format("myriad-{}-", run_id);
}

std::string job_temp_dir(std::string_view run_id) {
  const char* tmp = std::getenv("TMPDIR");
  std::string_view base = tmp != nullptr && *tmp != '\0' ? std::string_view(tmp) : kDefaultTmpDir;
  return fmt::format("{}/myriad-{}", base, run_id);
}

int remove_job_files(std::string_view run_id) noexcept {
  // An empty id would match other jobs' files: remove nothing rather than guess.
  if (run_id.empty()) return 0;
  try {
    return remove_shm_segments(run_id) + remove_temp_dir(run_id);
  } catch (const std::exception& e) {
    // Only allocation or logging can throw here; an exit path must still complete.
    std::fprintf(stderr, "myriad run: cleaning up the files of job %.*s failed: %s\n",
                 static_cast<int>(run_id.size()), run_id.data(), e.what());
    return 0;
  }
}

}  // namespace myriad::launcher
