// The registry of transports by name ("shm", "tcp", later "ucx").
//
// A communicator picks a transport per link class by name and builds it with
// make_transport(); nothing outside this registry names a concrete
// transport type. The built-in transports are registered on first use of
// the registry (not by static initialisers, which a static link may drop).
//
// Thread-safety: every function is thread-safe.
// Errors: registering a name twice, or making an unknown one, throws
// Error(InvalidArgument) naming it (and, for an unknown one, the known ones).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/native/transport.h"

namespace myriad {

using TransportFactory = std::function<std::unique_ptr<Transport>(const TransportOptions&)>;

void register_transport(std::string_view name, TransportFactory factory);
std::unique_ptr<Transport> make_transport(std::string_view name, const TransportOptions& options);
// Registered names, sorted.
std::vector<std::string> transport_names();

}  // namespace myriad
