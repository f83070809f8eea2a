// Static checks of one rank's schedule, without running it: every span
// inside its bound buffer and covering whole elements, no step writing
// Input, peers in range and not the rank itself, and no intra-round hazard
// (a step writing memory another step of the round reads or writes).
//
// Where Input and Output alias (in place) the caller says how, so that
// hazards through the alias are found too. Used by the simulator for every
// round it runs (simulator.h). Pure functions: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "collectives/native/schedule.h"

namespace myriad {

// Where the bound buffers lie: each in one of three memories, at an offset.
struct BufferBinding {
  struct Place {
    int memory = 0;       // 0, 1 or 2: buffers with equal memory may overlap
    uint64_t offset = 0;  // bytes into that memory
    uint64_t bytes = 0;   // size of the bound buffer
  };
  Place input{0, 0, 0};
  Place output{1, 0, 0};
  Place scratch{2, 0, 0};

  const Place& place(BufferId buffer) const;
};

struct ScheduleCheckContext {
  int rank = 0;
  int size = 1;
  size_t element_bytes = 1;
  BufferBinding binding;
};

// A description of the first problem in `round`, or nullopt when it is sound.
std::optional<std::string> check_round(const Round& round, const ScheduleCheckContext& context);

// True when the two spans name the same bytes under `binding` (a Copy
// between them does nothing).
bool same_memory(const BufferBinding& binding, const Span& a, const Span& b);

}  // namespace myriad
