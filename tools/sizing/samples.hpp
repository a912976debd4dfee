// Latency samples and their quantiles. Each caller of a run keeps its own
// sample vectors (no sharing, no locks while it runs); the run merges them
// at the end and asks for quantiles. Quantiles use the nearest-rank method:
// the q-quantile of n sorted samples is the ceil(q × n)-th smallest, so it
// is always a value that was measured. Not thread-safe; one owner at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace sandpool::sizing {

class latency_samples {
 public:
  void reserve(std::size_t n) { ns_.reserve(n); }
  void add(std::chrono::nanoseconds d) { ns_.push_back(d.count()); sorted_ = false; }
  // Moves other's samples into this one.
  void merge(latency_samples&& other);

  [[nodiscard]] std::size_t size() const noexcept { return ns_.size(); }
  [[nodiscard]] bool empty() const noexcept { return ns_.empty(); }

  // The q-quantile (0 < q <= 1) by nearest rank; zero when empty. Sorts the
  // samples on first use after a change.
  [[nodiscard]] std::chrono::nanoseconds quantile(double q);
  [[nodiscard]] std::chrono::nanoseconds max();

 private:
  std::vector<std::int64_t> ns_;
  bool sorted_ = true;
};

// The q-quantile of already sorted values by nearest rank; zero when empty.
// (q × n is rounded down when it lies within 1e-9 of a whole number, so
// that 0.95 × 100 is rank 95 despite floating point.)
[[nodiscard]] std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double q);

}  // namespace sandpool::sizing
