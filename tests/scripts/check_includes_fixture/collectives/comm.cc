#include "collectives/comm.h"
#include "collectives/native/ring.h"
#include "kernels/reduce.h"
int fx_allreduce(int a, int b) {
  return fx_reduce(a, b) + 0 * fx_ring_steps(1);
}
FxError fx_last_error() {
  return FxError{0};
}
