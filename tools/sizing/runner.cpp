// The timed run at one pool size (see runner.hpp).
#include "runner.hpp"

#include <latch>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>

#include "sandpool/core/fiber_io.hpp"

#include "samples.hpp"

namespace sandpool::sizing {
namespace {

using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

// One caller's figures; a cache line of its own for the counters it bumps.
struct alignas(64) caller_tally {
  latency_samples waits;
  latency_samples bodies;
  std::uint64_t operations = 0;
  absl::Status error;
};

// The window every caller works to, fixed before they start.
struct window {
  steady::time_point measure_from;
  steady::time_point until;
};

bool counts_as_shed(const absl::Status& s) {
  return s.code() == absl::StatusCode::kDeadlineExceeded ||
         s.code() == absl::StatusCode::kResourceExhausted;
}

void run_caller(pool& p, workload& w, caller_state& me, caller_tally& tally, const window& win,
                std::atomic<bool>& stop, bool yield_between) {
  iteration it;
  while (!stop.load(std::memory_order_relaxed)) {
    it.granted.reset();
    absl::Status s = w.iterate(p, me, it);
    const bool measured = it.requested >= win.measure_from;
    if (s.ok()) {
      if (measured) {
        tally.waits.add(duration_cast<nanoseconds>(*it.granted - it.requested));
        tally.bodies.add(duration_cast<nanoseconds>(it.done - *it.granted));
        ++tally.operations;
      }
    } else if (!it.granted && counts_as_shed(s)) {
      // Timeouts and drops are the pool's to count; the caller asks again.
    } else {
      tally.error = std::move(s);
      stop.store(true, std::memory_order_relaxed);
      return;
    }
    if (steady::now() >= win.until) return;
    if (yield_between) boost::this_fiber::yield();  // the thread's fibers take turns
  }
}

// Waits until the pool has opened all `size` connections.
absl::Status wait_until_warm(pool& p, const pq::driver& driver, std::size_t size,
                             const run_settings& settings, const std::atomic<bool>& interrupted) {
  const auto give_up = steady::now() + settings.warm_limit;
  while (p.metrics().size < size) {
    if (interrupted.load()) return absl::CancelledError("interrupted");
    if (steady::now() >= give_up) {
      const metrics m = p.metrics();
      std::string why = "the pool of size " + std::to_string(size) + " opened only " +
                        std::to_string(m.size) + " connections in " +
                        std::to_string(settings.warm_limit.count()) + " s (" +
                        std::to_string(m.connect_failures) + " failed attempts)";
      auto probe = driver.connect();
      if (!probe.ok()) {
        why += "; connecting now fails: " + std::string(probe.status().message());
      } else {
        why += "; the server may be short of connection slots: lower --sizes or raise the "
               "server's max_connections";
      }
      return absl::UnavailableError(why);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<size_result> measure_size(const pq::driver& driver, workload& w, std::size_t size,
                                         const run_settings& settings, progress& shown,
                                         const std::atomic<bool>& interrupted) {
  pool_options o;
  o.name = "sandpool-size";
  o.max_size = size;
  o.min_idle = size;
  o.checkout_timeout = settings.checkout_timeout;
  auto made = pool::create(driver, o);
  if (!made.ok()) return made.status();
  pool& p = *made;
  if (absl::Status s = w.configure(p); !s.ok()) return s;
  if (absl::Status s = wait_until_warm(p, driver, size, settings, interrupted); !s.ok()) return s;

  const auto callers = static_cast<std::size_t>(settings.threads) *
                       static_cast<std::size_t>(settings.fibers);
  std::vector<caller_tally> tallies(callers);
  std::vector<caller_state> states(callers);
  for (std::size_t i = 0; i < callers; ++i) {
    states[i].id = static_cast<int>(i);
    states[i].rng.seed(static_cast<unsigned>(i * 7919 + size));
  }
  std::atomic<bool> stop{false};
  window win;
  std::latch start(settings.threads + 1);
  std::vector<std::thread> team;
  team.reserve(static_cast<std::size_t>(settings.threads));
  for (int t = 0; t < settings.threads; ++t) {
    team.emplace_back([&, t] {
      const std::size_t first = static_cast<std::size_t>(t * settings.fibers);
      start.arrive_and_wait();
      if (settings.fibers == 1) {
        run_caller(p, w, states[first], tallies[first], win, stop, false);
        return;
      }
      // The thread's fibers wait for the server without blocking it: each
      // is a real concurrent caller.
      boost::fibers::use_scheduling_algorithm<fiber_io_scheduler>();
      std::vector<boost::fibers::fiber> crew;
      crew.reserve(static_cast<std::size_t>(settings.fibers));
      for (std::size_t f = first; f < first + static_cast<std::size_t>(settings.fibers); ++f)
        crew.emplace_back([&, f] { run_caller(p, w, states[f], tallies[f], win, stop, true); });
      for (auto& fb : crew) fb.join();
    });
  }

  const auto begin = steady::now();
  win.measure_from = begin + duration_cast<nanoseconds>(duration<double>(settings.warmup));
  win.until = win.measure_from + duration_cast<nanoseconds>(duration<double>(settings.seconds));
  start.arrive_and_wait();  // publishes `win` to every caller

  // Watch the clock: take the pool's counters when measuring starts, show
  // progress, and stop early on Ctrl-C.
  bool baseline_taken = false;
  metrics before;
  while (!stop.load(std::memory_order_relaxed)) {
    const auto now = steady::now();
    if (!baseline_taken && now >= win.measure_from) {
      before = p.metrics();
      baseline_taken = true;
    }
    if (now >= win.until) break;
    if (interrupted.load()) stop.store(true);
    shown.tick(duration<double>(now - begin).count());
    const auto next = std::min(now + std::chrono::milliseconds(100),
                               baseline_taken ? win.until : win.measure_from);
    std::this_thread::sleep_until(next);
  }
  for (auto& th : team) th.join();
  const metrics after = p.metrics();
  (void)p.shutdown(std::chrono::seconds(1));

  if (interrupted.load()) return absl::CancelledError("interrupted");
  for (caller_tally& t : tallies)
    if (!t.error.ok()) {
      return absl::Status(t.error.code(), "at pool size " + std::to_string(size) + ": " +
                                              std::string(t.error.message()));
    }

  latency_samples waits, bodies;
  size_result r;
  r.size = size;
  for (caller_tally& t : tallies) {
    r.operations += t.operations;
    waits.merge(std::move(t.waits));
    bodies.merge(std::move(t.bodies));
  }
  r.seconds = settings.seconds;
  r.throughput = static_cast<double>(r.operations) / settings.seconds;
  r.wait_p50 = waits.quantile(0.50);
  r.wait_p95 = waits.quantile(0.95);
  r.wait_p99 = waits.quantile(0.99);
  r.query_p99 = bodies.quantile(0.99);
  r.high_water = after.max_in_use;
  if (!baseline_taken) before = metrics{};
  r.timeouts = after.timeouts - before.timeouts;
  r.drops = after.drops - before.drops;
  return r;
}

}  // namespace sandpool::sizing
