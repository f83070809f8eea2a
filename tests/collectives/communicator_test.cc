// Communicator basics on real processes: identity (rank, size, local rank
// and size, node), split (colors, key order, negative colors), collectives
// on split communicators of different colors at the same time, and several
// communicators of one world in use at once.
#include "collectives/communicator.h"

#include <gtest/gtest.h>

#include <numeric>

#include "runtime/memory_store.h"
#include "tests/collectives/world_fixture.h"

namespace myriad::test {
namespace {

// Sum of `mine` over the communicator (allreduce of one i64).
int64_t sum_over(Communicator& comm, int64_t mine) {
  int64_t value = mine;
  comm.allreduce(TensorView{&value, 1, DType::I64})->wait();
  return value;
}

int64_t sum_of(const std::vector<int>& values) {
  return std::accumulate(values.begin(), values.end(), int64_t{0});
}

// Checks that `sub` is the communicator of world ranks `members` (in that
// order) as seen by world rank `self.rank`.
int check_members(Rank& self, const std::string& what, Communicator* sub, const std::vector<int>& members) {
  auto it = std::find(members.begin(), members.end(), self.rank);
  if (it == members.end()) {
    if (sub != nullptr) {
      self.report(fmt::format("{}: expected no communicator, got one of size {}", what, sub->size()));
      return kRankWrongProperty;
    }
    return kRankOk;
  }
  if (sub == nullptr) {
    self.report(fmt::format("{}: got no communicator", what));
    return kRankWrongProperty;
  }
  const int expected_rank = static_cast<int>(it - members.begin());
  if (sub->size() != static_cast<int>(members.size()) || sub->rank() != expected_rank ||
      sub->group() != members) {
    self.report(fmt::format("{}: rank {} of {} with group [{}], expected rank {} of {} with group [{}]", what,
                            sub->rank(), sub->size(), fmt::join(sub->group(), ", "), expected_rank,
                            members.size(), fmt::join(members, ", ")));
    return kRankWrongProperty;
  }
  // Local rank and size count the members on this rank's node, in group order.
  int local_rank = 0;
  int local_size = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    if (self.layout.nodes[members[i]] != self.layout.nodes[self.rank]) continue;
    if (static_cast<int>(i) < expected_rank) ++local_rank;
    ++local_size;
  }
  if (sub->node() != self.layout.nodes[self.rank] || sub->local_rank() != local_rank ||
      sub->local_size() != local_size) {
    self.report(fmt::format("{}: node {} local rank {} of {}, expected node {} local rank {} of {}", what,
                            sub->node(), sub->local_rank(), sub->local_size(), self.layout.nodes[self.rank],
                            local_rank, local_size));
    return kRankWrongProperty;
  }
  // The members talk to each other, and only to each other.
  const int64_t sum = sum_over(*sub, self.rank);
  if (sum != sum_of(members)) {
    self.report(fmt::format("{}: allreduce of world ranks gave {}, expected {}", what, sum, sum_of(members)));
    return kRankWrongResult;
  }
  return kRankOk;
}

TEST(Communicator, ReportsRankSizeLocalRankAndNode) {
  const Layout layout = Layout::of("mixed5", {"n0", "n0", "n1", "n1", "n1"});
  WorldResult result = run_world(layout, [&](Rank& self) {
    Communicator& comm = *self.comm;
    std::vector<int> identity(self.size);
    std::iota(identity.begin(), identity.end(), 0);
    if (comm.rank() != self.rank || comm.size() != 5 || comm.node() != layout.nodes[self.rank] ||
        comm.local_rank() != layout.local_rank(self.rank) ||
        comm.local_size() != layout.local_size(self.rank) || comm.group() != identity ||
        comm.backend_name() != "native" || comm.id().empty()) {
      self.report(fmt::format("rank {} of {}, node {}, local rank {} of {}, backend {}, id '{}'", comm.rank(),
                              comm.size(), comm.node(), comm.local_rank(), comm.local_size(),
                              comm.backend_name(), comm.id()));
      return kRankWrongProperty;
    }
    if (sum_over(comm, self.rank) != 10) {
      self.report("allreduce of the world ranks is not 10");
      return kRankWrongResult;
    }
    return kRankOk;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

TEST(Communicator, WorldOfOneSplitsAndRunsCollectives) {
  WorldResult result = run_world(Layout::one_node(1), [&](Rank& self) {
    std::shared_ptr<Communicator> sub = self.comm->split(7, 0);
    if (int code = check_members(self, "split(7, 0)", sub.get(), {0}); code != kRankOk) return code;
    if (self.comm->split(-1, 0) != nullptr) {
      self.report("split(-1, 0) returned a communicator");
      return kRankWrongProperty;
    }
    return kRankOk;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

class CommunicatorSplit : public ::testing::TestWithParam<Layout> {};

TEST_P(CommunicatorSplit, OrdersByKeyThenRankAndDropsNegativeColors) {
  const Layout layout = GetParam();
  ASSERT_EQ(layout.size(), 6);
  WorldResult result = run_world(layout, [&](Rank& self) {
    const int r = self.rank;
    // Even ranks in reverse order by key; odd ranks tie on the key, so by rank.
    std::shared_ptr<Communicator> parity = self.comm->split(r % 2, r % 2 == 0 ? -r : 0);
    if (int code = check_members(self, "split(rank % 2)", parity.get(),
                                 r % 2 == 0 ? std::vector<int>{4, 2, 0} : std::vector<int>{1, 3, 5});
        code != kRankOk) {
      return code;
    }
    // Halves: members on one and two nodes, local ranks counted in the group.
    std::shared_ptr<Communicator> half = self.comm->split(r / 3, r);
    if (int code = check_members(self, "split(rank / 3)", half.get(),
                                 r < 3 ? std::vector<int>{0, 1, 2} : std::vector<int>{3, 4, 5});
        code != kRankOk) {
      return code;
    }
    // Rank 0 opts out with a negative color.
    std::shared_ptr<Communicator> rest = self.comm->split(r == 0 ? -1 : 5, r);
    if (int code = check_members(self, "split(rank 0 negative)", rest.get(), {1, 2, 3, 4, 5});
        code != kRankOk) {
      return code;
    }
    // Every rank negative: nobody gets a communicator, and the parent goes on.
    if (self.comm->split(-3, r) != nullptr) {
      self.report("split(-3) returned a communicator");
      return kRankWrongProperty;
    }
    // A split of a split: the parity group {4, 2, 0} or {1, 3, 5} split again.
    std::shared_ptr<Communicator> inner = parity->split(parity->rank() == 0 ? 1 : 2, 0);
    std::vector<int> inner_members;
    if (parity->rank() == 0) {
      inner_members = {parity->group()[0]};
    } else {
      inner_members = {parity->group()[1], parity->group()[2]};
    }
    if (int code = check_members(self, "split of a split", inner.get(), inner_members); code != kRankOk)
      return code;
    if (sum_over(*self.comm, 1) != 6) {
      self.report("the parent communicator fails after the splits");
      return kRankWrongResult;
    }
    return kRankOk;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(Layouts, CommunicatorSplit,
                         ::testing::Values(Layout::one_node(6), Layout::blocks(3, 2),
                                           Layout::node_per_rank(6)),
                         [](const ::testing::TestParamInfo<Layout>& info) { return info.param.name; });

class CommunicatorConcurrency : public ::testing::TestWithParam<Layout> {};

// The two colors run different sequences of collectives at the same time,
// interleaved with collectives of the parent; each must see only its own.
TEST_P(CommunicatorConcurrency, SplitCommunicatorsOfDifferentColorsRunAtTheSameTime) {
  const Layout layout = GetParam();
  constexpr int kRounds = 50;
  constexpr size_t kCount = 4099;
  WorldResult result = run_world(layout, [&](Rank& self) {
    const int color = self.rank % 2;
    std::shared_ptr<Communicator> sub = self.comm->split(color, self.rank);
    std::vector<int> members;
    for (int r = color; r < self.size; r += 2) members.push_back(r);
    for (int round = 0; round < kRounds; ++round) {
      std::vector<int32_t> mine(kCount);
      std::vector<int32_t> gathered(kCount * static_cast<size_t>(sub->size()));
      std::vector<int64_t> total = {self.rank + round};
      WorkPtr sub_work;
      if (color == 0) {
        for (size_t i = 0; i < kCount; ++i) mine[i] = static_cast<int32_t>(self.rank * 1000 + round + i);
        sub_work = sub->allreduce(TensorView{mine.data(), kCount, DType::I32});
      } else {
        for (size_t i = 0; i < kCount; ++i) mine[i] = static_cast<int32_t>(self.rank - round - i);
        sub_work = sub->allgather(TensorView{mine.data(), kCount, DType::I32},
                                  TensorView{gathered.data(), gathered.size(), DType::I32});
      }
      WorkPtr parent_work = self.comm->allreduce(TensorView{total.data(), 1, DType::I64});
      parent_work->wait();
      sub_work->wait();
      int64_t expected_total = 0;
      for (int r = 0; r < self.size; ++r) expected_total += r + round;
      if (total[0] != expected_total) {
        self.report(
            fmt::format("round {}: parent allreduce gave {}, expected {}", round, total[0], expected_total));
        return kRankWrongResult;
      }
      for (size_t i = 0; i < kCount; ++i) {
        if (color == 0) {
          int64_t want = 0;
          for (int r : members) want += r * 1000 + round + static_cast<int64_t>(i);
          if (mine[i] != want) {
            self.report(
                fmt::format("round {}: color 0 allreduce [{}] = {}, expected {}", round, i, mine[i], want));
            return kRankWrongResult;
          }
        } else {
          for (size_t m = 0; m < members.size(); ++m) {
            const int64_t want = members[m] - round - static_cast<int64_t>(i);
            if (gathered[m * kCount + i] != want) {
              self.report(fmt::format("round {}: color 1 allgather block {} [{}] = {}, expected {}", round, m,
                                      i, gathered[m * kCount + i], want));
              return kRankWrongResult;
            }
          }
        }
      }
    }
    return kRankOk;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Four communicators of one world, each with its own operations in flight
// before any is waited on; one is destroyed while the others go on.
TEST_P(CommunicatorConcurrency, SeveralCommunicatorsAtOnce) {
  const Layout layout = GetParam();
  constexpr int kCommunicators = 4;
  constexpr size_t kCount = 1025;
  WorldResult result = run_world(layout, [&](Rank& self) {
    std::vector<std::shared_ptr<Communicator>> comms = {self.comm};
    for (int i = 1; i < kCommunicators; ++i) comms.push_back(Communicator::create(self.world));
    for (int i = 0; i < kCommunicators; ++i) {
      for (int j = 0; j < i; ++j) {
        if (comms[i]->id() == comms[j]->id()) {
          self.report(fmt::format("communicators {} and {} share the id '{}'", i, j, comms[i]->id()));
          return kRankWrongProperty;
        }
      }
    }
    for (int round = 0; round < 20; ++round) {
      const int live = round < 10 ? kCommunicators : kCommunicators - 1;
      if (round == 10) comms.back().reset();  // collectively, at the same point on every rank
      std::vector<std::vector<float>> buffers(live, std::vector<float>(kCount));
      std::vector<WorkPtr> works;
      for (int c = 0; c < live; ++c) {
        for (size_t i = 0; i < kCount; ++i)
          buffers[c][i] = static_cast<float>((c + 1) * (self.rank + 1) + round);
        works.push_back(comms[c]->allreduce(TensorView{buffers[c].data(), kCount, DType::F32}));
      }
      for (int c = live - 1; c >= 0; --c) works[c]->wait();
      for (int c = 0; c < live; ++c) {
        float want = 0;
        for (int r = 0; r < self.size; ++r) want += static_cast<float>((c + 1) * (r + 1) + round);
        for (size_t i = 0; i < kCount; ++i) {
          if (buffers[c][i] != want) {
            self.report(fmt::format("round {}: communicator {} element {} = {}, expected {}", round, c, i,
                                    buffers[c][i], want));
            return kRankWrongResult;
          }
        }
      }
    }
    return kRankOk;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Ranks that create different sets of communicators (a framework making a
// communicator per process group, only on the group's members) name them
// with explicit ids: rank 0 first creates a communicator of its own (its
// counter moves ahead of the others'), and the shared one still connects
// and runs on every rank.
TEST_P(CommunicatorConcurrency, ExplicitIdsAgreeWhenRanksCreateDifferentCommunicators) {
  const Layout layout = GetParam();
  WorldResult result = run_world(layout, [&](Rank& self) {
    std::shared_ptr<Communicator> alone;
    if (self.rank == 0) {
      alone = Communicator::create(World::join(BootstrapInfo{}, std::make_shared<MemoryStore>()));
    }
    auto shared = Communicator::create(self.world, {.id = "shared-1"});
    if (shared->id() != "shared-1") {
      self.report(fmt::format("id is '{}', expected 'shared-1'", shared->id()));
      return kRankWrongProperty;
    }
    int64_t value = self.rank + 1;
    shared->allreduce(TensorView{&value, 1, DType::I64})->wait();
    if (value != int64_t{self.size} * (self.size + 1) / 2) {
      self.report(fmt::format("allreduce gave {}", value));
      return kRankWrongResult;
    }
    try {
      Communicator::create(self.world, {.id = "bad/id"});
      self.report("an id with '/' was accepted");
      return kRankWrongProperty;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::InvalidArgument) throw;
    }
    return kRankOk;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(Layouts, CommunicatorConcurrency,
                         ::testing::Values(Layout::one_node(4), Layout::blocks(2, 2),
                                           Layout::node_per_rank(3)),
                         [](const ::testing::TestParamInfo<Layout>& info) { return info.param.name; });

}  // namespace
}  // namespace myriad::test
