// CostModel defaults and the alpha-beta message cost.
#include "collectives/native/cost_model.h"

namespace myriad {
namespace {

// Seconds per byte of a link moving `gb_per_s` gigabytes (1e9 bytes) per second.
constexpr double per_byte(double gb_per_s) {
  return 1.0 / (gb_per_s * 1e9);
}
constexpr double kMicrosecond = 1e-6;

}  // namespace

CostModel CostModel::defaults() {
  CostModel model;
  // Local copies: memory copy of large arrays, 37 GB/s with one thread
  // (docs/BENCHMARKING.md, "Baselines seen").
  model.set_link(LinkClass::Self, {0.0, per_byte(37)});
  // Shared memory between two ranks of one node: a few microseconds per
  // message and ~10 GB/s for large transfers (Open MPI vader on the project's
  // 2-vCPU machines moves 1 MiB in 86 us, 12 GB/s; 64 MiB at 2.5-6 GB/s).
  model.set_link(LinkClass::Shm, {3 * kMicrosecond, per_byte(10)});
  // TCP loopback or between emulated hosts: 20-50 us per message and 2-3 GB/s
  // (gloo over loopback moves 64 MiB at 1.5 GB/s; one veth stream ~21 Gbit/s).
  model.set_link(LinkClass::Tcp, {30 * kMicrosecond, per_byte(2.5)});
  // UCX over the same machines (Open MPI's pml ucx measured within 5% of vader
  // at 1 MiB): between shm and tcp until calibrated on a real fabric.
  model.set_link(LinkClass::Ucx, {5 * kMicrosecond, per_byte(8)});
  // Not measurable here: vendor figures for NVLink 4 (H100, ~150 GB/s per
  // direction usable) and 100 Gbit/s InfiniBand (~12 GB/s, ~2 us). A tuning
  // file replaces them with measured numbers.
  model.set_link(LinkClass::NvLink, {5 * kMicrosecond, per_byte(150)});
  model.set_link(LinkClass::Ib, {2 * kMicrosecond, per_byte(12)});
  // fp32 a[i] += b[i], one thread: 19 GB/s of input reduced (BENCHMARKING.md).
  model.set_gamma(per_byte(19));
  return model;
}

double CostModel::message(LinkClass link, double bytes) const {
  const LinkCost& cost = this->link(link);
  return cost.alpha + bytes * cost.beta;
}

}  // namespace myriad
