// Fixture: a header-only internal of collectives/ (owned by the enclosing
// folder's library).
#pragma once
inline int fx_ring_steps(int ranks) {
  return 2 * (ranks - 1);
}
