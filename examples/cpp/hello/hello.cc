// hello: the smallest Myriad program. Each rank joins the job, proves the
// store works with one round trip, and prints where it runs.
//
//   myriad run -np 4 ./hello
//   myriad run --engine mpi -np 4 ./hello
//
// Every rank adds 1 to a shared counter and marks itself arrived, then waits
// (bounded) until all ranks have arrived: after that the counter must equal
// the world size. Exit code 0 on success, 1 with a message on stderr
// otherwise.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/world.h"

namespace {

// Ranks start within milliseconds of each other; a minute covers a slow, loaded machine.
constexpr std::chrono::milliseconds kArrivalTimeout{60'000};

int run() {
  std::unique_ptr<myriad::World> world = myriad::World::join(myriad::Env::process());
  myriad::Store& store = world->store();
  store.add("hello/count", 1);
  store.set("hello/arrived/" + std::to_string(world->rank()), "1");
  std::vector<std::string> everyone;
  for (int rank = 0; rank < world->size(); ++rank)
    everyone.push_back("hello/arrived/" + std::to_string(rank));
  store.wait(everyone, kArrivalTimeout);
  int64_t count = store.add("hello/count", 0);
  if (count != world->size()) {
    std::fprintf(stderr, "hello: rank %d: the store counted %lld ranks, expected %d\n", world->rank(),
                 static_cast<long long>(count), world->size());
    return 1;
  }
  std::printf("hello from rank %d of %d (local rank %d of %d) on node %s; store round trip ok\n",
              world->rank(), world->size(), world->local_rank(), world->local_size(), world->node().c_str());
  return 0;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const myriad::Error& e) {
    std::fprintf(stderr, "hello: %s\n", e.what());
    return 1;
  }
}
