// The Prometheus text exposition format (version 0.0.4, which OpenMetrics
// scrapers also read) for one or more pools, each line labelled with the
// pool's name: gauges of the connections, counters of checkouts, connects
// and discards (by reason), and histograms of checkout wait, hold and
// connect time with the same fixed buckets in every pool, so that they
// aggregate across instances. Serve it at /metrics from your HTTP server:
//   std::string body = sandpool::prometheus_text(pool);          // one pool
//   std::string body = sandpool::prometheus_text(reads, writes);  // several
#pragma once

#include <concepts>
#include <span>
#include <string>
#include <string_view>

#include "sandpool/core/metrics.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// One pool's snapshot under its name (the `pool` label).
struct named_metrics {
  std::string_view pool;
  sandpool::metrics metrics;
};

// Every family once (# HELP, # TYPE), a line per pool in it. Pool names may
// hold any character (escaped as the format wants); two pools of one name
// would make duplicate series, so give each its own pool_options::name.
std::string prometheus_text(std::span<const named_metrics> pools);

// What prometheus_text reads from a pool.
template <class Pool>
concept pool_with_metrics = requires(const Pool& p) {
  { p.metrics() } -> std::same_as<sandpool::metrics>;
  { p.options().name } -> std::convertible_to<std::string_view>;
};

// Any number of pools (sandpool::pool, or basic_pool over another driver).
template <pool_with_metrics... Pools>
  requires(sizeof...(Pools) > 0)
std::string prometheus_text(const Pools&... pools) {
  const named_metrics all[] = {named_metrics{pools.options().name, pools.metrics()}...};
  return prometheus_text(std::span<const named_metrics>(all));
}

}  // namespace sandpool

#pragma GCC visibility pop
