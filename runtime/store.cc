#include "runtime/store.h"

#include <utility>

#include "runtime/error.h"

namespace myriad {

PrefixStore::PrefixStore(std::string prefix, std::shared_ptr<Store> base)
    : prefix_(std::move(prefix)), base_(std::move(base)) {
  if (base_ == nullptr) raise(ErrorCode::InvalidArgument, "PrefixStore '{}' needs a base store", prefix_);
}

void check_delete_prefix(std::string_view prefix, std::string_view address) {
  if (prefix.empty()) {
    raise(ErrorCode::InvalidArgument,
          "delete_prefix with an empty prefix on the store at {}: it would delete every key of every job",
          address);
  }
}

std::string PrefixStore::full(std::string_view key) const {
  std::string out;
  out.reserve(prefix_.size() + 1 + key.size());
  out.append(prefix_).push_back('/');
  out.append(key);
  return out;
}

std::vector<std::string> PrefixStore::full(const std::vector<std::string>& keys) const {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const std::string& key : keys) out.push_back(full(key));
  return out;
}

void PrefixStore::set(std::string_view key, std::string_view value) {
  base_->set(full(key), value);
}

std::string PrefixStore::get(std::string_view key, std::chrono::milliseconds timeout) {
  return base_->get(full(key), timeout);
}

int64_t PrefixStore::add(std::string_view key, int64_t delta) {
  return base_->add(full(key), delta);
}

std::string PrefixStore::compare_set(std::string_view key, std::string_view expected,
                                     std::string_view desired) {
  return base_->compare_set(full(key), expected, desired);
}

void PrefixStore::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  base_->wait(full(keys), timeout);
}

bool PrefixStore::check(const std::vector<std::string>& keys) {
  return base_->check(full(keys));
}

bool PrefixStore::delete_key(std::string_view key) {
  return base_->delete_key(full(key));
}

int64_t PrefixStore::delete_prefix(std::string_view prefix) {
  check_delete_prefix(prefix, address());  // "" would empty the whole view
  return base_->delete_prefix(full(prefix));
}

int64_t PrefixStore::num_keys() {
  return base_->num_keys();
}

std::chrono::milliseconds PrefixStore::timeout() const {
  return base_->timeout();
}

std::string PrefixStore::address() const {
  return base_->address();
}

}  // namespace myriad
