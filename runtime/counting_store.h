// CountingStore: a Store that forwards every call to another and counts
// them, for the control plane's scale benchmarks and tests (how many store
// operations one agent makes per rendezvous round).
//
// Thread-safe when the base store is; the counters are atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/store.h"

namespace myriad {

class CountingStore : public Store {
 public:
  explicit CountingStore(std::shared_ptr<Store> base);

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

  // Calls made so far (each request counts one, whatever it carries), and
  // the keys they named (a wait or check on K keys names K).
  int64_t operations() const { return operations_.load(); }
  int64_t keys_named() const { return keys_.load(); }
  void reset();

 private:
  void count(size_t keys);

  std::shared_ptr<Store> base_;
  std::atomic<int64_t> operations_{0};
  std::atomic<int64_t> keys_{0};
};

}  // namespace myriad
