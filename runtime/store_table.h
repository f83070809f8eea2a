// StoreTable: the key-value data of a store and the semantics of its
// operations (set, add, compare_set, delete, counts), in one place for both
// MemoryStore and TcpStoreServer so that every store behaves the same.
//
// It does not wait and does not lock: MemoryStore wraps it in a mutex and a
// condition variable, the server's single event-loop thread owns its table.
// Failure: add() on a value that is not a decimal integer, or one that would
// overflow, throws Error(InvalidArgument) and leaves the table unchanged.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace myriad {

class StoreTable {
 public:
  void set(std::string_view key, std::string_view value);
  // The value of key, or nullptr when absent. Valid until the next change.
  const std::string* find(std::string_view key) const;
  // The value of key, shared: it stays valid (and unchanged) after the key
  // is set again or deleted. nullptr when absent.
  std::shared_ptr<const std::string> share(std::string_view key) const;
  // Adds delta to the decimal integer at key (absent counts as 0), stores
  // the sum as decimal text and returns it.
  int64_t add(std::string_view key, int64_t delta);
  // If key holds `expected`, or is absent and `expected` is empty, sets it to
  // `desired`. Returns what key holds afterwards ("" when it stays absent)
  // and sets *changed when it wrote.
  std::string compare_set(std::string_view key, std::string_view expected, std::string_view desired,
                          bool* changed);
  bool erase(std::string_view key);
  // Erases every key that starts with `prefix`; returns how many.
  int64_t erase_prefix(std::string_view prefix);
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // The keys among `keys` that are absent, in the order given.
  std::vector<std::string> missing(const std::vector<std::string>& keys) const;
  int64_t size() const { return static_cast<int64_t>(values_.size()); }

 private:
  // Ordered, so that a prefix is one range. Values are immutable once
  // stored: a write replaces the pointer, and a reply still sending the old
  // value keeps its own reference.
  std::map<std::string, std::shared_ptr<const std::string>, std::less<>> values_;
};

// Throws Error(Timeout) for a wait that ran out: names the missing keys, the
// time waited and the store's address. Shared so that every store words it
// the same.
[[noreturn]] void raise_store_timeout(const std::vector<std::string>& missing,
                                      std::chrono::milliseconds timeout, std::string_view address);

}  // namespace myriad
