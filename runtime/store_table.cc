#include "runtime/store_table.h"

#include <fmt/ranges.h>

#include <charconv>
#include <string>

#include "runtime/error.h"

namespace myriad {

void StoreTable::set(std::string_view key, std::string_view value) {
  auto stored = std::make_shared<const std::string>(value);
  auto it = values_.find(key);
  if (it == values_.end()) {
    values_.emplace(std::string(key), std::move(stored));
  } else {
    it->second = std::move(stored);
  }
}

const std::string* StoreTable::find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const std::string> StoreTable::share(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : it->second;
}

int64_t StoreTable::add(std::string_view key, int64_t delta) {
  int64_t current = 0;
  if (const std::string* value = find(key)) {
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), current);
    if (value->empty() || ec != std::errc() || end != value->data() + value->size()) {
      raise(ErrorCode::InvalidArgument, "add({}) on store key '{}' whose value '{}' is not a decimal integer",
            delta, key, *value);
    }
  }
  int64_t sum = 0;
  if (__builtin_add_overflow(current, delta, &sum)) {
    raise(ErrorCode::InvalidArgument, "add({}) on store key '{}' holding {} overflows 64 bits", delta, key,
          current);
  }
  set(key, std::to_string(sum));
  return sum;
}

std::string StoreTable::compare_set(std::string_view key, std::string_view expected, std::string_view desired,
                                    bool* changed) {
  *changed = false;
  const std::string* value = find(key);
  if ((value == nullptr && expected.empty()) || (value != nullptr && *value == expected)) {
    set(key, desired);
    *changed = true;
    return std::string(desired);
  }
  return value == nullptr ? std::string() : *value;
}

bool StoreTable::erase(std::string_view key) {
  auto it = values_.find(key);
  if (it == values_.end()) return false;
  values_.erase(it);
  return true;
}

int64_t StoreTable::erase_prefix(std::string_view prefix) {
  auto first = values_.lower_bound(prefix);
  auto last = first;
  int64_t count = 0;
  while (last != values_.end() && std::string_view(last->first).starts_with(prefix)) {
    ++last;
    ++count;
  }
  values_.erase(first, last);
  return count;
}

std::vector<std::string> StoreTable::missing(const std::vector<std::string>& keys) const {
  std::vector<std::string> out;
  for (const std::string& key : keys) {
    if (!contains(key)) out.push_back(key);
  }
  return out;
}

void raise_store_timeout(const std::vector<std::string>& missing, std::chrono::milliseconds timeout,
                         std::string_view address) {
  raise(ErrorCode::Timeout, "timed out after {} ms waiting for key{} '{}' in the store at {}",
        timeout.count(), missing.size() == 1 ? "" : "s", fmt::join(missing, "', '"), address);
}

}  // namespace myriad
