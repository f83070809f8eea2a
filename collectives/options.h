// Per-call options of the collectives. A zero timeout means the
// communicator's default (MYRIAD_TIMEOUT); an empty algorithm lets the
// selector choose (MYRIAD_ALGO and the tuning file still apply).
#pragma once

#include <chrono>
#include <string>

#include "runtime/dtype.h"

namespace myriad {

struct AllreduceOptions {
  ReduceOp op = ReduceOp::Sum;
  std::chrono::milliseconds timeout{0};
  std::string algorithm{};
};

struct ReduceOptions {
  ReduceOp op = ReduceOp::Sum;
  int root = 0;
  std::chrono::milliseconds timeout{0};
  std::string algorithm{};
};

struct ReduceScatterOptions {
  ReduceOp op = ReduceOp::Sum;
  std::chrono::milliseconds timeout{0};
  std::string algorithm{};
};

// Broadcast, gather, scatter.
struct RootOptions {
  int root = 0;
  std::chrono::milliseconds timeout{0};
  std::string algorithm{};
};

// Allgather, alltoall, barrier, send, recv.
struct CollectiveOptions {
  std::chrono::milliseconds timeout{0};
  std::string algorithm{};
};

}  // namespace myriad
