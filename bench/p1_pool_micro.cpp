// P1: the cost of checkout + checkin with a do-nothing connection, for
// sandpool, SOCI's connection_pool and a mutex+vector pool, over 1 and 2
// threads, 1 and 8 fibers per thread, pool sizes 2, 4 and 16. Prints Google
// Benchmark's table, then a summary with ratios against SOCI from this run.
// With fibers, each fiber yields after every cycle so fibers interleave.
#include <benchmark/benchmark.h>
#include <soci/connection-pool.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>

#include "mutex_pool.hpp"
#include "ratio_reporter.hpp"
#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

namespace {

using sandpool::bench::mutex_pool;

struct sandpool_subject {
  static constexpr const char* name = "sandpool";
  using pool_type = sandpool::basic_pool<sandpool::fake::driver>;
  explicit sandpool_subject(std::size_t size) : pool(make(size)) {
    while (pool.metrics().idle != size) std::this_thread::yield();  // warm
  }
  static pool_type make(std::size_t size) {
    sandpool::pool_options o;
    o.max_size = size;
    o.min_idle = size;
    o.queue_target = std::chrono::seconds(10);  // measure the pool, not shedding
    o.queue_interval = std::chrono::seconds(20);
    return std::move(*pool_type::create(sandpool::fake::driver{}, o));
  }
  void cycle() {
    auto lease = pool.checkout();
    benchmark::DoNotOptimize((*lease)->id);
  }
  pool_type pool;
};

struct soci_subject {
  static constexpr const char* name = "soci";
  explicit soci_subject(std::size_t size) : pool(size) {}
  void cycle() {
    const std::size_t slot = pool.lease();
    benchmark::DoNotOptimize(slot);
    pool.give_back(slot);
  }
  soci::connection_pool pool;
};

struct mutex_subject {
  static constexpr const char* name = "mutex";
  explicit mutex_subject(std::size_t size) : pool(size) {}
  void cycle() {
    const std::size_t slot = pool.lease();
    benchmark::DoNotOptimize(slot);
    pool.give_back(slot);
  }
  mutex_pool pool;
};

template <class Subject>
std::unique_ptr<Subject> subject;

template <class Subject>
void run(benchmark::State& state) {
  const auto fibers = static_cast<int>(state.range(0));
  constexpr int batch = 4096;
  while (state.KeepRunningBatch(batch)) {
    if (fibers == 1) {
      for (int i = 0; i < batch; ++i) subject<Subject>->cycle();
      continue;
    }
    std::vector<boost::fibers::fiber> team;
    for (int f = 0; f < fibers; ++f)
      team.emplace_back([&] {
        for (int i = 0; i < batch / fibers; ++i) {
          subject<Subject>->cycle();
          boost::this_fiber::yield();
        }
      });
    for (auto& fb : team) fb.join();
  }
}

std::string run_name(const char* pool, int fibers, int size, int threads) {
  return std::string(pool) + "/" + std::to_string(fibers) + "/" + std::to_string(size) +
         "/real_time/threads:" + std::to_string(threads);
}

template <class Subject>
void register_subject() {
  for (int threads : {1, 2})
    for (int fibers : {1, 8})
      for (int size : {2, 4, 16})
        benchmark::RegisterBenchmark(Subject::name, run<Subject>)
            ->Args({fibers, size})
            ->Threads(threads)
            ->UseRealTime()
            ->Setup([](const benchmark::State& s) {
              subject<Subject> = std::make_unique<Subject>(static_cast<std::size_t>(s.range(1)));
            })
            ->Teardown([](const benchmark::State&) { subject<Subject>.reset(); });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_subject<sandpool_subject>();
  register_subject<soci_subject>();
  register_subject<mutex_subject>();
  sandpool::bench::ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  std::printf(
      "\nP1 checkout+checkin, do-nothing connection: ns per cycle, all threads together\n"
      "(lower is better; ratio = SOCI time / sandpool time, >1 means sandpool is faster)\n\n"
      "| threads | fibers/thread | pool size | sandpool ns | SOCI ns | mutex+vector ns | "
      "vs SOCI | vs mutex |\n|---|---|---|---|---|---|---|---|\n");
  for (int threads : {1, 2})
    for (int fibers : {1, 8})
      for (int size : {2, 4, 16}) {
        const double s = reporter.ns(run_name("sandpool", fibers, size, threads));
        const double c = reporter.ns(run_name("soci", fibers, size, threads));
        const double m = reporter.ns(run_name("mutex", fibers, size, threads));
        if (s <= 0) continue;
        std::printf("| %d | %d | %d | %.1f | %.1f | %.1f | %.2fx | %.2fx |\n", threads, fibers,
                    size, s, c, m, c / s, m / s);
      }
  benchmark::Shutdown();
}
