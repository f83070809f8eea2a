// The ETTR model (elastic/ettr.h) against hand-computed values, its
// limits, Daly's published examples, and a Monte-Carlo run of the same
// job: exponential inter-arrival times (fixed seed), a checkpoint every
// interval, a failure throwing away the work since the last one and
// costing a recovery (itself interruptible).
#include "elastic/ettr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "runtime/error.h"

namespace myriad::elastic {
namespace {

constexpr double kHour = 3600;
constexpr double kMinute = 60;
constexpr double kNever = std::numeric_limits<double>::infinity();

EttrInputs inputs(double mtbf, double save, double recovery_total = 0) {
  EttrInputs in;
  in.mtbf_seconds = mtbf;
  in.save_seconds = save;
  in.recovery.restart = recovery_total;
  return in;
}

// sqrt(2 x 60 s x 3.1 h) = sqrt(2 x 60 x 11160) = sqrt(1,339,200) = 1157.24 s.
TEST(Ettr, YoungIntervalForAMinuteSaveAndA3Point1HourMtbf) {
  EXPECT_NEAR(young_interval(60, 3.1 * kHour), 1157.23809, 1e-4);
  EXPECT_DOUBLE_EQ(young_interval(0, kHour), 0);
  EXPECT_EQ(young_interval(60, kNever), kNever);
}

// Daly's own examples (FGCS 22(3), 2006, figures 3-5: d = 5 min, R = 10 min):
// M = 24 h -> 117 min, M = 6 h -> 57 min, M = 15 min -> 9.1 min.
TEST(Ettr, DalyIntervalMatchesThePapersExamples) {
  EXPECT_NEAR(daly_interval(5 * kMinute, 24 * kHour) / kMinute, 117, 0.5);
  EXPECT_NEAR(daly_interval(5 * kMinute, 6 * kHour) / kMinute, 57, 0.5);
  EXPECT_NEAR(daly_interval(5 * kMinute, 15 * kMinute) / kMinute, 9.1, 0.05);
  // By hand for d = 60 s, M = 3.1 h: d/2M = 60/22320 = 0.0026882;
  // 1157.238 x (1 + 0.0518476/3 + 0.0026882/9) - 60 = 1117.583 s.
  EXPECT_NEAR(daly_interval(60, 3.1 * kHour), 1117.583, 1e-3);
  // A save as long as two MTBFs: Daly says checkpoint every M.
  EXPECT_DOUBLE_EQ(daly_interval(3 * kHour, kHour), kHour);
}

// Without failures the only loss is the save: ETTR = t / (t + d).
TEST(Ettr, NoFailuresLeavesOnlyTheSaveOverhead) {
  EttrEstimate e = estimate_ettr(inputs(kNever, 60, 300), 1140);
  EXPECT_DOUBLE_EQ(e.ettr, 1140.0 / 1200.0);
  EXPECT_DOUBLE_EQ(e.save_fraction, 60.0 / 1200.0);
  EXPECT_DOUBLE_EQ(e.failure_fraction, 0);
  EXPECT_DOUBLE_EQ(e.failures_per_day, 0);
  EXPECT_EQ(best_interval(inputs(kNever, 60)), kNever);
  // A very rare failure is the same limit.
  EXPECT_NEAR(estimate_ettr(inputs(1e15, 60, 300), 1140).ettr, 0.95, 1e-9);
}

// The closed form Daly writes, T = M e^(R/M) (e^((t+d)/M) - 1) per t of
// work, and its first-order expansion.
TEST(Ettr, MatchesDalysClosedFormAndItsFirstOrderExpansion) {
  const double m = 3.1 * kHour;
  const double d = 60;
  const double r = 600;
  const double t = 1800;
  EttrEstimate e = estimate_ettr(inputs(m, d, r), t);
  double wall = m * std::exp(r / m) * std::expm1((t + d) / m);
  EXPECT_NEAR(e.ettr, t / wall, 1e-12);
  EXPECT_NEAR(e.ettr + e.save_fraction + e.failure_fraction, 1, 1e-12);
  // First order: the recompute is half a segment, the recovery R.
  EXPECT_NEAR(e.recompute, (t + d) / 2, (t + d) * (t + d) / (12 * m) * 1.01);
  EXPECT_NEAR(e.failures_during_recovery, r * r / (2 * m), r * r / (2 * m) * 0.05);
  EXPECT_DOUBLE_EQ(e.failures_per_day, 86400 / m);
  EXPECT_DOUBLE_EQ(e.recovery.restart, r);
  // 1 - ETTR ~ d/t + (R + (t+d)/2)/M for small segments.
  double first_order = d / (t + d) + (r + (t + d) / 2) / m;
  EXPECT_NEAR(1 - e.ettr, first_order, 0.1 * first_order);
}

// A derived recompute for a tiny segment (s/M = 1e-7) still comes out as
// half the segment (no cancellation).
TEST(Ettr, DerivedRecomputeIsHalfASegmentWhenFailuresAreRare) {
  EttrEstimate e = estimate_ettr(inputs(1e9, 40), 60);
  EXPECT_NEAR(e.recompute, 50, 1e-6);
}

TEST(Ettr, AGivenRecomputeReplacesTheDerivedOne) {
  EttrInputs in = inputs(kHour, 30, 100);
  in.recompute_seconds = 10;
  EttrEstimate e = estimate_ettr(in, 600);
  EXPECT_DOUBLE_EQ(e.recompute, 10);
  double failures = std::expm1(630 / kHour);
  double wall = 630 + failures * (10 + kHour * std::expm1(100 / kHour));
  EXPECT_NEAR(e.ettr, 600 / wall, 1e-12);
}

// The numerical optimum of the model is where Daly's formula says, and
// its ETTR is at least that of Young's and Daly's intervals.
TEST(Ettr, BestIntervalAgreesWithDaly) {
  for (double m : {0.5 * kHour, 3.1 * kHour, 24 * kHour}) {
    for (double d : {5.0, 60.0, 300.0}) {
      EttrInputs in = inputs(m, d, 120);
      double best = best_interval(in);
      double daly = daly_interval(d, m);
      EXPECT_NEAR(best, daly, 0.02 * daly) << "M " << m << " d " << d;
      double at_best = estimate_ettr(in, best).ettr;
      EXPECT_GE(at_best + 1e-12, estimate_ettr(in, daly).ettr);
      EXPECT_GE(at_best + 1e-12, estimate_ettr(in, young_interval(d, m)).ettr);
    }
  }
}

TEST(Ettr, RejectsInputsOutOfRange) {
  EXPECT_THROW(young_interval(-1, kHour), Error);
  EXPECT_THROW(young_interval(60, 0), Error);
  EXPECT_THROW(estimate_ettr(inputs(kHour, 60), 0), Error);
  EXPECT_THROW(estimate_ettr(inputs(kHour, 60), -5), Error);
  EXPECT_THROW(estimate_ettr(inputs(-kHour, 60), 100), Error);
  EttrInputs in = inputs(kHour, 60);
  in.recovery.stop = -1;
  EXPECT_THROW(estimate_ettr(in, 100), Error);
  in.recovery.stop = std::nan("");
  EXPECT_THROW(estimate_ettr(in, 100), Error);
}

// Simulates `work` seconds of training: segments of interval + save, each
// lost to a failure (exponential, mean m) that comes before it completes;
// a failure costs a recovery of length r that a further failure restarts.
double simulated_ettr(double m, double save, double r, double interval, double work, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> next_failure(1 / m);
  double wall = 0;
  double done = 0;
  double until_failure = next_failure(rng);
  const double segment = interval + save;
  while (done < work) {
    if (until_failure >= segment) {
      wall += segment;
      until_failure -= segment;
      done += interval;
      continue;
    }
    wall += until_failure;  // the segment's work so far is lost
    until_failure = next_failure(rng);
    while (until_failure < r) {  // the recovery is interrupted and starts over
      wall += until_failure;
      until_failure = next_failure(rng);
    }
    wall += r;
    until_failure -= r;
  }
  return done / wall;
}

TEST(Ettr, AgreesWithAMonteCarloRunOfTheSameJob) {
  struct Case {
    double m, save, r, interval;
  };
  // Realistic (a 3.1 h MTBF), and harsh (segments and recoveries a fair
  // share of the MTBF, where the higher-order terms matter).
  for (Case c : {Case{3.1 * kHour, 60, 300, 1117}, Case{3.1 * kHour, 60, 300, 4 * kHour},
                 Case{kHour, 120, 900, 1200}, Case{1800, 30, 600, 600}}) {
    double model = estimate_ettr(inputs(c.m, c.save, c.r), c.interval).ettr;
    // About 20,000 failures each: the estimate's standard error is well under 0.3%.
    double work = 20'000 * c.m * model;
    double simulated = simulated_ettr(c.m, c.save, c.r, c.interval, work, 16384);
    EXPECT_NEAR(simulated, model, 0.005)
        << "M " << c.m << " save " << c.save << " R " << c.r << " interval " << c.interval;
  }
}

}  // namespace
}  // namespace myriad::elastic
