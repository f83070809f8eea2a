#include "tests/harness/store_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

#include "runtime/tcp_store.h"

namespace myriad::test {

StoreProcess::StoreProcess(const std::string& token) {
  int port_pipe[2];
  int keepalive[2];
  if (pipe(port_pipe) != 0 || pipe(keepalive) != 0) throw std::runtime_error("store process: pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("store process: fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(port_pipe[0]);
    close(keepalive[1]);
    int code = 0;
    try {
      TcpStoreServer server(TcpStoreServerOptions{.token = token});
      uint16_t port = server.port();
      if (write(port_pipe[1], &port, sizeof(port)) != sizeof(port)) _exit(1);
      char byte;
      while (read(keepalive[0], &byte, 1) > 0) {
      }
    } catch (...) {
      code = 1;
    }
    _exit(code);
  }
  close(port_pipe[1]);
  close(keepalive[0]);
  keepalive_fd_ = keepalive[1];
  ssize_t got = read(port_pipe[0], &port_, sizeof(port_));
  close(port_pipe[0]);
  if (got != sizeof(port_)) throw std::runtime_error("store process: the server did not start");
}

StoreProcess::~StoreProcess() {
  if (keepalive_fd_ >= 0) close(keepalive_fd_);
  if (pid_ > 0) {
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

}  // namespace myriad::test
