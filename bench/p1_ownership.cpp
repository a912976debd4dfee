// P1-ownership: what the ownership lookup adds to a checkout + checkin of a
// do-nothing connection. Auto mode with nobody owning (the production path)
// is the baseline; owned, allowed and shared callers take a turn on an
// owner's connection instead. One thread; all measured in the same run.
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "ratio_reporter.hpp"
#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

namespace {

using pool_type = sandpool::basic_pool<sandpool::fake::driver>;

// A thread that checks out and stays alive as an owner until told to stop.
class standing_owner {
 public:
  explicit standing_owner(pool_type& pool) {
    thread_ = std::thread([&] {
      (void)pool.ownership().checkout();
      std::unique_lock lk(m_);
      id_ = sandpool::current_owner();
      cv_.notify_all();
      cv_.wait(lk, [&] { return stop_; });
    });
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return id_ != 0; });
  }
  ~standing_owner() {
    {
      std::lock_guard lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  sandpool::owner_id id() const { return id_; }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  sandpool::owner_id id_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

pool_type make_pool() {
  sandpool::pool_options o;
  o.max_size = 4;
  o.min_idle = 4;
  o.queue_target = std::chrono::seconds(10);
  o.queue_interval = std::chrono::seconds(20);
  sandpool::ownership_options own;
  own.ownership_timeout = sandpool::infinite;
  auto p = pool_type::create(sandpool::fake::driver{}, o, {}, own);
  while (p->metrics().idle != 4) std::this_thread::yield();
  return std::move(*p);
}

void cycles(benchmark::State& state, pool_type& pool) {
  for (auto _ : state) {
    auto lease = pool.checkout();
    benchmark::DoNotOptimize((*lease)->id);
  }
}

void bm_auto(benchmark::State& state) {
  pool_type pool = make_pool();
  cycles(state, pool);
}

void bm_owned(benchmark::State& state) {
  pool_type pool = make_pool();
  (void)pool.ownership().set_mode(sandpool::manual_mode{});
  (void)pool.ownership().checkout();
  cycles(state, pool);
  (void)pool.ownership().checkin();
}

void bm_allowed(benchmark::State& state) {
  pool_type pool = make_pool();
  (void)pool.ownership().set_mode(sandpool::manual_mode{});
  standing_owner owner(pool);
  (void)pool.ownership().allow(owner.id(), sandpool::current_owner());
  cycles(state, pool);
  (void)pool.ownership().unallow(sandpool::current_owner());
}

void bm_shared(benchmark::State& state) {
  pool_type pool = make_pool();
  (void)pool.ownership().set_mode(sandpool::manual_mode{});
  standing_owner owner(pool);
  (void)pool.ownership().set_mode(sandpool::shared_mode{owner.id()});
  cycles(state, pool);
  (void)pool.ownership().set_mode(sandpool::manual_mode{});
}

}  // namespace

BENCHMARK(bm_auto);
BENCHMARK(bm_owned);
BENCHMARK(bm_allowed);
BENCHMARK(bm_shared);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  sandpool::bench::ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double base = reporter.ns("bm_auto");
  std::printf(
      "\nP1-ownership: checkout+checkin with the ownership lookup, 1 thread (goal: <= 50 ns "
      "added)\n\n| caller | ns per cycle | added vs auto |\n|---|---|---|\n"
      "| auto, nobody owns (baseline) | %.1f | - |\n",
      base);
  for (const char* name : {"owned", "allowed", "shared"}) {
    const double ns = reporter.ns(std::string("bm_") + name);
    std::printf("| %s | %.1f | %+.1f ns |\n", name, ns, ns - base);
  }
  benchmark::Shutdown();
}
