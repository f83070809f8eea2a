#include "runtime/counting_store.h"

#include <utility>

#include "runtime/error.h"

namespace myriad {

CountingStore::CountingStore(std::shared_ptr<Store> base) : base_(std::move(base)) {
  if (base_ == nullptr) raise(ErrorCode::InvalidArgument, "CountingStore needs a base store");
}

void CountingStore::count(size_t keys) {
  operations_.fetch_add(1, std::memory_order_relaxed);
  keys_.fetch_add(static_cast<int64_t>(keys), std::memory_order_relaxed);
}

void CountingStore::reset() {
  operations_ = 0;
  keys_ = 0;
}

void CountingStore::set(std::string_view key, std::string_view value) {
  count(1);
  base_->set(key, value);
}

std::string CountingStore::get(std::string_view key, std::chrono::milliseconds timeout) {
  count(1);
  return base_->get(key, timeout);
}

int64_t CountingStore::add(std::string_view key, int64_t delta) {
  count(1);
  return base_->add(key, delta);
}

std::string CountingStore::compare_set(std::string_view key, std::string_view expected,
                                       std::string_view desired) {
  count(1);
  return base_->compare_set(key, expected, desired);
}

void CountingStore::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  count(keys.size());
  base_->wait(keys, timeout);
}

bool CountingStore::check(const std::vector<std::string>& keys) {
  count(keys.size());
  return base_->check(keys);
}

bool CountingStore::delete_key(std::string_view key) {
  count(1);
  return base_->delete_key(key);
}

int64_t CountingStore::delete_prefix(std::string_view prefix) {
  count(1);
  return base_->delete_prefix(prefix);
}

int64_t CountingStore::num_keys() {
  count(0);
  return base_->num_keys();
}

std::chrono::milliseconds CountingStore::timeout() const {
  return base_->timeout();
}

std::string CountingStore::address() const {
  return base_->address();
}

}  // namespace myriad
