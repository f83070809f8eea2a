// Store: the rendezvous key-value store through which ranks and agents find
// each other (endpoints, counters, barriers, rendezvous rounds).
//
// Keys are strings; values are byte strings (binary-safe std::string).
// Every blocking call takes a timeout; the overloads without one use the
// store's default (MYRIAD_TIMEOUT). A call that runs out of time throws
// Error(Timeout) naming the keys and the store's address; a store that
// cannot be reached throws Error(Unavailable).
//
// Implementations are thread-safe: calls from several threads are allowed
// (a TcpStore serializes them on its one connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace myriad {

class Store {
 public:
  virtual ~Store() = default;

  // Sets key to value, waking every waiter on key.
  virtual void set(std::string_view key, std::string_view value) = 0;
  // Returns the value of key, waiting for it to be set.
  virtual std::string get(std::string_view key, std::chrono::milliseconds timeout) = 0;
  std::string get(std::string_view key) { return get(key, timeout()); }
  // Atomically adds delta to the integer stored at key (absent counts as 0)
  // and returns the new value. The value is stored as decimal text.
  virtual int64_t add(std::string_view key, int64_t delta) = 0;
  // Atomically: if key holds `expected` (or is absent and `expected` is
  // empty), sets it to `desired`. Returns the value key holds afterwards.
  virtual std::string compare_set(std::string_view key, std::string_view expected,
                                  std::string_view desired) = 0;
  // Waits until every key is set; throws Timeout naming the missing keys.
  virtual void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) = 0;
  void wait(const std::vector<std::string>& keys) { wait(keys, timeout()); }
  // True when every key is set, without waiting.
  virtual bool check(const std::vector<std::string>& keys) = 0;
  // Deletes key; returns whether it existed.
  virtual bool delete_key(std::string_view key) = 0;
  // Deletes every key that starts with `prefix` and returns how many there
  // were; waiters on them keep waiting. An empty prefix is refused
  // (Error(InvalidArgument)): it would delete every job's keys.
  virtual int64_t delete_prefix(std::string_view prefix) = 0;
  // Number of keys in the whole store (not only under a prefix).
  virtual int64_t num_keys() = 0;

  // The default timeout of blocking calls.
  virtual std::chrono::milliseconds timeout() const = 0;
  // "host:port" or another description used in error messages.
  virtual std::string address() const = 0;
};

// Throws Error(InvalidArgument) for an empty delete_prefix prefix; every
// store checks it the same way before it deletes anything.
void check_delete_prefix(std::string_view prefix, std::string_view address);

// A view of another store in which every key is prefixed with "<prefix>/".
// Shares the underlying store; thread-safe when it is.
class PrefixStore : public Store {
 public:
  PrefixStore(std::string prefix, std::shared_ptr<Store> base);

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
  std::chrono::milliseconds timeout() const override;
  std::string address() const override;

  const std::string& prefix() const { return prefix_; }

 private:
  std::string full(std::string_view key) const;
  std::vector<std::string> full(const std::vector<std::string>& keys) const;

  std::string prefix_;
  std::shared_ptr<Store> base_;
};

}  // namespace myriad
