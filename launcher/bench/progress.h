// A one-line progress display on stderr for long sweeps: what runs now, the
// share done and an estimate of the time left. Shown only when enabled and
// stderr is a terminal, so logs and pipes stay clean. Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace myriad::bench {

class Progress {
 public:
  Progress(bool enabled, size_t steps);
  ~Progress();
  // Announces the step about to run.
  void step(const std::string& what);
  // Clears the line.
  void finish();

 private:
  bool shown_ = false;
  size_t steps_ = 0;
  size_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace myriad::bench
