// P8's rounds: the two subjects (direct to the server, through the gateway)
// run back to back, in the other order every round, and each round gives
// one latency ratio and one throughput ratio taken from those two
// back-to-back runs. The rule it owns: a ratio only ever compares runs of
// the same round, so drift in the machine's load cancels out.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "p3_harness.hpp"

namespace sandpool::bench {

// What one run of one subject measured.
struct sample {
  double us = 0;   // mean time per operation of one client
  double ops = 0;  // operations per second, all clients together
};

// Every round's figures of one comparison.
struct series {
  std::vector<double> direct_us, gateway_us, direct_ops, gateway_ops;
  std::vector<double> latency_ratio;     // gateway us / direct us: above 1 is slower
  std::vector<double> throughput_ratio;  // gateway ops / direct ops: below 1 is slower

  void add(const sample& direct, const sample& gateway) {
    direct_us.push_back(direct.us);
    gateway_us.push_back(gateway.us);
    direct_ops.push_back(direct.ops);
    gateway_ops.push_back(gateway.ops);
    latency_ratio.push_back(gateway.us / direct.us);
    throughput_ratio.push_back(gateway.ops / direct.ops);
  }
};

struct spread {
  double min = 0, median = 0, max = 0;
};

inline spread spread_of(const std::vector<double>& v) {
  if (v.empty()) return {};
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return {*lo, median(v), *hi};
}

// Runs `rounds` rounds of direct() and gateway() (each returning
// absl::StatusOr<sample>), direct first in even rounds, into s. Stops at
// the first error and returns it. `what` names the comparison in the
// progress lines on stderr.
template <class Direct, class Gateway>
absl::Status interleave(int rounds, const std::string& what, Direct&& direct, Gateway&& gateway,
                        series& s) {
  for (int round = 0; round < rounds; ++round) {
    if (round == 0 || (round + 1) % 10 == 0 || round + 1 == rounds)
      std::fprintf(stderr, "p8_gateway %s: round %d/%d\n", what.c_str(), round + 1, rounds);
    const bool direct_first = round % 2 == 0;
    auto a = direct_first ? direct() : gateway();
    if (!a.ok()) return a.status();
    auto b = direct_first ? gateway() : direct();
    if (!b.ok()) return b.status();
    s.add(direct_first ? *a : *b, direct_first ? *b : *a);
  }
  return absl::OkStatus();
}

}  // namespace sandpool::bench
