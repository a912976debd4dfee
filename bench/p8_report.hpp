// P8's markdown: one table for the libpq clients, one for pgbench, and the
// reading of the 4-client rows (the gateway's sessions take turns on one
// backend). Every ratio is gateway / direct from the same round; the goal
// the issue states is a latency ratio of at most 1.5.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "p8_clients.hpp"
#include "p8_rounds.hpp"

namespace sandpool::bench {

inline constexpr double latency_goal = 1.5;

struct client_row {
  workload what = workload::select1;
  protocol how = protocol::simple;
  int clients = 1;
  series s;
  std::string prepared_after;  // the backend's prepared statements after the gateway's runs
  double cleanup_ms = 0;       // from the gateway clients' PQfinish to their sessions' end
};

struct pgbench_row {
  workload what = workload::select1;
  int clients = 1;
  series s;  // us from pgbench's latency average, ops = tps
};

inline std::string spread_text(const spread& x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f / **%.2f** / %.2f", x.min, x.median, x.max);
  return buf;
}

inline const char* verdict(double median_latency_ratio) {
  return median_latency_ratio <= latency_goal ? "yes" : "no";
}

inline void print_client_table(const std::vector<client_row>& rows) {
  std::printf(
      "| statement | protocol | clients | direct us/op | gateway us/op | latency gateway/direct "
      "(min / median / max) | <= %.1f | direct ops/s | gateway ops/s | throughput "
      "gateway/direct (median) | backend's prepared statements after | session cleanup ms |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
      latency_goal);
  for (const client_row& r : rows) {
    const spread lat = spread_of(r.s.latency_ratio);
    std::printf("| %s | %s | %d | %.1f | %.1f | %s | %s | %.0f | %.0f | %.2f | %s | %.0f |\n",
                name_of(r.what), name_of(r.how), r.clients, median(r.s.direct_us),
                median(r.s.gateway_us), spread_text(lat).c_str(), verdict(lat.median),
                median(r.s.direct_ops), median(r.s.gateway_ops), median(r.s.throughput_ratio),
                r.prepared_after.c_str(), r.cleanup_ms);
  }
  std::printf("\n");
}

// For each statement and protocol: what 4 gateway clients get compared with 1.
inline void print_serialization(const std::vector<client_row>& rows) {
  std::printf(
      "Reading the 4-client rows: the gateway's sessions share the owner's one backend and "
      "take turns on it, so 4 clients through the gateway get about the throughput of 1 "
      "and each waits for the other 3: a client's time per statement is about 4x one "
      "turn. Direct clients have a backend each and run in parallel (as far as the "
      "cores allow), so the 4-client ratio is dominated by serialization, not by the "
      "gateway's own cost, which the 1-client rows show.\n\n"
      "| statement | protocol | gateway ops/s, 1 client | gateway ops/s, 4 clients | "
      "4 / 1 | gateway us/op, 4 clients | 4 x gateway us/op, 1 client | direct ops/s, 4 / 1 |\n"
      "|---|---|---|---|---|---|---|---|\n");
  for (const client_row& one : rows) {
    if (one.clients != 1) continue;
    for (const client_row& four : rows) {
      if (four.clients != 4 || four.what != one.what || four.how != one.how) continue;
      const double g1 = median(one.s.gateway_ops), g4 = median(four.s.gateway_ops);
      std::printf("| %s | %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f |\n", name_of(one.what),
                  name_of(one.how), g1, g4, g4 / g1, median(four.s.gateway_us),
                  4 * median(one.s.gateway_us),
                  median(four.s.direct_ops) / median(one.s.direct_ops));
    }
  }
  std::printf("\n");
}

inline void print_pgbench_table(const std::vector<pgbench_row>& rows) {
  std::printf(
      "| script | clients | direct latency ms | gateway latency ms | latency gateway/direct "
      "(min / median / max) | <= %.1f | direct tps | gateway tps | tps gateway/direct "
      "(median) |\n|---|---|---|---|---|---|---|---|---|\n",
      latency_goal);
  for (const pgbench_row& r : rows) {
    const spread lat = spread_of(r.s.latency_ratio);
    std::printf("| %s | %d | %.3f | %.3f | %s | %s | %.0f | %.0f | %.2f |\n", name_of(r.what),
                r.clients, median(r.s.direct_us) / 1e3, median(r.s.gateway_us) / 1e3,
                spread_text(lat).c_str(), verdict(lat.median), median(r.s.direct_ops),
                median(r.s.gateway_ops), median(r.s.throughput_ratio));
  }
  std::printf("\n");
}

}  // namespace sandpool::bench
