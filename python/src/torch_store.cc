#include "python/src/torch_store.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/bootstrap.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/tcp_store.h"

namespace myriad::torch_backend {
namespace {

std::vector<uint8_t> bytes(std::string_view text) {
  return {text.begin(), text.end()};
}
std::string text(const std::vector<uint8_t>& data) {
  return {data.begin(), data.end()};
}

// Runs a torch store call, turning torch's errors into Myriad's.
template <typename Fn>
auto guarded(std::string_view what, const std::vector<std::string>& keys, Fn&& fn) {
  try {
    return fn();
  } catch (const c10::DistStoreError& e) {
    raise(ErrorCode::Timeout, "torch.distributed store: {} of key(s) {} failed: {}", what,
          fmt::join(keys, ", "), e.what_without_backtrace());
  } catch (const c10::Error& e) {
    raise(ErrorCode::Unavailable, "torch.distributed store: {} of key(s) {} failed: {}", what,
          fmt::join(keys, ", "), e.what_without_backtrace());
  }
}

}  // namespace

TorchStore::TorchStore(c10::intrusive_ptr<c10d::Store> store) : store_(std::move(store)) {}

void TorchStore::set(std::string_view key, std::string_view value) {
  guarded("set", {std::string(key)}, [&] { store_->set(std::string(key), bytes(value)); });
}

std::string TorchStore::get(std::string_view key, std::chrono::milliseconds timeout) {
  std::vector<std::string> keys = {std::string(key)};
  return guarded("get", keys, [&] {
    store_->wait(keys, timeout);
    return text(store_->get(keys[0]));
  });
}

int64_t TorchStore::add(std::string_view key, int64_t delta) {
  return guarded("add", {std::string(key)}, [&] { return store_->add(std::string(key), delta); });
}

std::string TorchStore::compare_set(std::string_view key, std::string_view expected,
                                    std::string_view desired) {
  return guarded("compare_set", {std::string(key)},
                 [&] { return text(store_->compareSet(std::string(key), bytes(expected), bytes(desired))); });
}

void TorchStore::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  guarded("wait", keys, [&] { store_->wait(keys, timeout); });
}

bool TorchStore::check(const std::vector<std::string>& keys) {
  return guarded("check", keys, [&] { return store_->check(keys); });
}

bool TorchStore::delete_key(std::string_view key) {
  return guarded("delete", {std::string(key)}, [&] { return store_->deleteKey(std::string(key)); });
}

int64_t TorchStore::delete_prefix(std::string_view prefix) {
  // torch's Store interface lists no keys and deletes one at a time: a
  // process group built on a store the user passed has no way to find them.
  raise(ErrorCode::NotSupported,
        "delete_prefix('{}') on the torch store at {}: torch's Store cannot delete keys by prefix", prefix,
        address());
}

int64_t TorchStore::num_keys() {
  return guarded("num_keys", {}, [&] { return store_->getNumKeys(); });
}

std::chrono::milliseconds TorchStore::timeout() const {
  return store_->getTimeout();
}

std::string TorchStore::address() const {
  return "the torch.distributed store";
}

namespace {

// Runs a Myriad store call, turning Myriad's errors into torch's.
template <typename Fn>
auto to_torch(Fn&& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::Timeout) throw c10::DistStoreError(std::string("myriad: ") + e.what());
    throw c10::DistNetworkError(std::string("myriad: ") + e.what());
  }
}

// Each restart of the ranks (MYRIAD_RESTART_COUNT: the agent's round) gets its own keys: torch's
// store-based barriers count with add(), and a count left by the previous round would let them
// pass early.
std::shared_ptr<myriad::Store> store_from_env(std::chrono::milliseconds timeout) {
  Env env = Env::process();
  TcpStoreOptions options = TcpStoreOptions::from_env(env);
  options.timeout = timeout;
  int64_t round = config::read_int(env, "MYRIAD_RESTART_COUNT", 0);
  std::shared_ptr<myriad::Store> store = std::make_shared<TcpStore>(options);
  // A store may serve several jobs: this one's keys stay under its run id.
  if (std::string run_id = detect_run_id(env); !run_id.empty()) {
    store = std::make_shared<PrefixStore>(job_store_prefix(run_id), store);
  }
  return std::make_shared<PrefixStore>(fmt::format("torch/{}", round), store);
}

}  // namespace

JobStore::JobStore(std::chrono::milliseconds timeout) : JobStore(store_from_env(timeout), timeout) {}

JobStore::JobStore(std::shared_ptr<myriad::Store> store, std::chrono::milliseconds timeout)
    : c10d::Store(timeout), store_(std::move(store)) {}

c10::intrusive_ptr<c10d::Store> JobStore::clone() {
  return c10::make_intrusive<JobStore>(store_, timeout_);
}

void JobStore::set(const std::string& key, const std::vector<uint8_t>& value) {
  to_torch([&] { store_->set(key, text(value)); });
}

std::vector<uint8_t> JobStore::compareSet(const std::string& key, const std::vector<uint8_t>& expected,
                                          const std::vector<uint8_t>& desired) {
  return to_torch([&] { return bytes(store_->compare_set(key, text(expected), text(desired))); });
}

std::vector<uint8_t> JobStore::get(const std::string& key) {
  return to_torch([&] { return bytes(store_->get(key, timeout_)); });
}

int64_t JobStore::add(const std::string& key, int64_t value) {
  return to_torch([&] { return store_->add(key, value); });
}

bool JobStore::deleteKey(const std::string& key) {
  return to_torch([&] { return store_->delete_key(key); });
}

bool JobStore::check(const std::vector<std::string>& keys) {
  return to_torch([&] { return store_->check(keys); });
}

int64_t JobStore::getNumKeys() {
  return to_torch([&] { return store_->num_keys(); });
}

void JobStore::wait(const std::vector<std::string>& keys) {
  wait(keys, timeout_);
}

void JobStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  to_torch([&] { store_->wait(keys, timeout); });
}

}  // namespace myriad::torch_backend
