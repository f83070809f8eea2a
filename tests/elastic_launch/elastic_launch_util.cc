#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cctype>
#include <climits>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>

#include "elastic/ledger.h"
#include "elastic_launch_test.h"
#include "launcher/job_files.h"
#include "runtime/heartbeat.h"

namespace myriad::test {
namespace {

namespace fs = std::filesystem;

// Variables that would make a directly run elastic_train join some other job.
const std::vector<std::string> kJobVariables = {"RANK",
                                                "WORLD_SIZE",
                                                "LOCAL_RANK",
                                                "LOCAL_WORLD_SIZE",
                                                "MASTER_ADDR",
                                                "MASTER_PORT",
                                                "MYRIAD_RANK",
                                                "MYRIAD_STORE",
                                                "MYRIAD_WORLD_SIZE",
                                                "MYRIAD_RUN_ID",
                                                "MYRIAD_TOKEN",
                                                "MYRIAD_SNAPSHOT_DIR",
                                                "MYRIAD_HEARTBEAT_FILE",
                                                "MYRIAD_EVENTS_FILE",
                                                "OMPI_COMM_WORLD_RANK",
                                                "MYRIAD_LOG_LEVEL",
                                                "MYRIAD_PYTHON"};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// NUL-separated strings (/proc/PID/cmdline, /proc/PID/environ).
std::vector<std::string> nul_split(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid != ::getpid()) pids.push_back(pid);
  }
  return pids;
}

bool has(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace

std::vector<std::string> TrainConfig::argv() const {
  std::vector<std::string> args{train_path(),
                                "--steps",
                                std::to_string(steps),
                                "--param-count",
                                std::to_string(param_count),
                                "--batch",
                                std::to_string(batch),
                                "--ckpt-every",
                                std::to_string(ckpt_every),
                                "--step-ms",
                                std::to_string(step_ms),
                                "--fail-at-step",
                                std::to_string(fail_at_step)};
  if (!ckpt_dir.empty()) args.insert(args.end(), {"--ckpt-dir", ckpt_dir});
  return args;
}

std::string baseline_checksum(const TrainConfig& config) {
  static std::mutex mutex;
  static std::map<std::string, std::string> cache;
  TrainConfig plain = config;
  plain.ckpt_dir.clear();
  plain.step_ms = 0;
  plain.fail_at_step = -1;
  std::vector<std::string> argv = plain.argv();
  std::string key;
  for (const std::string& arg : argv) key += arg + " ";
  std::lock_guard lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  CommandResult result = run_command(
      CommandOptions{.argv = argv, .env = {}, .unset_env = kJobVariables, .timeout = kJobTimeout});
  std::string checksum = checksum_of(result.out);
  EXPECT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_FALSE(checksum.empty()) << result.describe();
  cache[key] = checksum;
  return checksum;
}

std::string checksum_of(const std::string& out) {
  static const std::regex pattern(R"(checksum ([0-9a-f]{16}))");
  std::smatch match;
  return std::regex_search(out, match, pattern) ? match[1].str() : std::string();
}

std::vector<Resume> resumes_of(const std::string& out) {
  static const std::regex pattern(R"((?:\[rank (\d+)\] )?resumed from step (\d+) \(source ([a-z+]+)\))");
  std::vector<Resume> resumes;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), pattern); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    resumes.push_back(Resume{.rank = m[1].matched ? std::stoi(m[1].str()) : -1,
                             .step = std::stol(m[2].str()),
                             .source = m[3].str()});
  }
  return resumes;
}

std::vector<nlohmann::json> events_named(const std::vector<nlohmann::json>& events, const std::string& name) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& e : events) {
    if (e.value("event", "") == name) out.push_back(e);
  }
  return out;
}

std::string host_node_id() {
  char name[HOST_NAME_MAX + 1] = {};
  ::gethostname(name, sizeof(name) - 1);
  std::string out;
  // As the agent names its files: other characters become '_'.
  for (const char* c = name; *c != '\0'; ++c) {
    bool safe = std::isalnum(static_cast<unsigned char>(*c)) || *c == '-' || *c == '_' || *c == '.';
    out += safe ? *c : '_';
  }
  return out;
}

std::string heartbeat_path(const std::string& run_id, const std::string& node_id) {
  return fmt::format("/dev/shm/{}hb-{}", launcher::shm_segment_prefix(run_id), node_id);
}

pid_t wait_for_step(const std::string& run_id, const std::string& node_id, int slot, uint64_t step,
                    std::chrono::milliseconds timeout) {
  std::optional<HeartbeatTable> table;
  pid_t pid = 0;
  wait_until(
      [&] {
        try {
          // Each round replaces the file: a mapping of the old one sees no more beats, so map it anew.
          table.emplace(HeartbeatTable::open(heartbeat_path(run_id, node_id)));
          HeartbeatSlot beat = table->read(slot);
          if (beat.step && *beat.step >= step && beat.pid != 0) {
            pid = static_cast<pid_t>(beat.pid);
            return true;
          }
        } catch (const std::exception&) {
          // Not created yet, or replaced between the open and the map: try again.
        }
        return false;
      },
      timeout);
  return pid;
}

std::vector<pid_t> job_processes(const std::string& run_id) {
  std::vector<pid_t> found;
  const std::string variable = "MYRIAD_RUN_ID=" + run_id;
  for (pid_t pid : all_pids()) {
    std::string proc = fmt::format("/proc/{}", pid);
    bool mine = has(nul_split(read_file(proc + "/cmdline")), run_id) ||
                has(nul_split(read_file(proc + "/environ")), variable);
    if (mine && process_alive(pid)) found.push_back(pid);
  }
  return found;
}

pid_t agent_pid(const std::string& run_id, const std::string& node_id) {
  for (pid_t pid : all_pids()) {
    std::vector<std::string> args = nul_split(read_file(fmt::format("/proc/{}/cmdline", pid)));
    auto node = std::find(args.begin(), args.end(), "--node-id");
    if (has(args, "agent") && has(args, run_id) && node != args.end() && node + 1 != args.end() &&
        *(node + 1) == node_id && process_alive(pid)) {
      return pid;
    }
  }
  return 0;
}

std::vector<std::string> job_files(const std::string& run_id) {
  std::vector<std::string> files;
  std::string prefix = launcher::shm_segment_prefix(run_id);
  for (const fs::directory_entry& entry : fs::directory_iterator("/dev/shm")) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) files.push_back(entry.path().string());
  }
  std::error_code ec;
  std::string temp = launcher::job_temp_dir(run_id);
  if (fs::exists(temp, ec)) files.push_back(temp);
  return files;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("free_port: cannot bind a socket");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string ElasticLaunchTest::new_run_id() {
  static std::atomic<int> counter{0};
  // No '-' inside: "myriad-<id>-" then names this job's files only.
  std::string id = fmt::format("el{:x}x{}", ::getpid(), counter++);
  run_ids_.push_back(id);
  return id;
}

CommandOptions ElasticLaunchTest::run_options(const std::string& run_id, std::vector<std::string> args,
                                              const TrainConfig& config,
                                              std::map<std::string, std::string> env) {
  CommandOptions options;
  options.argv = {myriad_path(), "run", "--rdzv-id", run_id, "--log-dir", log_dir(run_id)};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  std::vector<std::string> program = config.argv();
  options.argv.insert(options.argv.end(), program.begin(), program.end());
  // The checkpoint service's info lines would bury the program's own.
  env.emplace("MYRIAD_LOG_LEVEL", "warn");
  options.env = std::move(env);
  options.unset_env = {"MYRIAD_PYTHON", "MYRIAD_TOKEN", "MYRIAD_RUN_ID", "MYRIAD_STORE"};
  options.timeout = kJobTimeout;
  return options;
}

std::vector<nlohmann::json> ElasticLaunchTest::ledger(const std::string& run_id) const {
  return elastic::read_events(log_dir(run_id) + "/events.jsonl");
}

void ElasticLaunchTest::forget_killed_job(const std::string& run_id) {
  for (pid_t pid : job_processes(run_id)) ::kill(pid, SIGKILL);
  wait_until([&] { return job_processes(run_id).empty(); }, kWaitTimeout);
  launcher::remove_job_files(run_id);
}

void ElasticLaunchTest::TearDown() {
  for (const std::string& run_id : run_ids_) {
    // The launcher has returned, so every process of the job should be gone; a
    // few seconds cover a slow reap under load.
    bool gone = wait_until([&] { return job_processes(run_id).empty(); }, std::chrono::milliseconds(5'000));
    std::vector<pid_t> left = job_processes(run_id);
    EXPECT_TRUE(gone) << "job " << run_id << " left " << left.size() << " process(es), first pid "
                      << (left.empty() ? 0 : left[0]);
    std::vector<std::string> files = job_files(run_id);
    EXPECT_TRUE(files.empty()) << "job " << run_id << " left " << files.size() << " file(s), first "
                               << (files.empty() ? "" : files[0]);
    // Whatever the outcome, leave nothing to the next test.
    forget_killed_job(run_id);
  }
}

}  // namespace myriad::test
