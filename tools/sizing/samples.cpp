// Latency samples and nearest-rank quantiles (see samples.hpp).
#include "samples.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace sandpool::sizing {

void latency_samples::merge(latency_samples&& other) {
  if (ns_.empty()) {
    ns_ = std::move(other.ns_);
    sorted_ = other.sorted_;
  } else {
    ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.end());
    sorted_ = false;
  }
  other.ns_.clear();
  other.sorted_ = true;
}

std::chrono::nanoseconds latency_samples::quantile(double q) {
  if (!sorted_) {
    std::sort(ns_.begin(), ns_.end());
    sorted_ = true;
  }
  return std::chrono::nanoseconds(nearest_rank(ns_, q));
}

std::chrono::nanoseconds latency_samples::max() { return quantile(1.0); }

std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(std::clamp(q, 0.0, 1.0) * n - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace sandpool::sizing
