#include "tests/harness/etcd_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "runtime/net.h"

namespace myriad::test {
namespace {

// The JSON of one member's /v3/maintenance/status, or "" when it does not answer.
std::string member_status(const std::string& client) {
  CommandResult result =
      run_command(CommandOptions{.argv = {"curl", "-s", "-m", "1", "-X", "POST",
                                          "http://" + client + "/v3/maintenance/status", "-d", "{}"},
                                 .env = {},
                                 .unset_env = {},
                                 .timeout = std::chrono::milliseconds(3'000)});
  return result.shell_code() == 0 ? result.out : std::string();
}

// The value of "name":"..." in a flat JSON reply ("" when absent).
std::string json_string(const std::string& text, const std::string& name) {
  std::string needle = "\"" + name + "\":\"";
  size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  return text.substr(at, text.find('"', at) - at);
}

}  // namespace

std::string EtcdCluster::unavailable() {
  for (const char* tool : {"etcd", "curl"}) {
    if (run_command(CommandOptions{
                        .argv = {"sh", "-c", std::string("command -v ") + tool}, .env = {}, .unset_env = {}})
            .shell_code() != 0)
      return std::string(tool) +
             " is not installed (Debian's etcd-server and curl; scripts/setup.sh installs them)";
  }
  return "";
}

EtcdCluster::EtcdCluster(int members) {
  std::string pattern = "/dev/shm/myriad-etcd-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern + " failed");
  dir_ = pattern;
  std::string initial;
  std::vector<PortReservation> ports;
  for (int i = 0; i < members; ++i) {
    Member member;
    member.name = "m" + std::to_string(i);
    // Held until the member listens on it (etcd binds with SO_REUSEADDR): no other test takes it meanwhile.
    ports.push_back(reserve_port("127.0.0.1"));
    member.client_port = ports.back().port;
    ports.push_back(reserve_port("127.0.0.1"));
    member.peer_port = ports.back().port;
    if (!initial.empty()) initial += ',';
    initial += member.name + "=http://127.0.0.1:" + std::to_string(member.peer_port);
    members_.push_back(std::move(member));
  }
  for (Member& member : members_) {
    std::string client = "http://127.0.0.1:" + std::to_string(member.client_port);
    std::string peer = "http://127.0.0.1:" + std::to_string(member.peer_port);
    member.process = start_command(CommandOptions{.argv = {"etcd",
                                                           "--name",
                                                           member.name,
                                                           "--data-dir",
                                                           dir_ + "/" + member.name,
                                                           "--listen-client-urls",
                                                           client,
                                                           "--advertise-client-urls",
                                                           client,
                                                           "--listen-peer-urls",
                                                           peer,
                                                           "--initial-advertise-peer-urls",
                                                           peer,
                                                           "--initial-cluster",
                                                           initial,
                                                           "--initial-cluster-state",
                                                           "new",
                                                           "--initial-cluster-token",
                                                           "myriad-test",
                                                           "--heartbeat-interval",
                                                           "50",
                                                           "--election-timeout",
                                                           "500",
                                                           "--log-level",
                                                           "warn"},
                                                  .env = {},
                                                  .unset_env = {},
                                                  .timeout = std::chrono::milliseconds(3'600'000)});
  }
  if (!wait_for_leader(std::chrono::milliseconds(30'000))) {
    std::string why =
        "the etcd cluster of " + std::to_string(members) + " member(s) elected no leader in 30 s:\n";
    why += logs();
    throw std::runtime_error(why);
  }
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) kill(i);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string EtcdCluster::address(const std::string& ns) const {
  std::string out = "etcd://";
  for (int i = 0; i < size(); ++i) {
    if (i > 0) out += ',';
    out += client(i);
  }
  return out + "/" + ns;
}

std::string EtcdCluster::client(int member) const {
  return "127.0.0.1:" + std::to_string(members_.at(member).client_port);
}

int EtcdCluster::leader() const {
  std::vector<std::string> ids(members_.size());
  std::string leader_id;
  for (int i = 0; i < size(); ++i) {
    if (!alive(i)) continue;
    std::string status = member_status(client(i));
    // {"header":{...,"member_id":"..."},...,"leader":"..."}
    ids[i] = json_string(status, "member_id");
    std::string reported = json_string(status, "leader");
    if (!reported.empty() && reported != "0") leader_id = reported;
  }
  for (int i = 0; i < size(); ++i) {
    if (!ids[i].empty() && ids[i] == leader_id) return i;
  }
  return -1;
}

bool EtcdCluster::wait_for_leader(std::chrono::milliseconds timeout) const {
  return wait_until([this] { return leader() >= 0; }, timeout);
}

bool EtcdCluster::alive(int member) const {
  const Member& m = members_.at(member);
  return m.process != nullptr && process_alive(m.process->pid());
}

void EtcdCluster::kill(int member) {
  Member& m = members_.at(member);
  if (m.process == nullptr) return;
  m.process->send_signal(SIGKILL);
  CommandResult result = m.process->wait();
  m.log = result.out + result.err;
  m.process.reset();
}

std::string EtcdCluster::logs() const {
  std::string out;
  for (const Member& m : members_) {
    out += "--- etcd " + m.name + (m.process ? " (running)" : "") + ":\n";
    out += m.process ? m.process->out_so_far() : m.log;
  }
  return out;
}

}  // namespace myriad::test
