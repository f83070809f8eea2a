// Forked worlds for the multi-process collectives tests.
//
// run_world() starts a TcpStoreServer in a child process (tests/harness
// StoreProcess, so that the test process forks its ranks with no other
// thread running), forks one real process per rank (tests/harness
// fork_ranks), and in each child joins a World through a TcpStore client
// and creates a Communicator, then runs the test's function. Node ids pick
// the transports exactly as in a job: ranks with the same node id talk over
// shared memory, others over TCP. Each world gets its own run id
// ("t<pid>-<n>"), so shared-memory segments of concurrent or earlier worlds
// never collide.
//
// A child reports what went wrong with Rank::report(): the line goes to
// stderr at once and is collected by the parent, so that the assertion
// message names the failing case without digging through the test log. The
// child's return value is its exit code: each test gives its failure kinds
// distinct codes (kRank* below, or its own).
//
// Not thread-safe: call run_world() from the test's main thread, before any
// other thread exists (the children are forks of the test process).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "runtime/error.h"
#include "runtime/world.h"
#include "tests/harness/process.h"

namespace myriad::test {

// Generous defaults: a healthy operation takes milliseconds even with eight
// ranks on two cores, so these only bound a hang.
inline constexpr std::chrono::milliseconds kDefaultOpTimeout{60'000};
inline constexpr std::chrono::milliseconds kDefaultStoreTimeout{60'000};
inline constexpr std::chrono::milliseconds kDefaultWorldTimeout{300'000};

// Exit codes shared by the tests' rank functions (failure_test adds its own, from 20).
inline constexpr int kRankOk = 0;
inline constexpr int kRankWrongResult = 10;    // an operation produced wrong data
inline constexpr int kRankOpFailed = 11;       // an operation that should succeed failed
inline constexpr int kRankSetupFailed = 12;    // world, communicator or split went wrong
inline constexpr int kRankWrongProperty = 13;  // rank, size, node, ... not as expected

// Where the ranks of a world live: the node id of each rank.
struct Layout {
  std::string name;                // test-name friendly: "shm4", "tcp3", "nodes3x2"
  std::vector<std::string> nodes;  // node id of rank r

  int size() const { return static_cast<int>(nodes.size()); }
  // Position of `rank` among the ranks of its node, and that node's rank count.
  int local_rank(int rank) const;
  int local_size(int rank) const;

  // n ranks on node "n0": shared memory only.
  static Layout one_node(int n);
  // n ranks on nodes "n0".."n<n-1>": TCP only.
  static Layout node_per_rank(int n);
  // `nodes` nodes of `per_node` consecutive ranks: both transports.
  static Layout blocks(int nodes, int per_node);
  static Layout of(std::string name, std::vector<std::string> nodes) {
    return {std::move(name), std::move(nodes)};
  }
};

// GoogleTest prints a layout parameter by its name.
void PrintTo(const Layout& layout, std::ostream* out);

struct WorldOptions {
  std::string backend{};  // empty: the default (native)
  std::chrono::milliseconds op_timeout = kDefaultOpTimeout;
  std::chrono::milliseconds store_timeout = kDefaultStoreTimeout;
  std::chrono::milliseconds world_timeout = kDefaultWorldTimeout;  // the whole fork, then SIGKILL
  bool create_communicator = true;
};

// What a rank's function gets, in the child.
class Rank {
 public:
  int rank = 0;
  int size = 1;
  Layout layout;
  std::shared_ptr<World> world;
  std::shared_ptr<Communicator> comm;  // null unless WorldOptions::create_communicator

  // Prints "rank R: line" to stderr and keeps it for the parent.
  void report(const std::string& line);
  // Number of report() calls so far.
  int reports() const { return reports_; }

 private:
  friend struct RankAccess;
  std::string report_path_;
  int reports_ = 0;
};

struct WorldResult {
  RanksResult ranks;
  std::vector<std::string> reports;  // what each rank reported, indexed by rank

  bool all_succeeded() const { return ranks.all_succeeded(); }
  // Exit status and reports of every rank, for an assertion message.
  std::string describe() const;
};

WorldResult run_world(const Layout& layout, const std::function<int(Rank&)>& fn,
                      const WorldOptions& options = {});

// How an operation ended: no error, or an error's code and message.
struct Outcome {
  bool ok = true;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
  std::string describe() const;  // "ok" or "[code] message"
};
// Waits for `work` (wait() itself is bounded by the operation's timeout).
Outcome outcome_of(Work& work);
// Runs `call` and catches a myriad::Error it throws.
Outcome outcome_of_call(const std::function<void()>& call);

// True when `message` names rank `peer`: "rank 2", "peer rank 2", "peer(s) 1, 2", "ranks [0, 2]".
bool names_rank(const std::string& message, int peer);
// True when `message` names sequence number `seq`: "#3", "seq 3", "sequence number 3", "slot 3".
bool names_seq(const std::string& message, uint64_t seq);
bool contains(const std::string& text, const std::string& part);

}  // namespace myriad::test
