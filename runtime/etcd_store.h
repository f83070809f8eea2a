// EtcdStore: a Store kept in an etcd cluster, for a control plane that
// outlives the loss of any one machine (`--rdzv-backend etcd`).
//
// It speaks etcd's v3 API through the cluster's JSON gateway (HTTP POST of
// JSON to /v3/kv/..., keys and values base64) with libcurl. The address is
// "etcd://host:port[,host:port...][/namespace]": every key lives under
// "<namespace>/" ("myriad/" when none is given), so one cluster can hold
// other users' keys beside Myriad's.
//
// How each operation maps onto etcd:
//   set            put
//   get, wait      range; for a key still missing, a watch from the next
//                  revision (woken by the put, no polling)
//   add            a transaction guarded by the key's mod_revision, retried
//                  when another client won; it also writes this client's
//                  marker (the add's sequence number and result), so that an
//                  add whose reply was lost to a failing member is never
//                  applied twice: the retry reads the marker first
//   compare_set    a transaction on the value (on create_revision == 0 for
//                  an empty `expected`)
//   check          one transaction of count-only ranges
//   delete_key,
//   delete_prefix  deleterange (a prefix's range_end is the prefix plus one)
//   num_keys       a count-only range over the namespace
// The markers live beside the namespace ("<ns>.adds/<client>", one key per
// client, so num_keys and delete_prefix never see them) under a lease of
// this client (marker_ttl): they vanish once it is gone. Under contention
// an add retries with a random pause of up to 50 ms; N clients adding to
// one key at once cost O(N^2) transactions in the worst case (etcd has no
// atomic increment).
//
// Failover: a request goes to one member at a time; a member that cannot be
// reached, does not answer within request_timeout, or answers that it has
// no leader is left for the next one, round-robin, until the operation's
// deadline (connect_timeout; for get and wait their own timeout). Every
// request is safe to repeat on another member (add through its marker). A
// cluster with no member answering by then is Error(Unavailable) naming the
// endpoints and the last member's error; an answer that is not etcd's JSON
// is Error(PeerFailure) naming the member.
//
// etcd's own access control (TLS, users) protects the cluster; the job's
// token is not presented to it.
//
// Thread-safety: thread-safe. Requests that do not block share one HTTP
// connection under a mutex; each blocking get or wait opens its own watch
// connection, so a waiting thread never holds up the others.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/net.h"
#include "runtime/store.h"

namespace myriad {

inline constexpr std::string_view kEtcdScheme = "etcd://";
inline constexpr std::chrono::milliseconds kEtcdRequestTimeout{5'000};
inline constexpr std::chrono::seconds kEtcdMarkerTtl{600};

struct EtcdStoreOptions {
  std::vector<HostPort> endpoints;                                  // the cluster's client URLs (http)
  std::string ns = "myriad";                                        // every key lives under "<ns>/"
  std::chrono::milliseconds timeout{300'000};                       // default for blocking calls
  std::chrono::milliseconds connect_timeout{60'000};                // to find a member that answers
  std::chrono::milliseconds request_timeout = kEtcdRequestTimeout;  // one member, one request
  std::chrono::seconds marker_ttl = kEtcdMarkerTtl;
};

// True for an "etcd://..." address.
bool is_etcd_address(std::string_view address);
// Parses "etcd://host:port[,host:port...][/namespace]" into endpoints and a
// namespace; `what` names the source in errors (a flag, a variable).
EtcdStoreOptions parse_etcd_address(std::string_view address, std::string_view what);
// "etcd://h1:p1,h2:p2/ns".
std::string etcd_address(const EtcdStoreOptions& options);

class EtcdStore : public Store {
 public:
  explicit EtcdStore(EtcdStoreOptions options);
  ~EtcdStore() override;
  EtcdStore(const EtcdStore&) = delete;
  EtcdStore& operator=(const EtcdStore&) = delete;

  void set(std::string_view key, std::string_view value) override;
  std::string get(std::string_view key, std::chrono::milliseconds timeout) override;
  using Store::get;
  int64_t add(std::string_view key, int64_t delta) override;
  std::string compare_set(std::string_view key, std::string_view expected, std::string_view desired) override;
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;
  using Store::wait;
  bool check(const std::vector<std::string>& keys) override;
  bool delete_key(std::string_view key) override;
  int64_t delete_prefix(std::string_view prefix) override;
  int64_t num_keys() override;
  std::chrono::milliseconds timeout() const override { return options_.timeout; }
  std::string address() const override;

 private:
  class Http;
  // POSTs `body` to `path` on the members in turn until one answers or
  // `deadline` passes; returns the parsed JSON. `op` and `key` name the
  // request in errors.
  nlohmann::json post(std::string_view path, const std::string& body, std::string_view op,
                      std::string_view key, Deadline deadline);
  // The value of `key` once it exists (a watch while it does not); throws
  // Timeout at the deadline.
  std::string await_key(std::string_view key, Deadline deadline, std::chrono::milliseconds timeout);
  // The lease this client's add markers live under, granted when needed.
  int64_t marker_lease(Deadline deadline, bool renew);
  std::string full(std::string_view key) const;

  EtcdStoreOptions options_;
  std::string prefix_;        // ns + "/"
  std::string marker_;        // this client's marker key (full)
  mutable std::mutex mutex_;  // guards what follows
  std::unique_ptr<Http> http_;
  size_t member_ = 0;     // the member to try first
  int64_t lease_ = 0;     // 0: none granted yet
  std::mutex add_mutex_;  // one add at a time: guards add_seq_
  int64_t add_seq_ = 0;
};

}  // namespace myriad
