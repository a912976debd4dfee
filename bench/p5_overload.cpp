// P5: the pool under overload, with CoDel shedding and without it. A pool of
// --size connections (fake driver, housekeeping thread, checkout_timeout
// 100 ms); every request checks out, holds the connection for a fixed
// service time by sleeping its fiber, and checks in. Capacity is therefore
// size / service time. Requests arrive open-loop, as a Poisson process at
// 1.5x and 3x capacity, split over a few threads: each thread runs a
// generator fiber that spawns one fiber per arrival at its scheduled time,
// whether or not earlier requests have finished.
//
// Each load runs twice in the same round: with overload control on
// (queue_target 5 ms, queue_interval 100 ms: waiters older than 10 ms are
// shed once a whole interval was served late) and off (queue_target and
// queue_interval set to sandpool::infinite, which validate() accepts and
// which never sheds). Figures count the requests that arrived in the
// measured window (after a warm-up); latency runs from the scheduled
// arrival to the checkin, so a late generator is charged, not hidden.
// Goodput is the rate of requests that completed within the SLO.
//
// Noise control: --rounds rounds, the two configurations alternating which
// goes first; the table shows medians over rounds.
//
// Usage: p5_overload [--seconds S] [--rounds N] [--label TEXT]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <boost/fiber/fixedsize_stack.hpp>
#include <boost/fiber/operations.hpp>

#include "p3_harness.hpp"
#include "run_settings.hpp"
#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using pool_type = sandpool::basic_pool<sandpool::fake::driver>;
using ms = std::chrono::duration<double, std::milli>;
using sandpool::bench::median;

constexpr std::size_t pool_size = 4;
constexpr auto service = std::chrono::milliseconds(2);
constexpr auto checkout_timeout = std::chrono::milliseconds(100);
constexpr auto slo = std::chrono::milliseconds(50);
constexpr auto warm_up = std::chrono::milliseconds(500);
constexpr int arrival_threads = 2;
constexpr double capacity = pool_size / 0.002;  // requests per second: size / service

constexpr const char* usage =
    "usage: p5_overload [--seconds S (> 0, default 2)] [--rounds N (>= 1, default 3)] "
    "[--label TEXT]\n"
    "Measures goodput and checkout wait at 1.5x and 3x capacity, with CoDel shedding and "
    "without.\n";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "p5_overload: %s\n", what.c_str());
  std::exit(1);
}

// One arrival thread's counts; only that thread's fibers touch it.
struct tally {
  std::vector<double> wait_ms;  // checkout wait of served requests
  std::uint64_t arrived = 0, served = 0, good = 0, timeouts = 0, drops = 0;
  double hold_ms = 0;  // summed over served requests
};

// What one run measured, per second of the measured window.
struct outcome {
  double offered = 0, served = 0, good = 0, timeouts = 0, drops = 0;
  double wait_p50_ms = 0, wait_p99_ms = 0, mean_hold_ms = 0;
};

double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

pool_type make_pool(bool codel) {
  sandpool::pool_options o;
  o.name = codel ? "p5-codel" : "p5-fifo";
  o.max_size = pool_size;
  o.min_idle = pool_size;
  o.checkout_timeout = checkout_timeout;
  if (codel) {
    o.queue_target = std::chrono::milliseconds(5);
    o.queue_interval = std::chrono::milliseconds(100);
  } else {
    o.queue_target = sandpool::infinite;
    o.queue_interval = sandpool::infinite;
  }
  auto p = pool_type::create(sandpool::fake::driver{}, o);
  if (!p.ok()) fail(p.status().ToString());
  while (p->metrics().idle != pool_size) std::this_thread::yield();
  return std::move(*p);
}

// One request, arriving at `arrival`: check out, hold, check in.
void request(pool_type& pool, tally& t, clock_type::time_point arrival, bool counted) {
  const auto called = clock_type::now();
  auto lease = pool.checkout();
  const auto got = clock_type::now();
  if (!lease.ok()) {
    if (!counted) return;
    if (lease.status().code() == absl::StatusCode::kDeadlineExceeded) {
      ++t.timeouts;
    } else if (lease.status().code() == absl::StatusCode::kResourceExhausted) {
      ++t.drops;
    } else {
      fail("unexpected checkout error: " + lease.status().ToString());
    }
    return;
  }
  boost::this_fiber::sleep_for(service);
  (void)lease->checkin();
  const auto done = clock_type::now();
  if (!counted) return;
  ++t.served;
  t.wait_ms.push_back(ms(got - called).count());
  t.hold_ms += ms(done - got).count();
  if (done - arrival <= slo) ++t.good;
}

// Spawns a fiber per Poisson arrival until `stop`, then waits for them all.
void generate(pool_type& pool, tally& t, double rate, std::uint64_t seed,
              clock_type::time_point start, clock_type::time_point window,
              clock_type::time_point stop) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate);
  int in_flight = 0;
  for (auto next = start;;) {
    next += std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(gap(rng)));
    if (next >= stop) break;
    boost::this_fiber::sleep_until(next);
    const bool counted = next >= window;
    if (counted) ++t.arrived;
    ++in_flight;
    boost::fibers::fiber(std::allocator_arg, boost::fibers::fixedsize_stack(64 * 1024),
                         [&pool, &t, &in_flight, next, counted] {
                           request(pool, t, next, counted);
                           --in_flight;
                         })
        .detach();
  }
  while (in_flight > 0) boost::this_fiber::sleep_for(std::chrono::milliseconds(1));
}

outcome run(double factor, bool codel, double seconds, std::uint64_t seed) {
  pool_type pool = make_pool(codel);
  std::vector<tally> tallies(arrival_threads);
  const auto start = clock_type::now() + std::chrono::milliseconds(10);
  const auto window = start + warm_up;
  const auto stop = window + std::chrono::duration_cast<clock_type::duration>(
                                 std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int i = 0; i < arrival_threads; ++i)
    threads.emplace_back([&, i] {
      generate(pool, tallies[static_cast<std::size_t>(i)], factor * capacity / arrival_threads,
               seed * 31 + static_cast<std::uint64_t>(i), start, window, stop);
    });
  for (auto& th : threads) th.join();

  tally all;
  for (tally& t : tallies) {
    all.wait_ms.insert(all.wait_ms.end(), t.wait_ms.begin(), t.wait_ms.end());
    all.arrived += t.arrived;
    all.served += t.served;
    all.good += t.good;
    all.timeouts += t.timeouts;
    all.drops += t.drops;
    all.hold_ms += t.hold_ms;
  }
  auto per_s = [&](std::uint64_t n) { return static_cast<double>(n) / seconds; };
  outcome o;
  o.offered = per_s(all.arrived);
  o.served = per_s(all.served);
  o.good = per_s(all.good);
  o.timeouts = per_s(all.timeouts);
  o.drops = per_s(all.drops);
  o.wait_p50_ms = quantile(all.wait_ms, 0.50);
  o.wait_p99_ms = quantile(all.wait_ms, 0.99);
  o.mean_hold_ms = all.served > 0 ? all.hold_ms / static_cast<double>(all.served) : 0;
  return o;
}

// Medians over rounds, field by field.
outcome medians(const std::vector<outcome>& v) {
  auto m = [&](double outcome::*f) {
    std::vector<double> x;
    for (const outcome& o : v) x.push_back(o.*f);
    return median(std::move(x));
  };
  outcome o;
  for (double outcome::*f : {&outcome::offered, &outcome::served, &outcome::good,
                             &outcome::timeouts, &outcome::drops, &outcome::wait_p50_ms,
                             &outcome::wait_p99_ms, &outcome::mean_hold_ms})
    o.*f = m(f);
  return o;
}

std::string ratio(double a, double b) {
  char buf[32];
  if (b <= 0) return a <= 0 ? "–" : "∞ (baseline 0)";
  std::snprintf(buf, sizeof buf, "%.2f", a / b);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  sandpool::bench::run_settings defaults;
  defaults.seconds = 2.0;
  defaults.rounds = 3;
  const auto s = sandpool::bench::parse_run_settings(argc, argv, "p5_overload", usage, defaults);

  const std::vector<double> loads = {1.5, 3.0};
  std::vector<std::vector<outcome>> with(loads.size()), without(loads.size());
  for (int round = 0; round < s.rounds; ++round)
    for (std::size_t l = 0; l < loads.size(); ++l) {
      std::fprintf(stderr, "p5_overload [%s] %.1fx capacity: round %d/%d\n", s.label.c_str(),
                   loads[l], round + 1, s.rounds);
      const auto seed = static_cast<std::uint64_t>(round * 10 + static_cast<int>(l));
      if (round % 2 == 0) {
        with[l].push_back(run(loads[l], true, s.seconds, seed));
        without[l].push_back(run(loads[l], false, s.seconds, seed));
      } else {
        without[l].push_back(run(loads[l], false, s.seconds, seed));
        with[l].push_back(run(loads[l], true, s.seconds, seed));
      }
    }

  std::printf("### P5 (%s): overload at 1.5x and 3x capacity, CoDel shedding vs none\n\n",
              s.label.c_str());
  std::printf(
      "Pool of %zu connections (fake driver, housekeeping thread), checkout_timeout %lld ms; "
      "each request holds its connection for %lld ms (a fiber sleep), so capacity is %.0f "
      "requests/s. Poisson arrivals on %d threads, a fiber per request; %.3g s measured after "
      "a %lld ms warm-up, medians of %d round(s) with both configurations in each. Baseline: "
      "the same pool and arrivals with overload control off (queue_target = queue_interval = "
      "sandpool::infinite); CoDel: queue_target 5 ms, queue_interval 100 ms.\n\n"
      "- goodput: requests completed (checkin) within %lld ms of their scheduled arrival, per "
      "second; / capacity divides by %.0f/s.\n"
      "- wait: checkout wait of served requests; hold: mean time from checkout to checkin "
      "(service time plus timer slack).\n\n",
      pool_size, static_cast<long long>(checkout_timeout.count()),
      static_cast<long long>(service.count()), capacity, arrival_threads, s.seconds,
      static_cast<long long>(warm_up.count()), s.rounds, static_cast<long long>(slo.count()),
      capacity);
  std::printf(
      "| load | overload control | offered/s | served/s | goodput/s | goodput / capacity | "
      "wait p50 ms | wait p99 ms | timeouts/s | drops/s | hold ms |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t l = 0; l < loads.size(); ++l)
    for (bool codel : {false, true}) {
      const outcome o = medians(codel ? with[l] : without[l]);
      std::printf("| %.1fx | %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.2f |\n",
                  loads[l], codel ? "CoDel 5 ms / 100 ms" : "none (baseline)", o.offered,
                  o.served, o.good, o.good / capacity, o.wait_p50_ms, o.wait_p99_ms, o.timeouts,
                  o.drops, o.mean_hold_ms);
    }
  std::printf(
      "\n| load | goodput CoDel / none | wait p99 CoDel / none | goodput per round, CoDel / "
      "none |\n|---|---|---|---|\n");
  for (std::size_t l = 0; l < loads.size(); ++l) {
    const outcome c = medians(with[l]), n = medians(without[l]);
    std::string rounds;
    for (std::size_t r = 0; r < with[l].size(); ++r) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "%s%.0f/%.0f", rounds.empty() ? "" : " ", with[l][r].good,
                    without[l][r].good);
      rounds += buf;
    }
    std::printf("| %.1fx | %s | %s | %s |\n", loads[l], ratio(c.good, n.good).c_str(),
                ratio(c.wait_p99_ms, n.wait_p99_ms).c_str(), rounds.c_str());
  }
  std::printf("\n");
  return 0;
}
