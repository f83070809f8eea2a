#include "collectives/native/endpoint_exchange.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "collectives/native/transport_registry.h"
#include "runtime/config.h"
#include "runtime/logging.h"

namespace myriad {
namespace {

// Names this machine (and this boot of it): ranks of emulated nodes share
// it, ranks on other machines do not even if their host names collide.
std::string host_identity() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  std::string boot;
  if (FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    char id[64] = {};
    if (std::fgets(id, sizeof(id), f) != nullptr) boot = id;
    std::fclose(f);
    while (!boot.empty() && (boot.back() == '\n' || boot.back() == ' ')) boot.pop_back();
  }
  return fmt::format("{}/{}", name, boot);
}

// The cores this process may run on (its affinity mask, which containers
// and launchers narrow).
std::vector<int> usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cores;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cores.push_back(cpu);
  }
  return cores;
}

struct Endpoint {
  int pid = 0;
  std::string host;        // host_identity(): equal for ranks on one machine
  std::vector<int> cores;  // usable_cores()
  std::string shm;
  std::string tcp;
};

}  // namespace

Topology communicator_topology(const BackendContext& context) {
  const std::vector<std::string>& nodes = context.world->nodes();
  std::vector<int> node_of(context.size());
  std::vector<std::string> seen;
  for (int r = 0; r < context.size(); ++r) {
    const std::string& node = nodes[context.group[r]];
    auto it = std::find(seen.begin(), seen.end(), node);
    node_of[r] = static_cast<int>(it - seen.begin());
    if (it == seen.end()) seen.push_back(node);
  }
  return Topology(node_of);
}

NativeLinks connect_transports(const BackendContext& context, const Topology& topology) {
  const int rank = context.rank;
  const int size = context.size();
  auto deadline = std::chrono::steady_clock::now() + context.timeout;
  std::vector<int> local_peers;
  std::vector<int> remote_peers;
  for (int r = 0; r < size; ++r) {
    if (r == rank) continue;
    (topology.node_of(r) == topology.node_of(rank) ? local_peers : remote_peers).push_back(r);
  }

  TransportOptions options;
  options.rank = rank;
  options.size = size;
  options.run_id =
      context.world->info().run_id.empty() ? fmt::format("p{}", getpid()) : context.world->info().run_id;
  options.comm_id = context.comm_id;
  options.bind_host = config::get_string(Env::process(), "MYRIAD_TCP_HOST").value_or("127.0.0.1");

  // Endpoints travel through the store: pids first (shared memory watches
  // its peers' processes), then each transport's address.
  nlohmann::json mine = {{"pid", getpid()}, {"host", host_identity()}, {"cores", usable_cores()}};
  std::vector<Endpoint> endpoints(size);
  auto publish_and_collect = [&](const std::string& phase) {
    context.store->set(fmt::format("{}/{}", phase, rank), mine.dump());
    for (int r = 0; r < size; ++r) {
      nlohmann::json e = nlohmann::json::parse(context.store->get(fmt::format("{}/{}", phase, r)));
      endpoints[r].pid = e.value("pid", 0);
      endpoints[r].host = e.value("host", "");
      endpoints[r].cores = e.value("cores", std::vector<int>{});
      endpoints[r].shm = e.value("shm", "");
      endpoints[r].tcp = e.value("tcp", "");
    }
  };
  publish_and_collect("pid");
  for (int r = 0; r < size; ++r) options.pids.push_back(endpoints[r].pid);

  NativeLinks links;
  // Ranks of this communicator on this machine (emulated nodes included)
  // beyond its cores: a polling rank would hold the core its peer needs.
  // The cores are those any of them may use: ranks bound one per core
  // (as mpirun binds them) are not oversubscribed.
  int on_this_host = 0;
  std::set<int> host_cores;
  for (const Endpoint& e : endpoints) {
    if (e.host != endpoints[rank].host) continue;
    ++on_this_host;
    host_cores.insert(e.cores.begin(), e.cores.end());
  }
  const int cores = std::max<int>(1, static_cast<int>(host_cores.size()));
  if (on_this_host > cores) {
    links.spin = kOversubscribedSpin;
    links.yield = true;
    options.spin = std::chrono::nanoseconds::zero();  // the executor polls, yielding
    MYRIAD_LOG_DEBUG("communicator {}: {} ranks on this host, {} usable cores: waiters yield while polling",
                     context.comm_id, on_this_host, cores);
  }

  if (!local_peers.empty()) {
    links.shm = make_transport("shm", options);
    mine["shm"] = links.shm->address();
  }
  if (!remote_peers.empty()) {
    links.tcp = make_transport("tcp", options);
    mine["tcp"] = links.tcp->address();
  }
  publish_and_collect("endpoint");

  std::vector<std::string> addresses(size);
  if (links.shm) {
    for (int r = 0; r < size; ++r) addresses[r] = endpoints[r].shm;
    links.shm->connect(local_peers, addresses, deadline);
  }
  if (links.tcp) {
    for (int r = 0; r < size; ++r) addresses[r] = endpoints[r].tcp;
    links.tcp->connect(remote_peers, addresses, deadline);
  }

  links.transport_of.assign(size, nullptr);
  for (int r : local_peers) links.transport_of[r] = links.shm.get();
  for (int r : remote_peers) links.transport_of[r] = links.tcp.get();
  MYRIAD_LOG_DEBUG("communicator {}: connected {} shm and {} tcp peers", context.comm_id, local_peers.size(),
                   remote_peers.size());
  return links;
}

}  // namespace myriad
