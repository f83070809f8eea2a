#include "runtime/memory_store.h"

#include "runtime/net.h"

namespace myriad {

MemoryStore::MemoryStore(std::chrono::milliseconds timeout) : timeout_(timeout) {}

void MemoryStore::set(std::string_view key, std::string_view value) {
  {
    std::lock_guard lock(mutex_);
    table_.set(key, value);
  }
  changed_.notify_all();
}

std::string MemoryStore::get(std::string_view key, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_until(lock, deadline_after(timeout), [&] { return table_.contains(key); })) {
    raise_store_timeout({std::string(key)}, timeout, address());
  }
  return *table_.find(key);
}

int64_t MemoryStore::add(std::string_view key, int64_t delta) {
  int64_t value;
  {
    std::lock_guard lock(mutex_);
    value = table_.add(key, delta);
  }
  changed_.notify_all();
  return value;
}

std::string MemoryStore::compare_set(std::string_view key, std::string_view expected,
                                     std::string_view desired) {
  bool changed = false;
  std::string value;
  {
    std::lock_guard lock(mutex_);
    value = table_.compare_set(key, expected, desired, &changed);
  }
  if (changed) changed_.notify_all();
  return value;
}

void MemoryStore::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_until(lock, deadline_after(timeout), [&] { return table_.missing(keys).empty(); })) {
    raise_store_timeout(table_.missing(keys), timeout, address());
  }
}

bool MemoryStore::check(const std::vector<std::string>& keys) {
  std::lock_guard lock(mutex_);
  return table_.missing(keys).empty();
}

bool MemoryStore::delete_key(std::string_view key) {
  std::lock_guard lock(mutex_);
  return table_.erase(key);
}

int64_t MemoryStore::delete_prefix(std::string_view prefix) {
  check_delete_prefix(prefix, address());
  std::lock_guard lock(mutex_);
  return table_.erase_prefix(prefix);
}

int64_t MemoryStore::num_keys() {
  std::lock_guard lock(mutex_);
  return table_.size();
}

}  // namespace myriad
