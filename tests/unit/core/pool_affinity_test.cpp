// Per-thread affinity: a thread gets back the connection it returned last
// while that one is idle, even when another thread returned one after it;
// a queued waiter still gets the next returned connection first.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "fake_pool.hpp"

namespace sandpool::test {
namespace {

TEST_CASE("a thread gets back the connection it returned last, not the newest idle one") {
  fixture f(warm_options(2));
  f.pool.maintain();
  auto a = f.pool.checkout();
  REQUIRE(a.ok());
  const int mine = (*a)->id;
  std::promise<int> taken;
  std::promise<void> go;
  std::thread other([&] {
    auto b = f.pool.checkout();
    taken.set_value(b.ok() ? (*b)->id : -1);
    go.get_future().wait();
    (void)b->checkin();  // returned after ours: the idle head now
  });
  const int theirs = taken.get_future().get();
  (void)a->checkin();
  go.set_value();
  other.join();
  REQUIRE(theirs != mine);
  auto again = f.pool.checkout();
  REQUIRE(again.ok());
  CHECK((*again)->id == mine);  // this thread's own, though theirs came back later
  int got = 0;
  std::thread back([&] { got = (*f.pool.checkout())->id; });
  back.join();
  CHECK(got == theirs);
}

TEST_CASE("a queued waiter still gets the returned connection first") {
  fixture f(warm_options(1));
  f.pool.maintain();
  auto a = f.pool.checkout();
  REQUIRE(a.ok());
  const int id = (*a)->id;
  int waited = 0;
  std::thread t([&] {
    auto b = f.pool.checkout(std::chrono::seconds(10));
    if (b.ok()) waited = (*b)->id;
  });
  f.await_waiting(1);
  (void)a->checkin();  // goes to the waiter, not back to this thread
  t.join();
  CHECK(waited == id);
}

}  // namespace
}  // namespace sandpool::test
