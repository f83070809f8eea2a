#include "tests/collectives/world_fixture.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string_view>

#include "runtime/tcp_store.h"
#include "tests/harness/store_process.h"

namespace myriad::test {

struct RankAccess {
  static void set_report_path(Rank& rank, std::string path) { rank.report_path_ = std::move(path); }
};

namespace {

constexpr char kToken[] = "collectives-test-token";
// The store process is up before any rank starts, so connecting succeeds at
// once; the bound only matters when it died.
constexpr std::chrono::milliseconds kConnectTimeout{10'000};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int Layout::local_rank(int rank) const {
  int index = 0;
  for (int r = 0; r < rank; ++r) index += nodes[r] == nodes[rank] ? 1 : 0;
  return index;
}

int Layout::local_size(int rank) const {
  int count = 0;
  for (const std::string& node : nodes) count += node == nodes[rank] ? 1 : 0;
  return count;
}

Layout Layout::one_node(int n) {
  return {fmt::format("shm{}", n), std::vector<std::string>(n, "n0")};
}

Layout Layout::node_per_rank(int n) {
  Layout layout{fmt::format("tcp{}", n), {}};
  for (int r = 0; r < n; ++r) layout.nodes.push_back(fmt::format("n{}", r));
  return layout;
}

Layout Layout::blocks(int nodes, int per_node) {
  Layout layout{fmt::format("nodes{}x{}", nodes, per_node), {}};
  for (int node = 0; node < nodes; ++node) {
    for (int i = 0; i < per_node; ++i) layout.nodes.push_back(fmt::format("n{}", node));
  }
  return layout;
}

void PrintTo(const Layout& layout, std::ostream* out) {
  *out << layout.name << " [" << fmt::format("{}", fmt::join(layout.nodes, ", ")) << "]";
}

void Rank::report(const std::string& line) {
  ++reports_;
  std::string text = fmt::format("rank {}: {}\n", rank, line);
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  if (!report_path_.empty()) {
    std::ofstream out(report_path_, std::ios::app);
    out << text;
  }
}

std::string WorldResult::describe() const {
  std::string out = ranks.describe();
  for (const std::string& report : reports) {
    if (!report.empty()) out += report;
  }
  return out;
}

WorldResult run_world(const Layout& layout, const std::function<int(Rank&)>& fn,
                      const WorldOptions& options) {
  static std::atomic<int> worlds{0};
  const std::string run_id = fmt::format("t{}-{}", ::getpid(), worlds.fetch_add(1));
  TempDir dir;
  StoreProcess server(kToken);
  const uint16_t port = server.port();

  WorldResult result;
  result.ranks = fork_ranks(
      layout.size(),
      [&](int rank) {
        Rank self;
        self.rank = rank;
        self.size = layout.size();
        self.layout = layout;
        RankAccess::set_report_path(self, fmt::format("{}/rank{}.txt", dir.path(), rank));
        try {
          BootstrapInfo info;
          info.rank = rank;
          info.world_size = layout.size();
          info.local_rank = layout.local_rank(rank);
          info.local_world_size = layout.local_size(rank);
          info.node = layout.nodes[rank];
          info.source = "test";
          info.run_id = run_id;
          auto store = std::make_shared<TcpStore>(TcpStoreOptions{.port = port,
                                                                  .token = kToken,
                                                                  .timeout = options.store_timeout,
                                                                  .connect_timeout = kConnectTimeout});
          self.world = World::join(info, store);
          if (options.create_communicator) {
            self.comm = Communicator::create(
                self.world, CommunicatorOptions{.backend = options.backend, .timeout = options.op_timeout});
          }
        } catch (const std::exception& e) {
          self.report(fmt::format("setup failed: {}", e.what()));
          return kRankSetupFailed;
        }
        try {
          return fn(self);
        } catch (const std::exception& e) {
          self.report(fmt::format("uncaught exception: {}", e.what()));
          return kRankExceptionExit;
        }
      },
      options.world_timeout);

  for (int r = 0; r < layout.size(); ++r) {
    result.reports.push_back(read_file(fmt::format("{}/rank{}.txt", dir.path(), r)));
  }
  return result;
}

std::string Outcome::describe() const {
  if (ok) return "ok";
  return fmt::format("[{}] {}", error_code_name(code), message);
}

Outcome outcome_of(Work& work) {
  return outcome_of_call([&] { work.wait(); });
}

Outcome outcome_of_call(const std::function<void()>& call) {
  try {
    call();
    return {};
  } catch (const Error& error) {
    return {.ok = false, .code = error.code(), .message = error.message()};
  } catch (const std::exception& error) {
    return {.ok = false,
            .code = ErrorCode::Internal,
            .message = fmt::format("not a myriad::Error: {}", error.what())};
  }
}

namespace {

// Parses the decimal number at `at`; nullopt when there is none. `at` moves past it.
std::optional<uint64_t> number_at(const std::string& text, size_t& at) {
  size_t end = at;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == at) return std::nullopt;
  const uint64_t value = std::stoull(text.substr(at, end - at));
  at = end;
  return value;
}

bool skip(const std::string& text, size_t& at, std::string_view word) {
  if (text.compare(at, word.size(), word) != 0) return false;
  at += word.size();
  return true;
}

}  // namespace

bool names_rank(const std::string& message, int peer) {
  // "rank 2", "ranks [1, 2]", "peer rank 2", "peer(s) 1, 2", "peers: 2".
  for (std::string_view word : {"rank", "peer"}) {
    for (size_t at = message.find(word); at != std::string::npos; at = message.find(word, at + 1)) {
      size_t i = at + word.size();
      if (!skip(message, i, "(s)")) skip(message, i, "s");
      skip(message, i, " rank");
      skip(message, i, ":");
      if (!skip(message, i, " ")) continue;
      skip(message, i, "[");
      while (std::optional<uint64_t> value = number_at(message, i)) {
        if (*value == static_cast<uint64_t>(peer)) return true;
        if (!skip(message, i, ", ")) break;
      }
    }
  }
  return false;
}

bool names_seq(const std::string& message, uint64_t seq) {
  // "#3", "seq 3", "sequence 3", "sequence number 3", "slot 3".
  for (std::string_view word : {"#", "seq ", "sequence ", "sequence number ", "slot "}) {
    for (size_t at = message.find(word); at != std::string::npos; at = message.find(word, at + 1)) {
      size_t i = at + word.size();
      if (number_at(message, i) == seq) return true;
    }
  }
  return false;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace myriad::test
