// Store addresses: where the job's store is, as MYRIAD_STORE and
// --rdzv-endpoint give it, and the client that reaches it.
//
//   host:port                            a `myriad store` (TcpStore)
//   etcd://host:port[,host:port...][/ns] an etcd cluster (EtcdStore)
//
// Thread-safety: the functions are pure or make a new client each call.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/store.h"

namespace myriad {

struct StoreClientOptions {
  std::string token;                           // a TcpStore's job token (etcd has its own access control)
  std::chrono::milliseconds timeout{300'000};  // default for blocking calls
  std::chrono::milliseconds connect_timeout{60'000};  // to reach the store (an etcd member) at all
};

// Checks that `address` is one of the forms above; Error(InvalidArgument)
// naming `what` (a flag, a variable) otherwise.
void check_store_address(std::string_view address, std::string_view what);
// The host that clients reach the store at: the TCP store's, or the first
// etcd endpoint's.
std::string store_host(std::string_view address, std::string_view what);
// A client of the store at `address` (nothing is contacted until its first
// operation).
std::shared_ptr<Store> connect_store(std::string_view address, const StoreClientOptions& options,
                                     std::string_view what);

}  // namespace myriad
