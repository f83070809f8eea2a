// Order statistics of timing samples. Pure; thread-safe.
#pragma once

#include <vector>

namespace myriad::bench {

// The p-quantile (p in [0, 1]) by nearest rank; 0 for no samples.
double percentile(std::vector<double> samples, double p);
double mean(const std::vector<double>& samples);
double max_of(const std::vector<double>& samples);

}  // namespace myriad::bench
