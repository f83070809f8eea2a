#include "runtime/etcd_store.h"

#include <dlfcn.h>
// Types only: libcurl is loaded when the first etcd store is made (curl_api()).
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// etcd refuses a transaction of more operations than this (--max-txn-ops).
constexpr size_t kMaxTxnOps = 128;
// A watch that saw nothing for this long is re-checked with a range: a
// member cut off from its leader may keep a quiet stream open.
constexpr milliseconds kWatchSegment{30'000};
constexpr milliseconds kFirstRetryDelay{20};
constexpr milliseconds kMaxRetryDelay{500};
// The longest pause of an add that lost to another client.
constexpr milliseconds kMaxAddBackoff{50};

// The reply of a member that refused to apply a put to a lease that has
// expired: the caller grants a new lease and tries again.
struct LeaseGone {};

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// etcd's gateway carries keys and values as standard base64 (RFC 4648, padded).
std::string base64(std::string_view bytes) {
  std::string out;
  out.reserve(4 * ((bytes.size() + 2) / 3));
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64[(n >> shift) & 63];
  }
  if (size_t left = bytes.size() - i; left > 0) {
    uint32_t n = uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (left == 2) n |= uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += left == 2 ? kBase64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string unbase64(std::string_view text, std::string_view what) {
  auto bad = [&] { raise(ErrorCode::PeerFailure, "{}: '{}' is not base64", what, text.substr(0, 80)); };
  if (text.size() % 4 != 0) bad();
  std::string out;
  out.reserve(3 * text.size() / 4);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        ++pad;
        n <<= 6;
        continue;
      }
      size_t digit = kBase64.find(c);
      if (digit == std::string_view::npos || pad > 0) bad();
      n = (n << 6) | static_cast<uint32_t>(digit);
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

// etcd's JSON writes int64 fields as strings and leaves out zero values.
int64_t int_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  const std::string& text = it->get_ref<const std::string&>();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    raise(ErrorCode::PeerFailure, "etcd field '{}' is '{}', not an integer", name, text);
  }
  return value;
}

// The first key after every key that starts with `prefix` (etcd's range_end).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto last = static_cast<unsigned char>(prefix.back());
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

json range_op(const std::string& key, bool count_only = false) {
  json range{{"key", base64(key)}};
  if (count_only) range["count_only"] = true;
  return json{{"request_range", std::move(range)}};
}

json put_op(const std::string& key, std::string_view value, int64_t lease = 0) {
  json put{{"key", base64(key)}, {"value", base64(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  return json{{"request_put", std::move(put)}};
}

// The one key-value a range response holds, if any.
const json* first_kv(const json& range) {
  auto kvs = range.find("kvs");
  if (kvs == range.end() || kvs->empty()) return nullptr;
  return &kvs->front();
}

std::string kv_value(const json& kv, std::string_view what) {
  auto it = kv.find("value");
  return it == kv.end() ? std::string() : unbase64(it->get_ref<const std::string&>(), what);
}

const json& response_range(const json& txn, size_t index) {
  const json& responses = txn.at("responses");
  return responses.at(index).at("response_range");
}

std::string random_id() {
  std::random_device device;
  return fmt::format("{:08x}{:08x}{:08x}", device(), device(), device());
}

// gRPC status codes a member answers with while the cluster elects a
// leader or the member is overloaded: another member, or a moment later,
// may succeed.
bool retryable_code(int64_t code) {
  return code == 1 || code == 2 || code == 4 || code == 8 || code == 10 || code == 13 || code == 14;
}

// libcurl's entry points, loaded once: a process that never makes an etcd
// store (every rank, and agents on the embedded store) never maps libcurl
// and what it pulls in (TLS, HTTP/2, ...).
struct CurlApi {
  decltype(&curl_global_init) global_init = nullptr;
  decltype(&curl_easy_init) easy_init = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  decltype(&curl_easy_perform) easy_perform = nullptr;
  decltype(&curl_easy_cleanup) easy_cleanup = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  decltype(&curl_easy_strerror) easy_strerror = nullptr;
  decltype(&curl_slist_append) slist_append = nullptr;
  decltype(&curl_slist_free_all) slist_free_all = nullptr;
};

template <typename F>
void load(void* library, const char* name, F& out) {
  void* symbol = ::dlsym(library, name);
  if (symbol == nullptr)
    raise(ErrorCode::Unavailable, "libcurl.so.4 has no symbol {}: {}", name, ::dlerror());
  out = reinterpret_cast<F>(symbol);
}

const CurlApi& curl_api() {
  static const CurlApi api = [] {
    void* library = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      raise(ErrorCode::Unavailable,
            "an etcd store needs libcurl (Debian: apt-get install libcurl4), which cannot be loaded: {}",
            ::dlerror());
    }
    CurlApi loaded;
    load(library, "curl_global_init", loaded.global_init);
    load(library, "curl_easy_init", loaded.easy_init);
    load(library, "curl_easy_setopt", loaded.easy_setopt);
    load(library, "curl_easy_perform", loaded.easy_perform);
    load(library, "curl_easy_cleanup", loaded.easy_cleanup);
    load(library, "curl_easy_getinfo", loaded.easy_getinfo);
    load(library, "curl_easy_strerror", loaded.easy_strerror);
    load(library, "curl_slist_append", loaded.slist_append);
    load(library, "curl_slist_free_all", loaded.slist_free_all);
    if (loaded.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      raise(ErrorCode::Internal, "libcurl failed to initialise");
    return loaded;
  }();
  return api;
}

}  // namespace

// One libcurl handle: POSTs JSON and hands the reply's bytes to a callback.
class EtcdStore::Http {
 public:
  Http() {
    curl_ = api_.easy_init();
    if (curl_ == nullptr) raise(ErrorCode::Internal, "libcurl could not make a handle");
    headers_ = api_.slist_append(nullptr, "Content-Type: application/json");
    headers_ = api_.slist_append(headers_, "Expect:");  // no 100-continue round trip
  }
  ~Http() {
    api_.slist_free_all(headers_);
    api_.easy_cleanup(curl_);
  }
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  struct Result {
    bool ok = false;       // a complete HTTP reply came back
    bool stopped = false;  // on_data asked to stop
    bool timed_out = false;
    long status = 0;
    std::string error;  // libcurl's message when !ok
  };

  // on_data returns false to end the transfer early (a watch that saw its key).
  Result post(const std::string& url, const std::string& body, milliseconds timeout,
              const std::function<bool(std::string_view)>& on_data) {
    Sink sink{&on_data, false};
    std::array<char, CURL_ERROR_SIZE> error{};
    api_.easy_setopt(curl_, CURLOPT_URL, url.c_str());
    api_.easy_setopt(curl_, CURLOPT_POST, 1L);
    api_.easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    api_.easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    api_.easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    api_.easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    api_.easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(timeout.count(), 1)));
    api_.easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::clamp<int64_t>(timeout.count(), 1, 2'000)));
    api_.easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Http::write);
    api_.easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
    api_.easy_setopt(curl_, CURLOPT_ERRORBUFFER, error.data());
    api_.easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http");
    CURLcode code = api_.easy_perform(curl_);
    Result result;
    if (sink.stopped) {
      result.stopped = true;
      return result;
    }
    if (code != CURLE_OK) {
      result.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      result.error = error[0] != '\0' ? std::string(error.data()) : std::string(api_.easy_strerror(code));
      return result;
    }
    api_.easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &result.status);
    result.ok = true;
    return result;
  }

 private:
  struct Sink {
    const std::function<bool(std::string_view)>* on_data;
    bool stopped;
  };
  static size_t write(char* data, size_t size, size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    size_t bytes = size * count;
    if (!(*sink->on_data)(std::string_view(data, bytes))) {
      sink->stopped = true;
      return 0;  // libcurl ends the transfer
    }
    return bytes;
  }

  const CurlApi& api_ = curl_api();
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
};

bool is_etcd_address(std::string_view address) {
  return address.starts_with(kEtcdScheme);
}

EtcdStoreOptions parse_etcd_address(std::string_view address, std::string_view what) {
  if (!is_etcd_address(address)) {
    raise(ErrorCode::InvalidArgument,
          "{} '{}' is not an etcd address: expected etcd://host:port[,host:port...]", what, address);
  }
  std::string_view rest = address.substr(kEtcdScheme.size());
  EtcdStoreOptions options;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view ns = rest.substr(slash + 1);
    while (ns.ends_with('/')) ns.remove_suffix(1);
    if (!ns.empty()) options.ns = std::string(ns);
    rest = rest.substr(0, slash);
  }
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view one = rest.substr(0, comma);
    if (one.empty()) raise(ErrorCode::InvalidArgument, "{} '{}' has an empty endpoint", what, address);
    options.endpoints.push_back(parse_host_port(one, what));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
    if (rest.empty()) raise(ErrorCode::InvalidArgument, "{} '{}' ends with a comma", what, address);
  }
  if (options.endpoints.empty()) {
    raise(ErrorCode::InvalidArgument, "{} '{}' names no endpoint: expected etcd://host:port[,host:port...]",
          what, address);
  }
  return options;
}

std::string etcd_address(const EtcdStoreOptions& options) {
  std::string out(kEtcdScheme);
  for (size_t i = 0; i < options.endpoints.size(); ++i) {
    if (i > 0) out += ',';
    out += options.endpoints[i].to_string();
  }
  out += '/';
  out += options.ns;
  return out;
}

EtcdStore::EtcdStore(EtcdStoreOptions options)
    : options_(std::move(options)), prefix_(options_.ns + "/"), http_(std::make_unique<Http>()) {
  if (options_.endpoints.empty())
    raise(ErrorCode::InvalidArgument, "an etcd store needs at least one endpoint");
  // Beside the namespace, not in it: num_keys and delete_prefix see only the caller's keys.
  marker_ = options_.ns + ".adds/" + random_id();
  // Clients spread over the members instead of all starting on the first.
  member_ = std::random_device{}() % options_.endpoints.size();
}

EtcdStore::~EtcdStore() = default;

std::string EtcdStore::address() const {
  return etcd_address(options_);
}

std::string EtcdStore::full(std::string_view key) const {
  std::string out = prefix_;
  out.append(key);
  return out;
}

json EtcdStore::post(std::string_view path, const std::string& body, std::string_view op,
                     std::string_view key, Deadline deadline) {
  std::lock_guard lock(mutex_);
  std::string last_error;
  std::string reply;
  milliseconds delay = kFirstRetryDelay;
  const size_t members = options_.endpoints.size();
  for (size_t attempt = 0;; ++attempt) {
    const HostPort& member = options_.endpoints[member_];
    Clock::time_point now = Clock::now();
    if (now >= deadline && attempt > 0) break;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
    milliseconds timeout = std::clamp(left, milliseconds(1), options_.request_timeout);
    reply.clear();
    Http::Result result = http_->post(fmt::format("http://{}{}", member.to_string(), path), body, timeout,
                                      [&reply](std::string_view data) {
                                        reply.append(data);
                                        return true;
                                      });
    if (result.ok) {
      json parsed = json::parse(reply, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        raise(ErrorCode::PeerFailure, "etcd member {} answered {} of '{}' with HTTP {} and no JSON: '{}'",
              member.to_string(), op, key, result.status, reply.substr(0, 200));
      }
      auto code = parsed.find("code");
      if (code == parsed.end() && result.status == 200) return parsed;
      int64_t status = code == parsed.end() ? 0 : int_field(parsed, "code");
      std::string message = parsed.value("message", parsed.value("error", reply.substr(0, 200)));
      if (message.find("lease not found") != std::string::npos) throw LeaseGone{};
      if (!retryable_code(status) && result.status != 503) {
        raise(ErrorCode::InvalidArgument, "etcd member {} refused {} of '{}': {} (code {})",
              member.to_string(), op, key, message, status);
      }
      last_error = fmt::format("{}: {} (code {})", member.to_string(), message, status);
    } else {
      last_error = fmt::format("{}: {}", member.to_string(), result.error);
    }
    MYRIAD_LOG_DEBUG("etcd {} of '{}' failed on {}; trying the next member", op, key, last_error);
    member_ = (member_ + 1) % members;
    // A full pass over the members failed: the cluster may be electing a leader.
    if ((attempt + 1) % members == 0) {
      now = Clock::now();
      if (now >= deadline) break;
      std::this_thread::sleep_for(std::min<Clock::duration>(delay, deadline - now));
      delay = std::min(delay * 2, kMaxRetryDelay);
    }
  }
  raise(ErrorCode::Unavailable, "no member of the etcd store at {} answered {} of '{}' in time: {}",
        address(), op, key, last_error);
}

void EtcdStore::set(std::string_view key, std::string_view value) {
  json body = put_op(full(key), value).at("request_put");
  post("/v3/kv/put", body.dump(), "set", key, deadline_after(options_.connect_timeout));
}

std::string EtcdStore::get(std::string_view key, milliseconds timeout) {
  return await_key(key, deadline_after(timeout), timeout);
}

std::string EtcdStore::await_key(std::string_view key, Deadline deadline, milliseconds timeout) {
  const std::string full_key = full(key);
  const std::string range = json{{"key", base64(full_key)}}.dump();
  while (true) {
    // The range is bounded by the connect timeout as well as the wait's own:
    // a cluster that answers nothing is Unavailable, not a missing key.
    Deadline reach = std::max(deadline, deadline_after(options_.connect_timeout));
    json reply = post("/v3/kv/range", range, "get", key, reach);
    if (const json* kv = first_kv(reply)) return kv_value(*kv, full_key);
    int64_t revision = int_field(reply.at("header"), "revision");
    Clock::time_point now = Clock::now();
    if (now >= deadline) break;
    HostPort member;
    {
      std::lock_guard lock(mutex_);
      member = options_.endpoints[member_];
    }
    json watch{
        {"create_request", {{"key", base64(full_key)}, {"start_revision", std::to_string(revision + 1)}}}};
    std::string buffer;
    std::optional<std::string> value;
    bool canceled = false;
    Http http;
    auto segment = std::min(std::chrono::duration_cast<milliseconds>(deadline - now), kWatchSegment);
    Http::Result result =
        http.post(fmt::format("http://{}/v3/watch", member.to_string()), watch.dump(), segment,
                  [&](std::string_view data) {
                    buffer.append(data);
                    size_t newline = 0;
                    while ((newline = buffer.find('\n')) != std::string::npos) {
                      json line = json::parse(std::string_view(buffer).substr(0, newline), nullptr, false);
                      buffer.erase(0, newline + 1);
                      if (!line.is_object()) continue;
                      const json& r = line.contains("result") ? line["result"] : line;
                      if (r.value("canceled", false) || line.contains("error")) {
                        canceled = true;
                        return false;
                      }
                      auto events = r.find("events");
                      if (events == r.end()) continue;
                      for (const json& event : *events) {
                        if (event.value("type", "PUT") == "PUT" && event.contains("kv")) {
                          value = kv_value(event["kv"], full_key);
                          return false;
                        }
                      }
                    }
                    return true;
                  });
    if (value) return *value;
    if (!result.stopped && !result.timed_out && !canceled) {
      // The member went away under the watch: the next range picks another.
      MYRIAD_LOG_DEBUG("etcd watch of '{}' on {} ended: {}", key, member.to_string(),
                       result.ok ? fmt::format("HTTP {}", result.status) : result.error);
      std::lock_guard lock(mutex_);
      if (options_.endpoints[member_] == member) member_ = (member_ + 1) % options_.endpoints.size();
    }
  }
  raise(ErrorCode::Timeout, "store at {}: get of '{}' timed out after {} ms: the key was never set",
        address(), key, timeout.count());
}

int64_t EtcdStore::marker_lease(Deadline deadline, bool renew) {
  {
    std::lock_guard lock(mutex_);
    if (lease_ != 0 && !renew) return lease_;
  }
  json grant{{"TTL", options_.marker_ttl.count()}};
  json reply = post("/v3/lease/grant", grant.dump(), "lease grant", "(add markers)", deadline);
  int64_t id = int_field(reply, "ID");
  std::lock_guard lock(mutex_);
  lease_ = id;
  return id;
}

int64_t EtcdStore::add(std::string_view key, int64_t delta) {
  // One add at a time per client: the marker says which of this client's adds was applied last.
  std::lock_guard serial(add_mutex_);
  const Deadline deadline = deadline_after(options_.connect_timeout);
  const std::string full_key = full(key);
  const int64_t seq = ++add_seq_;
  const std::string mine = fmt::format("{} ", seq);
  int64_t lease = marker_lease(deadline, false);
  json snapshot{{"success", json::array({range_op(full_key), range_op(marker_)})}};
  json reply = post("/v3/kv/txn", snapshot.dump(), "add", key, deadline);
  std::minstd_rand jitter(static_cast<uint32_t>(seq) ^
                          static_cast<uint32_t>(std::hash<std::string>{}(marker_)));
  int attempt = 0;
  while (true) {
    const json& counter = response_range(reply, 0);
    if (const json* marker = first_kv(response_range(reply, 1))) {
      std::string applied = kv_value(*marker, marker_);
      if (applied.starts_with(mine)) return std::stoll(applied.substr(mine.size()));
    }
    int64_t current = 0;
    int64_t mod_revision = 0;
    if (const json* kv = first_kv(counter)) {
      std::string text = kv_value(*kv, full_key);
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), current);
      if (ec != std::errc() || end != text.data() + text.size()) {
        raise(ErrorCode::InvalidArgument, "store at {}: add to '{}', which holds '{}', not an integer",
              address(), key, text);
      }
      mod_revision = int_field(*kv, "mod_revision");
    }
    int64_t next = 0;
    if (__builtin_add_overflow(current, delta, &next)) {
      raise(ErrorCode::InvalidArgument,
            "add({}) on store key '{}' holding {} overflows 64 bits (store at {})", delta, key, current,
            address());
    }
    json compare = mod_revision == 0
                       ? json{{"target", "CREATE"}, {"key", base64(full_key)}, {"create_revision", "0"}}
                       : json{{"target", "MOD"},
                              {"key", base64(full_key)},
                              {"mod_revision", std::to_string(mod_revision)}};
    json txn{{"compare", json::array({compare})},
             {"success", json::array({put_op(full_key, std::to_string(next)),
                                      put_op(marker_, mine + std::to_string(next), lease)})},
             {"failure", json::array({range_op(full_key), range_op(marker_)})}};
    if (attempt++ > 0) {
      // Another client won the last try: a random pause keeps many adders from colliding in step. It
      // stays short (a longer one, up to 1 s, left the unluckiest of 64 agents without a ticket past a
      // 1 s last call: fairness matters more here than the tries saved).
      auto cap = std::min<int64_t>(int64_t{1} << std::min(attempt, 6), kMaxAddBackoff.count());
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, cap * 1000)(jitter)));
    }
    try {
      reply = post("/v3/kv/txn", txn.dump(), "add", key, deadline);
    } catch (const LeaseGone&) {
      // The marker's lease expired (this client was quiet for marker_ttl): nothing was applied.
      lease = marker_lease(deadline, true);
      reply = post("/v3/kv/txn", snapshot.dump(), "add", key, deadline);
      continue;
    }
    if (reply.value("succeeded", false)) return next;
  }
}

std::string EtcdStore::compare_set(std::string_view key, std::string_view expected,
                                   std::string_view desired) {
  const Deadline deadline = deadline_after(options_.connect_timeout);
  const std::string full_key = full(key);
  auto attempt = [&](const json& compare) {
    json txn{{"compare", json::array({compare})},
             {"success", json::array({put_op(full_key, desired)})},
             {"failure", json::array({range_op(full_key)})}};
    return post("/v3/kv/txn", txn.dump(), "compare_set", key, deadline);
  };
  json reply = attempt(
      expected.empty() ? json{{"target", "CREATE"}, {"key", base64(full_key)}, {"create_revision", "0"}}
                       : json{{"target", "VALUE"}, {"key", base64(full_key)}, {"value", base64(expected)}});
  if (reply.value("succeeded", false)) return std::string(desired);
  const json* kv = first_kv(response_range(reply, 0));
  std::string value = kv == nullptr ? std::string() : kv_value(*kv, full_key);
  if (expected.empty() && kv != nullptr && value.empty()) {
    // An empty `expected` also matches a key that holds the empty string.
    reply = attempt(json{{"target", "VALUE"}, {"key", base64(full_key)}, {"value", ""}});
    if (reply.value("succeeded", false)) return std::string(desired);
    kv = first_kv(response_range(reply, 0));
    value = kv == nullptr ? std::string() : kv_value(*kv, full_key);
  }
  return value;
}

void EtcdStore::wait(const std::vector<std::string>& keys, milliseconds timeout) {
  const Deadline deadline = deadline_after(timeout);
  for (size_t i = 0; i < keys.size(); ++i) {
    try {
      await_key(keys[i], deadline, timeout);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::Timeout) throw;
      std::vector<std::string> missing;
      for (size_t j = i; j < keys.size(); ++j) {
        if (!check({keys[j]})) missing.push_back(keys[j]);
      }
      raise(ErrorCode::Timeout, "store at {}: wait timed out after {} ms for key(s) {}", address(),
            timeout.count(), fmt::join(missing, ", "));
    }
  }
}

bool EtcdStore::check(const std::vector<std::string>& keys) {
  const Deadline deadline = deadline_after(options_.connect_timeout);
  for (size_t first = 0; first < keys.size(); first += kMaxTxnOps) {
    size_t last = std::min(keys.size(), first + kMaxTxnOps);
    json ops = json::array();
    for (size_t i = first; i < last; ++i) ops.push_back(range_op(full(keys[i]), true));
    json reply = post("/v3/kv/txn", json{{"success", std::move(ops)}}.dump(), "check", keys[first], deadline);
    for (size_t i = first; i < last; ++i) {
      if (int_field(response_range(reply, i - first), "count") == 0) return false;
    }
  }
  return true;
}

bool EtcdStore::delete_key(std::string_view key) {
  json body{{"key", base64(full(key))}};
  json reply =
      post("/v3/kv/deleterange", body.dump(), "delete_key", key, deadline_after(options_.connect_timeout));
  return int_field(reply, "deleted") > 0;
}

int64_t EtcdStore::delete_prefix(std::string_view prefix) {
  check_delete_prefix(prefix, address());
  std::string first = full(prefix);
  json body{{"key", base64(first)}, {"range_end", base64(prefix_end(first))}};
  json reply = post("/v3/kv/deleterange", body.dump(), "delete_prefix", prefix,
                    deadline_after(options_.connect_timeout));
  return int_field(reply, "deleted");
}

int64_t EtcdStore::num_keys() {
  json body{{"key", base64(prefix_)}, {"range_end", base64(prefix_end(prefix_))}, {"count_only", true}};
  json reply =
      post("/v3/kv/range", body.dump(), "num_keys", prefix_, deadline_after(options_.connect_timeout));
  return int_field(reply, "count");
}

}  // namespace myriad
