// P2: how long a connection takes to reach a caller that is already queued
// for it. A pool of one connection (fake driver, housekeeping thread) and
// two callers playing ping-pong on it: the holder waits until the other
// caller is queued, notes the time and checks in, which hands the
// connection to the queued caller; that caller notes the time again as soon
// as its checkout returns, then becomes the holder while the first queues
// again. Each hand-off is timed on its own, from just before the checkin to
// the waiter running with the lease: across threads the holder could
// otherwise check in before the other caller has queued again and take the
// connection straight back, which is no hand-off at all. Two cases:
//   - same thread: the callers are two Boost.Fiber fibers of one thread;
//   - across threads: the callers are two threads.
// Baselines, measured in the same run, play the same ping-pong with a turn
// variable under the bare primitives a hand-off needs: boost::fibers::mutex
// + condition_variable (same thread) and std::mutex + condition_variable
// (across threads), timed the same way. bench/mutex_pool.hpp is not one: a
// thread that gives its slot back may take it again before the waiter
// wakes, so it does not hand off.
//
// Noise control: every case runs --rounds rounds of --seconds per subject,
// the two subjects alternating which goes first; a run's figure is the
// median hand-off, the table shows the median over rounds, and the ratio is
// the median of the per-round ratios.
//
// Usage: p2_handoff [--seconds S] [--rounds N] [--label TEXT]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/mutex.hpp>
#include <boost/fiber/operations.hpp>

#include "p3_harness.hpp"
#include "run_settings.hpp"
#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using pool_type = sandpool::basic_pool<sandpool::fake::driver>;
using sandpool::bench::median;

constexpr const char* usage =
    "usage: p2_handoff [--seconds S (> 0, default 0.5)] [--rounds N (>= 1, default 5)] "
    "[--label TEXT]\n"
    "Measures the hand-off of a pool's only connection to a queued fiber or thread against "
    "a mutex + condition variable ping-pong.\n";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "p2_handoff: %s\n", what.c_str());
  std::exit(1);
}

// What two players share. Everything but `stop` is touched only by the
// player holding the connection (or the turn); the pool's lock (or the
// mutex) orders one holder's writes before the next holder's reads.
struct match {
  std::atomic<bool> stop{false};
  clock_type::time_point handed_at{};  // when the last checkin started
  std::vector<double> ns;              // one sample per hand-off
  std::uint64_t repeats = 0;           // grants to the caller that had the previous one
  int last = -1;

  // The caller `me` runs with the connection (or the turn).
  void granted(int me) {
    if (last >= 0 && !stop.load(std::memory_order_relaxed))
      ns.push_back(std::chrono::duration<double, std::nano>(clock_type::now() - handed_at).count());
    if (last == me) ++repeats;
    last = me;
  }
};

// What one run measured.
struct outcome {
  double ns = 0;  // median hand-off
  std::uint64_t handoffs = 0, repeats = 0;
};

outcome result_of(match& m) {
  const std::uint64_t n = m.ns.size();
  return {median(std::move(m.ns)), n, m.repeats};
}

void stop_after(match& m, double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  m.stop.store(true, std::memory_order_relaxed);
}

pool_type make_pool() {
  sandpool::pool_options o;
  o.name = "p2";
  o.max_size = 1;
  o.min_idle = 1;
  // Hand-offs are measured, not shedding: overload control is off.
  o.queue_target = sandpool::infinite;
  o.queue_interval = sandpool::infinite;
  auto p = pool_type::create(sandpool::fake::driver{}, o);
  if (!p.ok()) fail(p.status().ToString());
  while (p->metrics().idle != 1) std::this_thread::yield();
  return std::move(*p);
}

// Checks out until told to stop. Before checking in it lets time pass
// (`pass`: yield the fiber or the thread) until the other caller is queued,
// so that the checkin is a hand-off; that wait is outside the timed span.
template <class Pass>
void pool_player(pool_type& pool, match& m, int me, Pass pass) {
  for (;;) {
    auto lease = pool.checkout();
    if (!lease.ok()) fail(lease.status().ToString());
    m.granted(me);
    // The other caller has queued by now or will: it leaves only after
    // holding the connection, which it cannot while we hold it.
    if (m.stop.load(std::memory_order_relaxed)) return;
    while (pool.metrics().waiting == 0) pass();
    m.handed_at = clock_type::now();
    (void)lease->checkin();
  }
}

outcome pool_same_thread(double seconds) {
  pool_type pool = make_pool();
  match m;
  auto pass = [] { boost::this_fiber::yield(); };
  std::thread court([&] {
    boost::fibers::fiber other([&] { pool_player(pool, m, 1, pass); });
    pool_player(pool, m, 0, pass);
    other.join();
  });
  stop_after(m, seconds);
  court.join();
  return result_of(m);
}

outcome pool_across_threads(double seconds) {
  pool_type pool = make_pool();
  match m;
  auto pass = [] { std::this_thread::yield(); };
  std::thread other([&] { pool_player(pool, m, 1, pass); });
  std::thread mine([&] { pool_player(pool, m, 0, pass); });
  stop_after(m, seconds);
  mine.join();
  other.join();
  return result_of(m);
}

// The baseline: whoever has the turn waits until the other is asleep on
// the condition variable, then passes the turn. `asleep` is counted under
// the mutex, which the sleeper releases only inside wait(), so asleep == 1
// seen under the mutex means the other is really waiting.
template <class Mutex, class CondVar, class Pass>
struct ping_pong {
  Mutex mutex;
  CondVar cv;
  int turn = 0;
  int asleep = 0;

  void play(match& m, int me, Pass pass) {
    std::unique_lock lk(mutex);
    for (;;) {
      ++asleep;
      while (turn != me) cv.wait(lk);
      --asleep;
      m.granted(me);
      const bool done = m.stop.load(std::memory_order_relaxed);
      while (!done && asleep == 0) {
        lk.unlock();
        pass();
        lk.lock();
      }
      m.handed_at = clock_type::now();
      turn = 1 - me;
      cv.notify_one();
      if (done) return;
    }
  }
};

outcome fibers_same_thread(double seconds) {
  auto pass = [] { boost::this_fiber::yield(); };
  ping_pong<boost::fibers::mutex, boost::fibers::condition_variable, decltype(pass)> game;
  match m;
  std::thread court([&] {
    boost::fibers::fiber other([&] { game.play(m, 1, pass); });
    game.play(m, 0, pass);
    other.join();
  });
  stop_after(m, seconds);
  court.join();
  return result_of(m);
}

outcome std_across_threads(double seconds) {
  auto pass = [] { std::this_thread::yield(); };
  ping_pong<std::mutex, std::condition_variable, decltype(pass)> game;
  match m;
  std::thread other([&] { game.play(m, 1, pass); });
  std::thread mine([&] { game.play(m, 0, pass); });
  stop_after(m, seconds);
  mine.join();
  other.join();
  return result_of(m);
}

struct versus {
  const char* name;
  const char* baseline;
  outcome (*pool)(double);
  outcome (*base)(double);
};

}  // namespace

int main(int argc, char** argv) {
  sandpool::bench::run_settings defaults;
  defaults.seconds = 0.5;
  defaults.rounds = 5;
  const auto s = sandpool::bench::parse_run_settings(argc, argv, "p2_handoff", usage, defaults);

  const std::vector<versus> cases = {
      {"same thread (two fibers)", "boost::fibers::mutex + condition_variable", pool_same_thread,
       fibers_same_thread},
      {"across threads (two threads)", "std::mutex + std::condition_variable",
       pool_across_threads, std_across_threads},
  };
  std::printf("### P2 (%s): hand-off of a pool's only connection to a queued caller\n\n",
              s.label.c_str());
  std::printf(
      "Pool of one connection (fake driver, housekeeping thread, overload control off); two "
      "callers play ping-pong on it and the holder checks in only once the other is queued, so "
      "every checkin is a hand-off. Baseline: the same ping-pong on a turn variable under a "
      "bare mutex + condition variable, in the same run. %.3g s per run, subjects "
      "alternating, medians of %d round(s).\n\n"
      "- ns/hand-off: median time from just before the holder's checkin (or its passing the "
      "turn) to the queued caller running with the connection.\n"
      "- sandpool/baseline: time ratio (above 1 means the pool's hand-off is slower).\n"
      "- not handed off: grants that went to the caller that had the previous one "
      "(0 means the pool alternated strictly).\n\n",
      s.seconds, s.rounds);
  std::printf(
      "| waiter | sandpool ns/hand-off | baseline | baseline ns/hand-off | "
      "sandpool/baseline | not handed off | ratio per round |\n|---|---|---|---|---|---|---|\n");
  for (const versus& c : cases) {
    std::vector<double> pool_ns, base_ns, ratios;
    std::uint64_t repeats = 0, handoffs = 0;
    (void)c.pool(std::min(0.1, s.seconds));  // warm-up: threads, stacks, caches
    (void)c.base(std::min(0.1, s.seconds));
    for (int round = 0; round < s.rounds; ++round) {
      std::fprintf(stderr, "p2_handoff [%s] %s: round %d/%d\n", s.label.c_str(), c.name,
                   round + 1, s.rounds);
      outcome p, b;
      if (round % 2 == 0) {
        p = c.pool(s.seconds);
        b = c.base(s.seconds);
      } else {
        b = c.base(s.seconds);
        p = c.pool(s.seconds);
      }
      pool_ns.push_back(p.ns);
      base_ns.push_back(b.ns);
      ratios.push_back(p.ns / b.ns);
      repeats += p.repeats;
      handoffs += p.handoffs;
    }
    std::string per_round;
    for (double r : ratios) {
      char buf[24];
      std::snprintf(buf, sizeof buf, "%s%.2f", per_round.empty() ? "" : " ", r);
      per_round += buf;
    }
    std::printf("| %s | %.0f | %s | %.0f | %.2f | %llu of %llu | %s |\n", c.name,
                median(pool_ns), c.baseline, median(base_ns), median(ratios),
                static_cast<unsigned long long>(repeats), static_cast<unsigned long long>(handoffs),
                per_round.c_str());
  }
  std::printf("\n");
  return 0;
}
