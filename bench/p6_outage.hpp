// P6's outage figure: the CPU the whole process spends while one checkout
// waits out an outage (a pool whose server does not exist: every connect
// fails at once, min_idle = 1 keeps housekeeping retrying with its backoff),
// against the same process doing nothing for the same time, measured in the
// same round. Both are process CPU (getrusage, every thread) over wall time.
#pragma once

#include <chrono>
#include <thread>

#include "p3_harness.hpp"  // process_cpu_seconds
#include "sandpool/sandpool.hpp"

namespace sandpool::bench {

struct outage_figures {
  double idle_pct = 0;     // % of one core, nothing running
  double waiting_pct = 0;  // % of one core, one checkout waiting out the outage
  bool failed_as_expected = false;  // the checkout failed with the connect error
};

inline outage_figures measure_outage(std::chrono::milliseconds wait) {
  using clock = std::chrono::steady_clock;
  auto pct = [](double cpu, clock::duration wall) {
    return 100.0 * cpu / std::chrono::duration<double>(wall).count();
  };
  outage_figures f;
  {
    const double cpu0 = process_cpu_seconds();
    const auto t0 = clock::now();
    std::this_thread::sleep_for(wait);
    f.idle_pct = pct(process_cpu_seconds() - cpu0, clock::now() - t0);
  }
  absl::StatusOr<pq::driver> d =
      pq::driver::create("host=/nonexistent-sandpool-outage port=1 dbname=app user=app");
  if (!d.ok()) return f;
  pool_options o;
  o.name = "p6_outage";
  o.max_size = 4;
  o.min_idle = 1;
  o.checkout_timeout = wait;
  absl::StatusOr<pool> p = pool::create(*std::move(d), o);
  if (!p.ok()) return f;
  const double cpu0 = process_cpu_seconds();
  const auto t0 = clock::now();
  absl::StatusOr<lease> l = p->checkout();
  f.waiting_pct = pct(process_cpu_seconds() - cpu0, clock::now() - t0);
  f.failed_as_expected = !l.ok() && l.status().code() == absl::StatusCode::kDeadlineExceeded;
  return f;
}

}  // namespace sandpool::bench
