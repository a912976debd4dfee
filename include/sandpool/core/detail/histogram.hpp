// A fixed-size log-linear histogram of durations (four buckets per power of
// two, so a reported quantile is within 19% of the true value). Recording is
// one increment; the owner serialises access (the pool records under its
// lock, where the hot path already is, instead of paying for atomics).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <chrono>
#include <cstdint>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

class histogram {
 public:
  void record(std::chrono::nanoseconds d) noexcept {
    ++buckets_[index(d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count()))];
    ++count_;
  }
  // Records `n` waits of zero at once.
  void record_zero(std::uint64_t n) noexcept {
    buckets_[0] += n;
    count_ += n;
  }
  std::uint64_t count() const noexcept { return count_; }

  // The upper bound of the bucket holding quantile q in [0, 1]; zero for
  // the sub-microsecond bucket (no wait worth reporting).
  std::chrono::nanoseconds quantile(double q) const noexcept {
    if (count_ == 0) return std::chrono::nanoseconds::zero();
    // Nearest rank: the smallest sample with at least q of all at or below it.
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    if (rank == 0) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) return std::chrono::nanoseconds(upper_bound(i));
    }
    return std::chrono::nanoseconds(upper_bound(buckets_.size() - 1));
  }

 private:
  // Below 1 µs everything lands in bucket 0: a wait that short is no wait.
  static constexpr unsigned first_power = 10;
  static constexpr unsigned sub_bits = 2;
  static constexpr std::size_t bucket_count = 4 * (63 - first_power) + 1;

  static std::size_t index(std::uint64_t ns) noexcept {
    if (ns < (std::uint64_t{1} << first_power)) return 0;
    unsigned power = 63u - static_cast<unsigned>(std::countl_zero(ns));
    auto sub = static_cast<unsigned>((ns >> (power - sub_bits)) & 3u);
    std::size_t i = 1 + (power - first_power) * 4 + sub;
    return i < bucket_count ? i : bucket_count - 1;
  }
  static std::int64_t upper_bound(std::size_t i) noexcept {
    if (i == 0) return 0;
    unsigned power = static_cast<unsigned>((i - 1) / 4) + first_power;
    std::uint64_t sub = (i - 1) % 4;
    std::uint64_t base = std::uint64_t{1} << power;
    return static_cast<std::int64_t>(base + (sub + 1) * (base >> sub_bits));
  }

  std::array<std::uint64_t, bucket_count> buckets_{};
  std::uint64_t count_ = 0;
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
