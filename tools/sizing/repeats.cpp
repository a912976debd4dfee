// Medians and spreads of repeated measurements (see repeats.hpp).
#include "repeats.hpp"

#include <cmath>

namespace sandpool::sizing {
namespace {

// P(Binomial(n, 1/2) <= j), summed in log space so that large n (a group
// of sizes pools all their repeats) neither overflows nor underflows.
double binomial_half_cdf(std::size_t n, std::size_t j) {
  const double dn = static_cast<double>(n);
  double sum = 0;
  for (std::size_t i = 0; i <= j && i <= n; ++i) {
    const double di = static_cast<double>(i);
    sum += std::exp(std::lgamma(dn + 1) - std::lgamma(di + 1) - std::lgamma(dn - di + 1) -
                    dn * std::log(2.0));
  }
  return sum;
}

}  // namespace

std::pair<std::size_t, std::size_t> likely_range_ranks(std::size_t n) {
  if (n == 0) return {0, 0};
  constexpr double confidence = 0.75;
  std::size_t k = 1;
  // Coverage falls as k grows; stop at the last k that still reaches it.
  while (k + 1 <= n + 1 - (k + 1) && 1 - 2 * binomial_half_cdf(n, k) >= confidence) ++k;
  return {k, n + 1 - k};
}

size_result summarize_repeats(const std::vector<size_result>& repeats) {
  if (repeats.size() <= 1) return repeats.empty() ? size_result{} : repeats.front();
  size_result out;
  out.size = repeats.front().size;
  std::vector<std::chrono::nanoseconds> p50, p95;
  for (const size_result& r : repeats) {
    out.seconds += r.seconds;
    out.operations += r.operations;
    out.high_water = std::max(out.high_water, r.high_water);
    out.timeouts += r.timeouts;
    out.drops += r.drops;
    out.throughput_repeats.push_back(r.throughput);
    out.wait_p99_repeats.push_back(r.wait_p99);
    out.query_p99_repeats.push_back(r.query_p99);
    p50.push_back(r.wait_p50);
    p95.push_back(r.wait_p95);
  }
  out.throughput = median_of(out.throughput_repeats);
  out.wait_p50 = median_of(std::move(p50));
  out.wait_p95 = median_of(std::move(p95));
  out.wait_p99 = median_of(out.wait_p99_repeats);
  out.query_p99 = median_of(out.query_p99_repeats);
  return out;
}

}  // namespace sandpool::sizing
