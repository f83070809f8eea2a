#include "launcher/bench/bench_world.h"

#include <cstdlib>

#include "launcher/bench/device.h"
#include "myriad_config.h"
#include "runtime/error.h"

namespace myriad::bench {

BenchWorld BenchWorld::join() {
  return BenchWorld(std::shared_ptr<World>(World::join(Env::process())));
}

std::string BenchWorld::next_name(const char* what) {
  return fmt::format("bench/{}/{}", what, sequence_++);
}

std::vector<std::string> BenchWorld::gather(const std::string& value) {
  return world_->exchange(next_name("gather"), value);
}

std::vector<double> BenchWorld::gather(double value) {
  std::vector<double> out;
  // %a round-trips a double exactly.
  for (const std::string& text : gather(fmt::format("{:a}", value)))
    out.push_back(std::strtod(text.c_str(), nullptr));
  return out;
}

std::vector<uint64_t> BenchWorld::gather(uint64_t value) {
  std::vector<uint64_t> out;
  for (const std::string& text : gather(std::to_string(value))) out.push_back(std::stoull(text));
  return out;
}

void BenchWorld::barrier() {
  world_->barrier(next_name("barrier"));
}

bool started_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

std::shared_ptr<Communicator> BenchWorld::communicator(const std::string& backend) {
  if (backend == "mpi") {
    if (!MYRIAD_HAVE_MPI) raise(ErrorCode::Unavailable, "--backend mpi: this build of Myriad has no MPI");
    if (size() > 1 && !started_by_mpi()) {
      raise(ErrorCode::Unavailable,
            "--backend mpi needs ranks started by MPI: run `myriad run --engine mpi -np {} myriad bench ...` "
            "or `mpirun -np {} myriad bench ...` (these ranks were started by `myriad run`'s local engine)",
            size(), size());
    }
  } else if (backend == "nccl") {
    if (!MYRIAD_HAVE_CUDA) {
      raise(ErrorCode::Unavailable, "--backend nccl: this build of Myriad has no CUDA (no GPU backend)");
    }
    if (device_count() == 0) {
      raise(ErrorCode::Unavailable, "--backend nccl: rank {} sees no CUDA device (no GPU on {})", rank(),
            world_->node());
    }
  }
  return Communicator::create(world_, CommunicatorOptions{.backend = backend});
}

}  // namespace myriad::bench
