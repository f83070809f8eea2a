// EtcdCluster: a real etcd cluster of N members on loopback for the tests,
// each member its own `etcd` process with its own client and peer ports and
// a data directory under /dev/shm (removed afterwards). The constructor
// returns once the cluster has a leader; the destructor kills every member
// it started, by pid.
//
//   EtcdCluster cluster(3);
//   auto store = std::make_shared<EtcdStore>(parse_etcd_address(cluster.address(), "test"));
//   cluster.kill(cluster.leader());
//
// Requires Debian's etcd-server (scripts/setup.sh installs it); unavailable()
// says why a cluster cannot be started. Throws std::runtime_error when a
// cluster does not come up (with the members' logs). Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace myriad::test {

class EtcdCluster {
 public:
  // Empty when `etcd` can be run here, else why not.
  static std::string unavailable();

  explicit EtcdCluster(int members);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  // "etcd://127.0.0.1:P1,127.0.0.1:P2,.../<ns>"
  std::string address(const std::string& ns = "test") const;
  // "127.0.0.1:P" of one member's client port.
  std::string client(int member) const;
  // The member that leads now (asked of the live members); -1 when none does.
  int leader() const;
  // Waits until some live member reports a leader; false at the timeout.
  bool wait_for_leader(std::chrono::milliseconds timeout) const;
  // SIGKILL to one member, waited for.
  void kill(int member);
  bool alive(int member) const;
  // The members' logs, for a failure message.
  std::string logs() const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::unique_ptr<RunningCommand> process;
    std::string log;  // its output, kept when killed
  };
  std::string dir_;
  std::vector<Member> members_;
};

}  // namespace myriad::test
