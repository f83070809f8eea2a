// A schedule handed out a round at a time.
#include "collectives/native/schedule_source.h"

#include <algorithm>
#include <utility>

namespace myriad {

ScheduleSource::ScheduleSource(std::string algorithm) : algorithm_(std::move(algorithm)) {}

ScheduleSource ScheduleSource::of(Schedule schedule) {
  ScheduleSource source(schedule.algorithm);
  source.scratch_bytes_ = schedule.scratch_bytes;
  source.parts_.push_back(Part{std::move(schedule), nullptr});
  return source;
}

void ScheduleSource::need_scratch(uint64_t bytes) {
  scratch_bytes_ = std::max(scratch_bytes_, bytes);
}

Schedule& ScheduleSource::listed() {
  if (parts_.empty() || parts_.back().generator != nullptr) parts_.emplace_back();
  return parts_.back().listed;
}

void ScheduleSource::add(std::unique_ptr<const RoundGenerator> generator) {
  parts_.push_back(Part{{}, std::move(generator)});
}

bool ScheduleSource::next(Round& round) {
  while (part_ < parts_.size()) {
    Part& part = parts_[part_];
    if (part.generator == nullptr) {
      if (index_ < part.listed.rounds.size()) {
        // Moved out: a round handed out is not read again.
        round = std::move(part.listed.rounds[index_++]);
        return true;
      }
    } else {
      while (index_ < part.generator->rounds()) {
        round.steps.clear();
        part.generator->fill(index_++, round);
        if (!round.steps.empty()) return true;
      }
    }
    ++part_;
    index_ = 0;
  }
  round.steps.clear();
  return false;
}

Schedule ScheduleSource::to_schedule() {
  Schedule schedule;
  schedule.algorithm = algorithm_;
  schedule.scratch_bytes = scratch_bytes_;
  Round round;
  while (next(round)) schedule.rounds.push_back(std::move(round));
  return schedule;
}

}  // namespace myriad
