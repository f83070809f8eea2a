// TorchStore: a myriad::Store over the torch.distributed store that
// init_process_group hands to a backend (a PrefixStore scoped to the process
// group), so that Myriad's World and Communicator rendezvous through the
// job's own store: no second store, no extra port.
//
// Timeouts and failures of the torch store become myriad::Error (Timeout,
// Unavailable) naming the keys. Thread-safe as the torch store is.
//
// JobStore is the other direction: a torch.distributed store over Myriad's
// own store client (MYRIAD_STORE, MYRIAD_TOKEN), so that under `myriad run`
// init_process_group rendezvouses through the launcher's store, whatever the
// backend. Myriad's Timeout becomes c10::DistStoreError. Thread-safe.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "runtime/store.h"

namespace myriad::torch_backend {

class TorchStore : public Store {
 public:
  explicit TorchStore(c10::intrusive_ptr<c10d::Store> store);

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

 private:
  c10::intrusive_ptr<c10d::Store> store_;
};

class JobStore : public c10d::Store {
 public:
  // Connects to the store the environment names (Error when none is set).
  explicit JobStore(std::chrono::milliseconds timeout);
  JobStore(std::shared_ptr<myriad::Store> store, std::chrono::milliseconds timeout);

  c10::intrusive_ptr<c10d::Store> clone() override;
  void set(const std::string& key, const std::vector<uint8_t>& value) override;
  std::vector<uint8_t> compareSet(const std::string& key, const std::vector<uint8_t>& expected,
                                  const std::vector<uint8_t>& desired) override;
  std::vector<uint8_t> get(const std::string& key) override;
  int64_t add(const std::string& key, int64_t value) override;
  bool deleteKey(const std::string& key) override;
  bool check(const std::vector<std::string>& keys) override;
  int64_t getNumKeys() override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  std::shared_ptr<myriad::Store> store_;
};

}  // namespace myriad::torch_backend
