// MemoryStore: a Store inside this process, for a world of one and for tests.
//
// Same semantics as a TcpStore (both are built on StoreTable), no network.
// Thread-safe: one mutex guards the table; get() and wait() block on a
// condition variable that every write notifies, until their timeout, then
// throw Error(Timeout) naming the missing keys and address() ("memory").
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/store.h"
#include "runtime/store_table.h"

namespace myriad {

inline constexpr std::chrono::milliseconds kMemoryStoreDefaultTimeout{300'000};

class MemoryStore : public Store {
 public:
  explicit MemoryStore(std::chrono::milliseconds timeout = kMemoryStoreDefaultTimeout);

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
  std::chrono::milliseconds timeout() const override { return timeout_; }
  std::string address() const override { return "memory"; }

 private:
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable changed_;
  StoreTable table_;
};

}  // namespace myriad
