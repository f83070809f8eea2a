// StoreProcess: a rendezvous store served by a child process.
//
// Tests that fork ranks must fork from a process with no other threads: a
// fork taken while a server thread holds a lock (the allocator's, the
// logger's) leaves the child waiting on that lock forever. Serving the
// store from a child process keeps the test process single-threaded.
//
// The child exits when the StoreProcess is destroyed or the test process
// dies. Construction throws std::runtime_error when the child cannot start.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace myriad::test {

class StoreProcess {
 public:
  explicit StoreProcess(const std::string& token);
  ~StoreProcess();
  StoreProcess(const StoreProcess&) = delete;
  StoreProcess& operator=(const StoreProcess&) = delete;

  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int keepalive_fd_ = -1;  // the child serves until this pipe closes
  uint16_t port_ = 0;
};

}  // namespace myriad::test
