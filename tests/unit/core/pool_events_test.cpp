// What a pool tells operators: events for the hook (connects, failures,
// discards by reason, timeouts, refusals, failed resets), the histograms of
// wait, hold and connect time, and their Prometheus exposition, which
// Debian's promtool must accept.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <boost/fiber/fiber.hpp>

#include "fake_pool.hpp"
#include "sandpool/core/prometheus.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace std::chrono_literals;

namespace {

struct recorded {
  std::vector<pool_event> events;  // status and kind kept; views not used after the call
  std::vector<std::string> pools;
  event_hook hook() {
    return [this](const pool_event& e) {
      events.push_back(e);
      pools.emplace_back(e.pool);
    };
  }
  std::vector<pool_event_kind> kinds() const {
    std::vector<pool_event_kind> k;
    for (const pool_event& e : events) k.push_back(e.kind);
    return k;
  }
};

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("connects, failed connects and discards reach the hook, with the reason, off the lock") {
  recorded r;
  pool_options o = warm_options(1);
  o.on_event = r.hook();
  o.max_lifetime = 10min;
  o.reconnect_backoff_min = 1s;
  o.reconnect_backoff_max = 1s;
  fixture f(o);
  f.server->fail_connects = 1;
  f.pool.maintain();  // fails
  REQUIRE(r.kinds() == std::vector{pool_event_kind::connect_failed});
  CHECK(r.events[0].status.code() == absl::StatusCode::kUnavailable);
  CHECK(r.pools[0] == "test");
  f.clock.advance(2s);
  f.pool.maintain();  // opens
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[1].kind == pool_event_kind::connected);
  CHECK(r.events[1].status.ok());

  { (*f.pool.checkout())->status = tx_status::broken; }
  f.pool.maintain();  // closes the broken one
  f.pool.maintain();  // opens a replacement for min_idle
  REQUIRE(r.events.size() == 4);
  CHECK(r.events[2].kind == pool_event_kind::discarded);
  CHECK(r.events[2].reason == discard_reason::broken);
  CHECK(r.events[3].kind == pool_event_kind::connected);

  f.clock.advance(11min);  // past max_lifetime
  f.pool.maintain();
  REQUIRE(r.events.size() >= 5);
  CHECK(r.events[4].kind == pool_event_kind::discarded);
  CHECK(r.events[4].reason == discard_reason::expired);
  CHECK(r.events[4].duration >= 11min);

  const metrics m = f.pool.metrics();
  CHECK(m.discarded == 2);
  CHECK(m.discarded_for(discard_reason::broken) == 1);
  CHECK(m.discarded_for(discard_reason::expired) == 1);
  CHECK(m.connect_time.count == m.connects + m.connect_failures);
}

TEST_CASE("a checkout that times out and one refused at once are events, the second counted") {
  recorded r;
  pool_options o = warm_options(1);  // min_idle 1: housekeeping keeps trying
  o.on_event = r.hook();
  o.checkout_timeout = 1s;
  fixture f(o);
  f.server->down = true;
  absl::Status failure;
  boost::fibers::fiber caller([&] { failure = f.pool.checkout().status(); });
  fixture::settle();
  f.clock.advance(1s);
  f.pool.maintain();
  caller.join();
  CHECK(failure.code() == absl::StatusCode::kDeadlineExceeded);
  bool timed_out = false;
  for (const pool_event& e : r.events) {
    if (e.kind != pool_event_kind::timed_out) continue;
    timed_out = true;
    CHECK(e.duration == 1s);
    CHECK(e.status == failure);
  }
  CHECK(timed_out);

  f.server->connect_error = absl::PermissionDeniedError("password authentication failed");
  f.clock.advance(10s);
  f.pool.maintain();  // the attempt fails for good
  CHECK(f.pool.checkout().status().code() == absl::StatusCode::kPermissionDenied);
  f.pool.maintain();  // delivers
  CHECK(r.kinds().back() == pool_event_kind::refused);
  CHECK(f.pool.metrics().refused == 1);
}

TEST_CASE("a reset that fails is an event, and the connection is discarded for it") {
  recorded r;
  pool_options o = warm_options(1);
  o.on_event = r.hook();
  fixture f(o);
  f.pool.maintain();
  {
    auto l = f.pool.checkout();
    (*l)->status = tx_status::in_transaction;
    f.server->kill((*l)->id);
  }
  f.pool.maintain();  // the reset fails
  f.pool.maintain();  // closes it
  bool failed = false, discarded = false;
  for (const pool_event& e : r.events) {
    failed = failed || (e.kind == pool_event_kind::reset_failed && !e.status.ok());
    discarded = discarded || (e.kind == pool_event_kind::discarded &&
                              e.reason == discard_reason::reset_failed);
  }
  CHECK(failed);
  CHECK(discarded);
  CHECK(f.pool.metrics().discarded_for(discard_reason::reset_failed) == 1);
}

TEST_CASE("a hook that throws does not stop housekeeping") {
  pool_options o = warm_options(2);
  int calls = 0;
  o.on_event = [&](const pool_event&) {
    ++calls;
    throw std::runtime_error("hook failed");
  };
  fixture f(o);
  f.pool.maintain();
  CHECK(calls == 2);
  CHECK(f.pool.metrics().idle == 2);
}

TEST_CASE("hold and wait times land in fixed buckets; their sum and count add up") {
  pool_options o = warm_options(1);
  o.keep_per_thread = false;  // a kept lease is not timed: every one goes through the lock
  fixture f(o);
  f.pool.maintain();
  {
    auto l = f.pool.checkout();
    f.clock.advance(3ms);
  }
  {
    auto l = f.pool.checkout();
    f.clock.advance(40s);
  }
  const metrics m = f.pool.metrics();
  CHECK(m.hold_time.count == 2);
  CHECK(m.hold_time.sum == 40s + 3ms);
  // 3 ms falls in (2.5 ms, 5 ms]; 40 s in (30 s, 60 s].
  CHECK(m.hold_time.counts[8] == 1);
  CHECK(m.hold_time.counts[20] == 1);
  CHECK(m.wait_time.count == 2);
  CHECK(m.wait_time.counts[0] == 2);  // served from the idle list
  CHECK(m.kept_checkouts == 0);
}

TEST_CASE("a lease served from the thread's keep counts as a checkout with no wait, untimed") {
  fixture f(warm_options(1));
  f.pool.maintain();
  for (int i = 0; i < 3; ++i) {
    auto l = f.pool.checkout();
    REQUIRE(l.ok());
    f.clock.advance(3ms);
    const metrics held = f.pool.metrics();
    CHECK(held.in_use == 1);
    CHECK(held.idle == 0);
  }
  const metrics m = f.pool.metrics();
  CHECK(m.checkouts == 3);
  CHECK(m.kept_checkouts == 2);  // the first came from the idle list
  CHECK(m.in_use == 0);
  CHECK(m.idle == 1);  // kept by this thread, and idle for everyone else
  CHECK(m.hold_time.count == 0);  // every one was returned to the keep
  CHECK(m.wait_time.count == 3);
  CHECK(m.wait_time.counts[0] == 3);
  CHECK(m.wait_p99 == std::chrono::nanoseconds::zero());
}

TEST_CASE("duration_histogram: bounds are inclusive, +Inf takes the rest, the sum saturates") {
  duration_histogram h;
  h.record(std::chrono::nanoseconds(10'000));  // exactly the first bound
  h.record(std::chrono::nanoseconds(10'001));
  h.record(-5ns);  // a clock step back counts as zero
  h.record(std::chrono::hours(24 * 365 * 200));
  h.record(std::chrono::nanoseconds::max());
  CHECK(h.counts[0] == 2);
  CHECK(h.counts[1] == 1);
  CHECK(h.counts.back() == 2);
  CHECK(h.count == 5);
  CHECK(h.sum == std::chrono::nanoseconds::max());
}

TEST_CASE("prometheus_text: families once, a labelled series per pool, escaped names, promtool accepts it") {
  pool_options oa = warm_options(2);
  oa.keep_per_thread = false;  // its one lease is timed
  fixture a(oa);
  pool_options ob = warm_options(1);
  ob.name = "orders \"eu\"\\west\nline";
  fixture b(ob);
  a.pool.maintain();
  b.pool.maintain();
  { auto l = a.pool.checkout(); }
  const std::string text = prometheus_text(a.pool, b.pool);
  CHECK(has_line(text, "# TYPE sandpool_connections_open gauge"));
  CHECK(has_line(text, "sandpool_connections_open{pool=\"test\"} 2"));
  CHECK(has_line(text, "sandpool_connections_open{pool=\"orders \\\"eu\\\"\\\\west\\nline\"} 1"));
  CHECK(has_line(text, "sandpool_checkouts_total{pool=\"test\"} 1"));
  CHECK(has_line(text, "sandpool_connections_discarded_total{pool=\"test\",reason=\"broken\"} 0"));
  CHECK(has_line(text, "sandpool_hold_seconds_bucket{pool=\"test\",le=\"+Inf\"} 1"));
  CHECK(has_line(text, "sandpool_hold_seconds_count{pool=\"test\"} 1"));
  CHECK(has_line(text, "sandpool_checkout_wait_seconds_bucket{pool=\"test\",le=\"1e-05\"} 1"));
  std::size_t types = 0;
  for (std::size_t at = text.find("# TYPE sandpool_hold_seconds "); at != std::string::npos;
       at = text.find("# TYPE sandpool_hold_seconds ", at + 1))
    ++types;
  CHECK(types == 1);

  // Debian's promtool (package prometheus, installed by scripts/deps).
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/sandpool-metrics-" +
                           std::to_string(::getpid()) + ".prom";
  {
    std::ofstream out(path);
    out << text;
  }
  const std::string command = "promtool check metrics < '" + path + "' 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  REQUIRE_MESSAGE(p != nullptr, "could not run promtool");
  std::string said;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) said += buf;
  const int rc = ::pclose(p);
  std::remove(path.c_str());
  INFO("promtool said: " << said);
  REQUIRE_MESSAGE(said.find("not found") == std::string::npos,
                  "promtool is missing: run scripts/deps (it installs Debian's prometheus)");
  CHECK(rc == 0);
  CHECK(said.empty());  // no lint findings either
}
