#include "launcher/bench/progress.h"

#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>

namespace myriad::bench {

Progress::Progress(bool enabled, size_t steps)
    : shown_(enabled && ::isatty(STDERR_FILENO) == 1),
      steps_(steps),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  finish();
}

void Progress::step(const std::string& what) {
  if (!shown_) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double percent = steps_ == 0 ? 100.0 : 100.0 * static_cast<double>(done_) / static_cast<double>(steps_);
  std::string eta = done_ == 0 ? "?"
                               : fmt::format("{:.0f} s", elapsed / static_cast<double>(done_) *
                                                             static_cast<double>(steps_ - done_));
  // \r and the erase-to-end-of-line sequence redraw one line in place.
  std::fprintf(stderr, "\r\033[K[myriad bench] %s  %3.0f%%  ETA %s", what.c_str(), percent, eta.c_str());
  std::fflush(stderr);
  ++done_;
}

void Progress::finish() {
  if (!shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace myriad::bench
