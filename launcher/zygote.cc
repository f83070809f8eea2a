#include "launcher/zygote.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "launcher/output_forwarder.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

// Waits until `fd` is readable or `timeout` passes; false on timeout.
bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

// Reads exactly `n` bytes within `timeout` in all; false on EOF, error or timeout.
bool read_exact(int fd, void* data, size_t n, std::chrono::steady_clock::time_point deadline) {
  auto* p = static_cast<char*>(data);
  size_t done = 0;
  while (done < n) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_readable(fd, left)) return false;
    ssize_t got = ::recv(fd, p + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

bool valid_module_name(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  }
  return true;
}

}  // namespace

std::string zygote_unsuitable(const std::vector<std::string>& argv) {
  if (argv.empty()) return "the ranks have no command";
  std::string program = std::filesystem::path(argv[0]).filename().string();
  if (program.rfind("python", 0) != 0) return fmt::format("the ranks run '{}', not Python", program);
  if (argv.size() < 2) return "the ranks run Python without a script";
  if (argv[1] == "-m") {
    if (argv.size() < 3) return "python -m without a module";
    return "";
  }
  if (argv[1].empty() || argv[1][0] == '-') {
    return fmt::format(
        "the interpreter option '{}' (only 'python SCRIPT' and 'python -m MODULE' can be forked)", argv[1]);
  }
  return "";
}

std::vector<std::string> parse_preload(const std::string& text) {
  std::vector<std::string> modules;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string name = text.substr(start, comma - start);
    if (!valid_module_name(name)) {
      raise(ErrorCode::InvalidArgument,
            "--preload '{}': '{}' is not a Python module name (give modules separated by commas, e.g. "
            "torch,numpy)",
            text, name);
    }
    modules.push_back(std::move(name));
    start = comma + 1;
  }
  return modules;
}

std::unique_ptr<Zygote> Zygote::start(const std::string& python, const std::vector<std::string>& modules,
                                      const std::vector<std::string>& environ, std::string name) {
  // A forked rank's middle process exits at once; the rank is then re-parented to the nearest subreaper.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) raise_errno(errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) raise_errno(errno, "socketpair");
  UniqueFd ours(fds[0]);
  UniqueFd theirs(fds[1]);
  SpawnRequest request;
  request.label = "the --preload fork server";
  request.path = python;
  request.argv = {python, "-m", "myriad._zygote"};
  request.argv.insert(request.argv.end(), modules.begin(), modules.end());
  request.environ = environ;
  request.stdin_fd = theirs.fd();
  pid_t pid = spawn_process(request);
  return std::unique_ptr<Zygote>(new Zygote(std::move(ours), pid, std::move(name)));
}

Zygote::~Zygote() {
  stop();
}

void Zygote::stop() {
  socket_.reset();  // EOF: the zygote's loop ends
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
}

void Zygote::fail(const std::string& why) {
  if (state_ == State::Failed) return;
  state_ = State::Failed;
  write_all(
      STDERR_FILENO,
      fmt::format("{}: the --preload fork server is unusable ({}); ranks start with exec\n", name_, why));
  stop();
}

bool Zygote::wait_ready(std::chrono::milliseconds timeout) {
  if (state_ != State::Importing) return state_ == State::Ready;
  if (!wait_readable(socket_.fd(), timeout)) return false;
  char byte = 0;
  ssize_t n;
  do {
    n = ::recv(socket_.fd(), &byte, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n == 1 && byte == 'R') {
    state_ = State::Ready;
    return true;
  }
  fail(n == 0 ? "it exited while importing; its error is above" : "it sent an unexpected byte");
  return false;
}

std::optional<pid_t> Zygote::fork_rank(const SpawnRequest& request) {
  if (!ready()) return std::nullopt;
  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string();
  nlohmann::json message{
      {"argv", request.argv}, {"env", request.environ}, {"cwd", cwd}, {"agent", ::getpid()}};
  std::string body = message.dump();
  uint32_t length = static_cast<uint32_t>(body.size());
  std::string frame(reinterpret_cast<const char*>(&length),
                    sizeof(length));  // little-endian on Linux/x86 and arm64
  frame += body;

  int descriptors[2] = {request.stdout_fd, request.stderr_fd};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(descriptors))] = {};
  iovec iov{.iov_base = frame.data(), .iov_len = frame.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(descriptors));
  std::memcpy(CMSG_DATA(cmsg), descriptors, sizeof(descriptors));
  ssize_t sent;
  do {
    sent = ::sendmsg(socket_.fd(), &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    fail(fmt::format("sending {}'s request: {}", request.label, std::strerror(errno)));
    return std::nullopt;
  }
  if (static_cast<size_t>(sent) < frame.size() &&
      !write_all(socket_.fd(), std::string_view(frame).substr(static_cast<size_t>(sent)))) {
    fail(fmt::format("sending {}'s request: {}", request.label, std::strerror(errno)));
    return std::nullopt;
  }

  auto deadline = std::chrono::steady_clock::now() + kZygoteReplyTimeout;
  uint32_t reply_length = 0;
  std::string reply;
  if (read_exact(socket_.fd(), &reply_length, sizeof(reply_length), deadline) && reply_length < (1u << 20)) {
    reply.resize(reply_length);
    if (!read_exact(socket_.fd(), reply.data(), reply.size(), deadline)) reply.clear();
  }
  nlohmann::json doc = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("pid") && doc["pid"].is_number_integer() &&
      doc["pid"].get<int64_t>() > 0) {
    return static_cast<pid_t>(doc["pid"].get<int64_t>());
  }
  if (doc.is_object() && doc.contains("error")) {
    fail(fmt::format("it could not fork {}: {}", request.label, doc["error"].dump()));
  } else {
    fail(fmt::format("no reply to {}'s request within {} s", request.label,
                     kZygoteReplyTimeout.count() / 1000));
  }
  return std::nullopt;
}

}  // namespace myriad::launcher
