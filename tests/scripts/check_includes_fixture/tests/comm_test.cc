#include <cstdio>

#include "collectives/native/ring.h"
#include "runtime/error.h"
#include "test_util.h"
int main() {
  return fx_sums(1, 2) && fx_ring_steps(2) == 2 && fx_last_error().code == 0 ? 0 : 1;
}
