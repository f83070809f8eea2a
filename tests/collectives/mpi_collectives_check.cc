// A rank program for mpi_backend_test, started by mpirun (directly or through
// `myriad run --engine mpi`): it joins the world from the environment
// (OMPI_COMM_WORLD_* for the rank, MYRIAD_STORE and MYRIAD_TOKEN for the
// store), creates communicators on the mpi backend, and runs and checks
// every op in every dtype, reduction, small count and in-place variant on
// the world communicator, a subset on a split one, and each op at a larger
// count; then recv_any() (MPI_ANY_SOURCE) on both.
//
// Exit code: 0 when every case is right; 1 when a case gave wrong data (each
// printed to stderr); 2 when an operation failed; 3 when set-up failed.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "runtime/config.h"
#include "tests/collectives/collective_cases.h"

namespace myriad::test {
namespace {

constexpr int kWrongData = 1;
constexpr int kOpFailed = 2;
constexpr int kSetupFailed = 3;
constexpr std::chrono::milliseconds kOpTimeout{60'000};

constexpr OpKind kKinds[] = {
    OpKind::Allreduce,     OpKind::Reduce,         OpKind::Broadcast, OpKind::Allgather, OpKind::Allgatherv,
    OpKind::ReduceScatter, OpKind::ReduceScatterv, OpKind::Alltoall,  OpKind::Alltoallv, OpKind::Gather,
    OpKind::Scatter,       OpKind::Barrier,        OpKind::Send};
constexpr uint64_t kCounts[] = {0, 1, 7, 1023};
constexpr uint64_t kLargeCount = 65537;

// Every kind x dtype x reduction x count x in place when `full`; else (the
// split communicator) three dtypes and their sum. Then every kind once at
// kLargeCount in f32.
std::vector<Case> cases_for(int size, bool full) {
  std::vector<Case> cases;
  uint64_t seed = 0;
  auto add = [&](Case c) {
    c.seed = ++seed;
    c.root = static_cast<int>(c.seed % static_cast<uint64_t>(size));
    cases.push_back(c);
  };
  for (OpKind kind : kKinds) {
    if (kind == OpKind::Send && size == 1) continue;
    for (DType dtype : kAllDTypes) {
      if (!full && dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::I8) continue;
      std::vector<ReduceOp> ops = {ReduceOp::Sum};
      if (full && is_reducing(kind)) ops = reductions_for(dtype);
      for (ReduceOp op : ops) {
        for (uint64_t count : kCounts) {
          for (bool in_place : {false, true}) {
            if (in_place && !has_in_place(kind)) continue;
            add(Case{.kind = kind, .dtype = dtype, .op = op, .count = count, .in_place = in_place});
          }
        }
      }
    }
    add(Case{.kind = kind, .dtype = DType::F32, .count = kLargeCount});
  }
  return cases;
}

int run(Communicator& comm, const std::string& name, bool full) {
  int wrong = 0;
  const std::vector<Case> cases = cases_for(comm.size(), full);
  for (const Case& c : cases) {
    std::string failure;
    try {
      std::unique_ptr<PendingCase> pending = start_case(comm, c);
      failure = check_case(*pending);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mpi check: %s: %s: the operation failed: %s\n", name.c_str(),
                   c.to_string().c_str(), e.what());
      return kOpFailed;
    }
    if (!failure.empty()) {
      std::fprintf(stderr, "mpi check: %s: %s\n", name.c_str(), failure.c_str());
      ++wrong;
    }
  }
  std::printf("mpi check: %s: rank %d of %d: %zu cases, %d wrong\n", name.c_str(), comm.rank(), comm.size(),
              cases.size(), wrong);
  return wrong == 0 ? 0 : kWrongData;
}

// recv_any(): rank 0 takes one message from each other rank, whichever
// comes first; each must arrive once, carrying its sender's rank, which
// source_rank() must name (a split communicator's rank, not the world's).
int check_recv_any(Communicator& comm, const std::string& name) {
  constexpr uint64_t kTag = 11;
  try {
    if (comm.rank() != 0) {
      int32_t me = comm.rank();
      comm.send(TensorView{&me, 1, DType::I32}, 0, kTag)->wait();
      return 0;
    }
    std::vector<int> seen(static_cast<size_t>(comm.size()), 0);
    for (int i = 1; i < comm.size(); ++i) {
      int32_t got = -1;
      WorkPtr work = comm.recv_any(TensorView{&got, 1, DType::I32}, kTag);
      work->wait();
      const int source = work->source_rank();
      if (source != got || source <= 0 || source >= comm.size() || ++seen[static_cast<size_t>(source)] != 1) {
        std::fprintf(stderr, "mpi check: %s: recv_any: source rank %d, message from rank %d\n", name.c_str(),
                     source, got);
        return kWrongData;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi check: %s: recv_any failed: %s\n", name.c_str(), e.what());
    return kOpFailed;
  }
  return 0;
}

int main_checked() {
  std::shared_ptr<World> world;
  std::shared_ptr<Communicator> comm;
  std::shared_ptr<Communicator> half;
  try {
    world = World::join(Env::process());
    comm = Communicator::create(world, CommunicatorOptions{.backend = "mpi", .timeout = kOpTimeout});
    if (comm->backend_name() != "mpi") {
      std::fprintf(stderr, "mpi check: backend is '%s', not mpi\n",
                   std::string(comm->backend_name()).c_str());
      return kSetupFailed;
    }
    // Halves in reverse order, so that communicator ranks differ from world ranks.
    half = comm->split(comm->rank() % 2, -comm->rank());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi check: set-up failed: %s\n", e.what());
    return kSetupFailed;
  }
  if (int code = run(*comm, "world", true); code != 0) return code;
  if (int code = check_recv_any(*comm, "world"); code != 0) return code;
  if (int code = run(*half, "split", false); code != 0) return code;
  return check_recv_any(*half, "split");
}

}  // namespace
}  // namespace myriad::test

int main() {
  const int code = myriad::test::main_checked();
  std::fflush(nullptr);
  return code;
}
