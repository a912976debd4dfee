// The timed run behind P3: `threads` threads, each running `fibers` callers
// (1 = the thread itself, more = Boost.Fiber fibers on that thread), every
// caller repeating one cycle until the run's time is up. It owns the rule
// that all callers start together and that a run's figures count only
// cycles that completed: a failed cycle stops the run and is reported.
// Not thread-safe itself: one run at a time.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>

#include "absl/status/status.h"

namespace sandpool::bench {

// What one run measured.
struct tally {
  std::uint64_t cycles = 0;
  double seconds = 0;      // wall time from the common start to the last caller's end
  double busy_ns = 0;      // sum over cycles of each cycle's own duration
  double cpu_seconds = 0;  // user + system time of the whole process during the run
  absl::Status error;      // the first failed cycle, if any

  double per_second() const { return seconds > 0 ? static_cast<double>(cycles) / seconds : 0; }
  double mean_us() const { return cycles > 0 ? busy_ns / static_cast<double>(cycles) / 1e3 : 0; }
  double cpu_us() const {
    return cycles > 0 ? cpu_seconds * 1e6 / static_cast<double>(cycles) : 0;
  }
};

// User + system CPU time this process has used so far.
inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// Runs cycle(thread_index) from every caller for `duration`. A cycle returns
// absl::Status; its duration counts whatever it waited for (a fiber queued
// for a connection included). Fibers yield after each cycle so the fibers of
// a thread take turns instead of one of them looping alone.
template <class Cycle>
tally timed_run(int threads, int fibers, std::chrono::duration<double> duration, Cycle& cycle) {
  using clock = std::chrono::steady_clock;
  struct alignas(64) counts {  // one cache line per caller: no false sharing
    std::uint64_t cycles = 0;
    double busy_ns = 0;
  };
  std::vector<counts> per_caller(static_cast<std::size_t>(threads * fibers));
  std::atomic<bool> stop{false};
  std::mutex error_mu;
  absl::Status first_error;

  auto caller = [&](int thread, counts& c) {
    while (!stop.load(std::memory_order_relaxed)) {
      const auto t0 = clock::now();
      absl::Status s = cycle(thread);
      const auto t1 = clock::now();
      if (!s.ok()) {
        std::lock_guard g(error_mu);
        if (first_error.ok()) first_error = std::move(s);
        stop.store(true, std::memory_order_relaxed);
        return;
      }
      ++c.cycles;
      c.busy_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
      if (fibers > 1) boost::this_fiber::yield();
    }
  };

  std::latch start(threads + 1);
  std::vector<std::thread> team;
  for (int t = 0; t < threads; ++t)
    team.emplace_back([&, t] {
      counts* mine = &per_caller[static_cast<std::size_t>(t * fibers)];
      start.arrive_and_wait();
      if (fibers == 1) return caller(t, mine[0]);
      std::vector<boost::fibers::fiber> crew;
      for (int f = 0; f < fibers; ++f) crew.emplace_back([&, f] { caller(t, mine[f]); });
      for (auto& fb : crew) fb.join();
    });
  const double cpu_before = process_cpu_seconds();
  start.arrive_and_wait();
  const auto begin = clock::now();
  std::this_thread::sleep_for(duration);
  stop.store(true, std::memory_order_relaxed);
  for (auto& th : team) th.join();
  const auto end = clock::now();
  const double cpu_after = process_cpu_seconds();

  tally out;
  out.seconds = std::chrono::duration<double>(end - begin).count();
  out.cpu_seconds = cpu_after - cpu_before;
  for (const counts& c : per_caller) {
    out.cycles += c.cycles;
    out.busy_ns += c.busy_ns;
  }
  out.error = std::move(first_error);
  return out;
}

// The median of a few figures (the upper middle one for an even count).
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace sandpool::bench
