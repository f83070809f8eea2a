// CostModel: the alpha-beta model per link class that the selector uses.
//
// Sending m bytes over a link of class L costs alpha(L) + m * beta(L)
// seconds; reducing m bytes locally costs m * gamma. Defaults were measured
// on the project's machines (docs/BENCHMARKS.md); a tuning file overrides
// them (docs/tuning.md). A CostModel is a plain value: copy it freely; reading
// it from many threads is safe.
#pragma once

#include <array>
#include <string>

#include "collectives/native/topology.h"

namespace myriad {

struct LinkCost {
  double alpha = 0;  // seconds per message
  double beta = 0;   // seconds per byte
};

class CostModel {
 public:
  // Defaults measured on the project's machines.
  static CostModel defaults();

  const LinkCost& link(LinkClass link) const { return links_[static_cast<size_t>(link)]; }
  void set_link(LinkClass link, LinkCost cost) { links_[static_cast<size_t>(link)] = cost; }
  double gamma() const { return gamma_; }  // seconds per byte reduced
  void set_gamma(double gamma) { gamma_ = gamma; }

  // alpha + bytes * beta of the link class.
  double message(LinkClass link, double bytes) const;

 private:
  std::array<LinkCost, kLinkClassCount> links_{};
  double gamma_ = 0;
};

}  // namespace myriad
