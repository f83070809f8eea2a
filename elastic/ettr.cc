#include "elastic/ettr.h"

#include <cmath>
#include <limits>

#include "runtime/error.h"

namespace myriad::elastic {
namespace {

constexpr double kSecondsPerDay = 86'400;
// Below this s/M the derived recompute uses its series: M - s/(e^(s/M)-1)
// subtracts two numbers that agree to about -log10(s/M) digits.
constexpr double kSeriesBelow = 1e-4;
// best_interval()'s search: from a millisecond to a hundred MTBFs (past
// which a segment almost never completes), in log space.
constexpr double kShortestInterval = 1e-3;
constexpr double kLongestInMtbfs = 100;
constexpr int kGoldenSteps = 200;

void check_time(double value, const char* what) {
  if (!(value >= 0) || std::isinf(value))
    raise(ErrorCode::InvalidArgument, "{} = {}: must be a finite time >= 0", what, value);
}

void check_inputs(const EttrInputs& in) {
  if (!(in.mtbf_seconds > 0)) raise(ErrorCode::InvalidArgument, "mtbf = {} s: must be > 0", in.mtbf_seconds);
  check_time(in.save_seconds, "save");
  check_time(in.recovery.detection, "detection");
  check_time(in.recovery.stop, "stop");
  check_time(in.recovery.rendezvous, "rendezvous");
  check_time(in.recovery.restart, "restart");
  check_time(in.recovery.restore, "restore");
  if (in.recompute_seconds) check_time(*in.recompute_seconds, "recompute");
}

// E[T | T < s] for T exponential with mean m: the work a failure inside a
// segment of length s throws away, on average.
double lost_in_segment(double s, double m) {
  if (std::isinf(m)) return s / 2;
  double x = s / m;
  if (x < kSeriesBelow) return s * (0.5 - x / 12);  // 1/x - 1/(e^x - 1) = 1/2 - x/12 + O(x^3)
  return m - s / std::expm1(x);
}

}  // namespace

double young_interval(double save_seconds, double mtbf_seconds) {
  check_time(save_seconds, "save");
  if (!(mtbf_seconds > 0)) raise(ErrorCode::InvalidArgument, "mtbf = {} s: must be > 0", mtbf_seconds);
  if (save_seconds == 0) return 0;
  return std::sqrt(2 * save_seconds * mtbf_seconds);
}

double daly_interval(double save_seconds, double mtbf_seconds) {
  const double young = young_interval(save_seconds, mtbf_seconds);
  if (std::isinf(mtbf_seconds) || young == 0) return young;
  if (save_seconds >= 2 * mtbf_seconds) return mtbf_seconds;
  const double ratio = save_seconds / (2 * mtbf_seconds);
  return young * (1 + std::sqrt(ratio) / 3 + ratio / 9) - save_seconds;
}

EttrEstimate estimate_ettr(const EttrInputs& in, double interval_seconds) {
  check_inputs(in);
  if (!(interval_seconds > 0) || std::isinf(interval_seconds)) {
    raise(ErrorCode::InvalidArgument, "interval = {} s: must be a finite time > 0", interval_seconds);
  }
  const double m = in.mtbf_seconds;
  const double s = interval_seconds + in.save_seconds;
  const double r = in.recovery.total();
  EttrEstimate e;
  e.interval_seconds = interval_seconds;
  e.recovery = in.recovery;
  e.failures_per_day = std::isinf(m) ? 0 : kSecondsPerDay / m;
  e.recompute = in.recompute_seconds.value_or(lost_in_segment(s, m));
  // A failure during a recovery starts the recovery over: its expected
  // length is M (e^(R/M) - 1), not R (the first failure-free stretch of
  // length R, Daly's restart term).
  const double recovery = std::isinf(m) ? r : m * std::expm1(r / m);
  e.failures_during_recovery = recovery - r;
  const double failures = std::isinf(m) ? 0 : std::expm1(s / m);  // per completed segment
  const double failed = failures * (e.recompute + recovery);
  const double wall = s + failed;
  e.ettr = interval_seconds / wall;
  e.save_fraction = in.save_seconds / wall;
  e.failure_fraction = failed / wall;
  return e;
}

double best_interval(const EttrInputs& inputs) {
  check_inputs(inputs);
  if (std::isinf(inputs.mtbf_seconds)) return std::numeric_limits<double>::infinity();
  // Golden-section search for the maximum of the ETTR over log(interval).
  const double phi = (std::sqrt(5.0) - 1) / 2;
  double lo = std::log(kShortestInterval);
  double hi = std::log(kLongestInMtbfs * inputs.mtbf_seconds + kShortestInterval);
  auto ettr_at = [&inputs](double log_interval) {
    return estimate_ettr(inputs, std::exp(log_interval)).ettr;
  };
  double a = hi - phi * (hi - lo);
  double b = lo + phi * (hi - lo);
  double fa = ettr_at(a);
  double fb = ettr_at(b);
  for (int i = 0; i < kGoldenSteps && hi - lo > 1e-12; ++i) {
    if (fa < fb) {
      lo = a;
      a = b;
      fa = fb;
      b = lo + phi * (hi - lo);
      fb = ettr_at(b);
    } else {
      hi = b;
      b = a;
      fb = fa;
      a = hi - phi * (hi - lo);
      fa = ettr_at(a);
    }
  }
  return std::exp((lo + hi) / 2);
}

}  // namespace myriad::elastic
