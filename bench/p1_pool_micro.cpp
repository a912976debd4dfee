// P1: the cost of checkout + checkin with a do-nothing connection, for
// sandpool, SOCI's connection_pool and a mutex+vector pool, each through its
// public API in a bare loop, over 1 and 2 threads, 1 and 8 fibers per
// thread and a few pool sizes. The subjects are interleaved and their order
// rotates every round; each round times every subject for the same number
// of cycles, and the report gives each subject's median ns per cycle and the
// min / median / max over rounds of the per-round ratios, so a noisy spell
// of the machine moves all subjects of a round alike.
//
// Usage: p1_pool_micro [rounds] [cycles per thread per measurement]
#include <soci/connection-pool.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>

#include "mutex_pool.hpp"
#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

namespace {

using sandpool::bench::mutex_pool;
using pool_type = sandpool::basic_pool<sandpool::fake::driver>;

template <class T>
void keep(const T& v) {
  asm volatile("" : : "g"(&v) : "memory");  // the compiler must compute v
}

pool_type make_sandpool(std::size_t size) {
  sandpool::pool_options o;
  o.max_size = size;
  o.min_idle = size;
  o.queue_target = std::chrono::seconds(10);  // measure the pool, not shedding
  o.queue_interval = std::chrono::seconds(20);
  auto p = pool_type::create(sandpool::fake::driver{}, o);
  while (p->metrics().idle != size) std::this_thread::yield();  // warm
  return std::move(*p);
}

// The subjects: each pool's checkout + checkin, as its users write it.
struct sandpool_cycle {
  pool_type* pool;
  void operator()() const {
    auto lease = pool->checkout();
    keep((*lease)->id);
  }
};
template <class Pool>
struct slot_cycle {  // SOCI's connection_pool and the mutex pool share an API
  Pool* pool;
  void operator()() const {
    const std::size_t slot = pool->lease();
    keep(slot);
    pool->give_back(slot);
  }
};
constexpr std::array<const char*, 3> subject_names{"sandpool", "soci", "mutex"};

// ns per cycle, all threads together, for `cycles` cycles per thread.
template <class Cycle>
double time_cycles(const Cycle& cycle, int threads, int fibers, long cycles) {
  auto body = [&] {
    if (fibers == 1) {
      for (long i = 0; i < cycles; ++i) cycle();
      return;
    }
    std::vector<boost::fibers::fiber> team;
    for (int f = 0; f < fibers; ++f)
      team.emplace_back([&] {
        for (long i = 0; i < cycles / fibers; ++i) {
          cycle();
          boost::this_fiber::yield();
        }
      });
    for (auto& fb : team) fb.join();
  };
  const auto start = std::chrono::steady_clock::now();
  if (threads == 1) {
    body();
  } else {
    std::vector<std::thread> team;
    for (int t = 0; t < threads; ++t) team.emplace_back(body);
    for (auto& t : team) t.join();
  }
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  return took.count() / static_cast<double>(cycles * threads);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct config {
  int threads, fibers, size;
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 41;
  const long cycles = argc > 2 ? std::atol(argv[2]) : 100000;
  const std::array<config, 6> configs{{{1, 1, 2}, {1, 1, 16}, {1, 8, 4}, {2, 1, 4}, {2, 1, 16},
                                       {2, 8, 4}}};
  std::printf(
      "\nP1 checkout+checkin, do-nothing connection: ns per cycle, all threads together\n"
      "(%d rounds, subjects interleaved and rotated each round, %ld cycles per thread per "
      "measurement; ns: median over rounds; ratios: min / median / max over rounds of the\n"
      "per-round time of SOCI or the mutex pool over sandpool's, >1 means sandpool is "
      "faster)\n\n"
      "| threads | fibers/thread | pool size | sandpool ns | SOCI ns | mutex+vector ns | "
      "vs SOCI | vs mutex |\n|---|---|---|---|---|---|---|---|\n",
      rounds, cycles);
  for (const config& c : configs) {
    pool_type sp = make_sandpool(static_cast<std::size_t>(c.size));
    soci::connection_pool soci(static_cast<std::size_t>(c.size));
    mutex_pool mutex(static_cast<std::size_t>(c.size));
    auto measure = [&](std::size_t i, long n) {
      switch (i) {
        case 0: return time_cycles(sandpool_cycle{&sp}, c.threads, c.fibers, n);
        case 1: return time_cycles(slot_cycle<soci::connection_pool>{&soci}, c.threads, c.fibers, n);
        default: return time_cycles(slot_cycle<mutex_pool>{&mutex}, c.threads, c.fibers, n);
      }
    };
    std::vector<std::vector<double>> ns(subject_names.size());
    for (std::size_t i = 0; i < ns.size(); ++i) (void)measure(i, cycles / 4);  // warm
    for (int r = 0; r < rounds; ++r)
      for (std::size_t k = 0; k < ns.size(); ++k) {
        const std::size_t i = (k + static_cast<std::size_t>(r)) % ns.size();
        ns[i].push_back(measure(i, cycles));
      }
    std::printf("| %d | %d | %d | %.1f | %.1f | %.1f |", c.threads, c.fibers, c.size,
                median(ns[0]), median(ns[1]), median(ns[2]));
    for (std::size_t other : {1u, 2u}) {
      std::vector<double> ratio;
      for (int r = 0; r < rounds; ++r) ratio.push_back(ns[other][r] / ns[0][r]);
      std::printf(" %.2f / %.2f / %.2f |", *std::min_element(ratio.begin(), ratio.end()),
                  median(ratio), *std::max_element(ratio.begin(), ratio.end()));
    }
    std::printf("\n");
    std::fflush(stdout);
  }
}
