// rank_probe: the program the launcher tests run as their ranks. Each mode
// does one thing a test checks from outside (see usage()). The rank comes
// from MYRIAD_RANK (local engine) or OMPI_COMM_WORLD_RANK (mpi engine).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

// Long enough that only the launcher ends a sleeping rank in any test; short
// enough that a launcher bug cannot leave one around for long.
constexpr int kSleepSeconds = 60;
constexpr int kWaitForPeersMs = 20'000;

int usage() {
  std::fprintf(
      stderr,
      "usage: rank_probe MODE ...\n"
      "  env [NAME...]          print the launcher variables (and NAMEs) as NAME=VALUE\n"
      "  exit R CODE DIR N      write DIR/pid-<rank>; rank R waits for N pid files, exits CODE; "
      "others sleep\n"
      "  kill-self R DIR N      as exit, but rank R kills itself with SIGKILL\n"
      "  sleep DIR              write DIR/pid-<rank>, then sleep\n"
      "  ignore-term DIR        ignore SIGTERM, write DIR/pid-<rank>, then sleep\n"
      "  session                print SESSION, GROUP and PID (getsid, getpgid, getpid)\n"
      "  grandchild DIR N       fork a sleeping child; write both pids; wait for N pid files; exit 1\n"
      "  spam LINES LEN         print LINES lines of LEN characters in pieces, then a partial line\n"
      "  shm DIR kill|sleep     create /dev/shm/myriad-<run id>-probe-<rank> and a temp file, write "
      "DIR/pid-<rank>, then SIGKILL itself or sleep\n");
  return 2;
}

int my_rank() {
  for (const char* name : {"MYRIAD_RANK", "OMPI_COMM_WORLD_RANK"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return 0;
}

void write_file(const std::string& path, const std::string& text) {
  // Write then rename, so that a test never reads a half-written pid.
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    std::perror(tmp.c_str());
    std::exit(3);
  }
  std::fputs(text.c_str(), f);
  std::fclose(f);
  std::rename(tmp.c_str(), path.c_str());
}

void write_pid(const std::string& dir, const std::string& name, pid_t pid) {
  write_file(dir + "/" + name, std::to_string(pid));
}

void wait_for_pid_files(const std::string& dir, int n) {
  for (int waited = 0; waited < kWaitForPeersMs; waited += 10) {
    int found = 0;
    for (int r = 0; r < n; ++r) {
      found += ::access((dir + "/pid-" + std::to_string(r)).c_str(), F_OK) == 0 ? 1 : 0;
    }
    if (found == n) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

[[noreturn]] void sleep_forever() {
  std::this_thread::sleep_for(std::chrono::seconds(kSleepSeconds));
  std::exit(0);
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n <= 0) std::exit(4);
    data += n;
    size -= static_cast<size_t>(n);
  }
}

int spam(int rank, int lines, int len) {
  for (int i = 0; i < lines; ++i) {
    int fd = i % 5 == 4 ? STDERR_FILENO : STDOUT_FILENO;
    std::string line = "line " + std::to_string(rank) + " " + std::to_string(i) + " ";
    line.append(static_cast<size_t>(len), static_cast<char>('a' + (rank + i) % 26));
    line += '\n';
    // Three writes per line: the launcher must join the pieces into one line.
    size_t third = line.size() / 3;
    write_all(fd, line.data(), third);
    write_all(fd, line.data() + third, third);
    write_all(fd, line.data() + 2 * third, line.size() - 2 * third);
  }
  std::string tail = "tail " + std::to_string(rank);
  write_all(STDOUT_FILENO, tail.data(), tail.size());
  return 0;
}

int make_shm(int rank, const std::string& dir, const std::string& then) {
  const char* run_id = std::getenv("MYRIAD_RUN_ID");
  if (run_id == nullptr) return 5;
  std::string segment = "/dev/shm/myriad-" + std::string(run_id) + "-probe-" + std::to_string(rank);
  int fd = ::open(segment.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd < 0) return 6;
  ::close(fd);
  const char* tmp = std::getenv("TMPDIR");
  std::string temp_dir = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/myriad-" + run_id;
  ::mkdir(temp_dir.c_str(), 0700);
  write_file(temp_dir + "/probe-" + std::to_string(rank), "x");
  write_file(dir + "/shm-" + std::to_string(rank), segment + "\n" + temp_dir);
  write_pid(dir, "pid-" + std::to_string(rank), ::getpid());
  if (then == "sleep") sleep_forever();
  ::raise(SIGKILL);
  return 7;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string mode = argv[1];
  int rank = my_rank();
  if (mode == "env") {
    const char* names[] = {
        "MYRIAD_RANK",  "MYRIAD_WORLD_SIZE", "MYRIAD_LOCAL_RANK",   "MYRIAD_LOCAL_WORLD_SIZE",
        "RANK",         "WORLD_SIZE",        "LOCAL_RANK",          "LOCAL_WORLD_SIZE",
        "GROUP_RANK",   "MASTER_ADDR",       "MASTER_PORT",         "MYRIAD_STORE",
        "MYRIAD_TOKEN", "MYRIAD_RUN_ID",     "MYRIAD_RESTART_COUNT"};
    std::string out;
    auto add = [&out](const char* name) {
      const char* value = std::getenv(name);
      out += std::string(name) + "=" + (value != nullptr ? value : "<unset>") + "\n";
    };
    for (const char* name : names) add(name);
    for (int i = 2; i < argc; ++i) add(argv[i]);
    write_all(STDOUT_FILENO, out.data(), out.size());
    return 0;
  }
  if ((mode == "exit" && argc == 6) || (mode == "kill-self" && argc == 5)) {
    int target = std::atoi(argv[2]);
    std::string dir = mode == "exit" ? argv[4] : argv[3];
    int n = std::atoi(mode == "exit" ? argv[5] : argv[4]);
    write_pid(dir, "pid-" + std::to_string(rank), ::getpid());
    if (rank != target) sleep_forever();
    wait_for_pid_files(dir, n);
    if (mode == "kill-self") ::raise(SIGKILL);
    return std::atoi(argv[3]);
  }
  if (mode == "sleep" && argc == 3) {
    write_pid(argv[2], "pid-" + std::to_string(rank), ::getpid());
    sleep_forever();
  }
  if (mode == "ignore-term" && argc == 3) {
    ::signal(SIGTERM, SIG_IGN);
    write_pid(argv[2], "pid-" + std::to_string(rank), ::getpid());
    sleep_forever();
  }
  if (mode == "grandchild" && argc == 4) {
    pid_t child = ::fork();
    if (child == 0) sleep_forever();
    write_pid(argv[2], "grandchild-" + std::to_string(rank), child);
    write_pid(argv[2], "pid-" + std::to_string(rank), ::getpid());
    wait_for_pid_files(argv[2], std::atoi(argv[3]));
    return 1;
  }
  if (mode == "session") {
    std::string out = "SESSION=" + std::to_string(::getsid(0)) + "\nGROUP=" + std::to_string(::getpgid(0)) +
                      "\nPID=" + std::to_string(::getpid()) + "\n";
    write_all(STDOUT_FILENO, out.data(), out.size());
    return 0;
  }
  if (mode == "spam" && argc == 4) return spam(rank, std::atoi(argv[2]), std::atoi(argv[3]));
  if (mode == "shm" && argc == 4) return make_shm(rank, argv[2], argv[3]);
  return usage();
}
