#include "kernels/reduce.h"
int fx_reduce(int a, int b) {
  return a + b;
}
