#include "collectives/native/transport_registry.h"

#include <map>
#include <mutex>

#include <fmt/ranges.h>

#include "collectives/native/shm_transport.h"
#include "collectives/native/tcp_transport.h"

namespace myriad {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, TransportFactory, std::less<>> factories;
};

void add(Registry& registry, std::string_view name, TransportFactory factory) {
  if (!registry.factories.emplace(std::string(name), std::move(factory)).second) {
    raise(ErrorCode::InvalidArgument, "transport '{}' is registered twice", name);
  }
}

Registry& registry() {
  static Registry* instance = [] {
    auto* r = new Registry;  // never destroyed: transports may be made during static destruction
    add(*r, "shm", [](const TransportOptions& options) { return std::make_unique<ShmTransport>(options); });
    add(*r, "tcp", [](const TransportOptions& options) { return std::make_unique<TcpTransport>(options); });
    return r;
  }();
  return *instance;
}

}  // namespace

void register_transport(std::string_view name, TransportFactory factory) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  add(r, name, std::move(factory));
}

std::unique_ptr<Transport> make_transport(std::string_view name, const TransportOptions& options) {
  Registry& r = registry();
  TransportFactory factory;
  {
    std::lock_guard lock(r.mutex);
    const auto it = r.factories.find(name);
    if (it == r.factories.end()) {
      std::vector<std::string> known;
      for (const auto& [key, value] : r.factories) known.push_back(key);
      raise(ErrorCode::InvalidArgument, "unknown transport '{}' (known: {})", name, fmt::join(known, ", "));
    }
    factory = it->second;
  }
  return factory(options);
}

std::vector<std::string> transport_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [key, value] : r.factories) names.push_back(key);
  return names;
}

}  // namespace myriad
