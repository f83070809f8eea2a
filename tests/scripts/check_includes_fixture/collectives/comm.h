// Fixture collectives: its header exposes runtime (PUBLIC), not kernels.
#pragma once
#include "runtime/error.h"
int fx_allreduce(int a, int b);
FxError fx_last_error();
