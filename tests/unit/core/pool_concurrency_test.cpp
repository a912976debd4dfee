// Many threads and fibers against a small pool with the real clock and the
// housekeeping thread: nobody ever shares a connection, every checkout is
// served, and the books balance at the end. Run under ThreadSanitizer too.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>

#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

using namespace sandpool;
using namespace std::chrono_literals;

namespace {

struct tally {
  std::array<std::atomic<int>, 64> holders{};  // current holders per connection id
  std::atomic<int> shared{0};                  // times two callers held one connection
  std::atomic<int> failed{0};                  // checkouts that did not succeed
  std::atomic<int> served{0};
};

template <class Pool>
void hammer(Pool& pool, tally& t, int cycles, bool yield_while_holding) {
  for (int i = 0; i < cycles; ++i) {
    auto lease = pool.checkout();
    if (!lease.ok()) {
      t.failed.fetch_add(1);
      continue;
    }
    const int id = (*lease)->id;
    if (t.holders[static_cast<std::size_t>(id)].fetch_add(1) != 0) t.shared.fetch_add(1);
    if (yield_while_holding) boost::this_fiber::yield();
    t.holders[static_cast<std::size_t>(id)].fetch_sub(1);
    t.served.fetch_add(1);
  }
}

}  // namespace

TEST_CASE("threads x fibers on a pool of two never share a connection") {
  for (const int fibers_per_thread : {1, 4}) {
    pool_options o;
    o.max_size = 2;
    o.checkout_timeout = 60s;
    o.queue_target = 10s;  // measure exclusivity, not shedding
    o.queue_interval = 20s;
    auto server = std::make_shared<fake::server>();
    auto pool = basic_pool<fake::driver>::create(fake::driver(server), o);
    REQUIRE(pool.ok());
    tally t;
    constexpr int threads = 3, cycles = 3000;
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w)
      workers.emplace_back([&] {
        std::vector<boost::fibers::fiber> fibers;
        for (int f = 0; f < fibers_per_thread; ++f)
          fibers.emplace_back([&] { hammer(*pool, t, cycles, fibers_per_thread > 1); });
        for (auto& fb : fibers) fb.join();
      });
    for (auto& w : workers) w.join();
    CHECK(t.shared.load() == 0);
    CHECK(t.failed.load() == 0);
    CHECK(t.served.load() == threads * fibers_per_thread * cycles);
    const metrics m = pool->metrics();
    CHECK(m.in_use == 0);
    CHECK(m.waiting == 0);
    CHECK(m.size <= 2);
    CHECK(m.max_in_use <= 2);
    CHECK(m.checkouts == static_cast<std::uint64_t>(t.served.load()));
    CHECK(pool->shutdown(1s).ok());
    CHECK(server->open_count() == 0);
  }
}

TEST_CASE("a pool destroyed while threads wait fails them and stays safe") {
  pool_options o;
  o.max_size = 1;
  o.min_idle = 1;
  o.checkout_timeout = 60s;
  auto server = std::make_shared<fake::server>();
  std::optional<basic_pool<fake::driver>> pool;
  pool.emplace(*basic_pool<fake::driver>::create(fake::driver(server), o));
  auto held = pool->checkout();
  REQUIRE(held.ok());
  std::atomic<int> failed{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i)
    waiters.emplace_back([&] {
      if (!pool->checkout().ok()) failed.fetch_add(1);
    });
  while (pool->metrics().waiting != 3) std::this_thread::yield();
  pool.reset();  // returns once the failed waiters have left
  for (auto& w : waiters) w.join();
  CHECK(failed.load() == 3);
  CHECK(server->open_count() == 1);  // the held lease's connection
  *held = {};
  CHECK(server->open_count() == 0);
}
