// Connecting fails: a permanent error (wrong password, no such database)
// fails checkouts at once with the server's reason and never the password,
// a transient one is waited out, an outage costs next to no CPU, and
// initial_connect_timeout makes create() fail when no first connection
// opens.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <chrono>
#include <string>
#include <vector>

#include "pg_env.hpp"
#include "pool_it_env.hpp"

namespace sandpool::test {

using namespace std::chrono_literals;

PG_TEST_CASE("permanent connect errors fail the checkout at once, never with the password") {
  struct example {
    std::string tag, options, reason;
    absl::StatusCode code;
  };
  const std::string wrong = "wrong-pw-for-sandpool-it";
  const std::vector<example> examples = {
      {"bad-password", "user=sandpool_pw password='" + wrong + "'",
       wrong_password_text(), absl::StatusCode::kPermissionDenied},
      {"no-database",
       "user=sandpool_pw password='" + std::string(test_password) +
           "' dbname=sandpool_it_no_such_db",
       "does not exist", absl::StatusCode::kNotFound},
  };
  for (const example& e : examples) {
    CAPTURE(e.tag);
    const std::string app = app_name(e.tag);
    {
      pool_options o = options_for(app);
      o.checkout_timeout = 20s;
      sandpool::pool p = make_pool(pool_dsn(app, e.options), o);
      for (int attempt = 0; attempt < 3; ++attempt) {  // the first, and those after it
        const auto started = std::chrono::steady_clock::now();
        absl::StatusOr<sandpool::lease> l = p.checkout();
        CHECK(std::chrono::steady_clock::now() - started < 5s);  // not checkout_timeout
        REQUIRE_FALSE(l.ok());
        const std::string msg = text(l);
        INFO(msg);
        CHECK(l.status().code() == e.code);
        CHECK(msg.find("checkout failed at once") != std::string::npos);
        CHECK(msg.find(e.reason) != std::string::npos);
        CHECK(msg.find(wrong) == std::string::npos);
        CHECK(msg.find(test_password) == std::string::npos);
      }
      const metrics m = p.metrics();
      CHECK(m.connect_failures >= 1);
      CHECK(m.connects == 0);
    }
    check_no_leak(app);
  }
}

PG_TEST_CASE("a transient connect error shows in the checkout timeout") {
  // Nothing listens on port 1: refused, which a restarting server also
  // does, so the caller waits it out.
  pool_options o = options_for(app_name("refused"));
  o.checkout_timeout = 1s;
  o.queue_interval = std::chrono::minutes(1);
  sandpool::pool p = make_pool("host=127.0.0.1 port=1 dbname=x user=x", o);
  absl::StatusOr<sandpool::lease> l = p.checkout();
  const std::string msg = text(l);
  INFO(msg);
  CHECK(l.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(msg.find("checkout timed out") != std::string::npos);
  CHECK(msg.find("The last attempt to open a connection failed") != std::string::npos);
  CHECK(p.metrics().timeouts == 1);
}

// CPU the process uses (all threads), in seconds.
static double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

TEST_CASE("an outage costs next to no CPU while a checkout waits it out") {
  // A real outage: nothing listens on port 1, so every connect is refused
  // at once. One caller waits 2 s; housekeeping must sleep between connect
  // attempts and deadlines instead of spinning.
  auto driver = pq::driver::create("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1");
  REQUIRE(driver.ok());
  pool_options o;
  o.name = "outage";
  o.max_size = 2;
  o.checkout_timeout = 2s;
  auto p = pool::create(*driver, o);
  REQUIRE(p.ok());
  const double cpu_before = cpu_seconds();
  const auto started = std::chrono::steady_clock::now();
  auto l = p->checkout();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double cpu = cpu_seconds() - cpu_before;
  // Timed out with the connect error, not shed as "overloaded".
  CHECK(l.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(text(l.status()).find("refused") != std::string::npos);
  MESSAGE("outage: " << cpu * 1000 << " ms CPU over " << wall << " s waiting ("
                     << 100 * cpu / wall << "% of one core)");
  CHECK(wall >= 1.9);
  CHECK(cpu / wall < 0.02);
}

PG_TEST_CASE("initial_connect_timeout makes create() fail when the first connection fails") {
  pool_options o = options_for(app_name("initial"));
  o.initial_connect_timeout = 10s;
  {
    // Permanent: at once, with the server's reason.
    const auto started = std::chrono::steady_clock::now();
    auto p = pool::create(
        make_driver(pool_dsn(app_name("initial"), "user=sandpool_pw password='nope-x7'")), o);
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    REQUIRE_FALSE(p.ok());
    const std::string why = text(p.status());
    INFO(why);
    CHECK(p.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(why.find("create() could not open a first connection") != std::string::npos);
    CHECK(why.find(wrong_password_text()) != std::string::npos);
    CHECK(why.find("nope-x7") == std::string::npos);
  }
  {
    // Transient: after initial_connect_timeout.
    pool_options t = o;
    t.initial_connect_timeout = 300ms;
    auto p = pool::create(make_driver("host=127.0.0.1 port=1 dbname=x user=x"), t);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == absl::StatusCode::kDeadlineExceeded);
  }
  {
    auto p = pool::create(make_driver(pool_dsn(app_name("initial"))), o);
    REQUIRE_MESSAGE(p.ok(), text(p.status()));
    CHECK(p->metrics().connects >= 1);
    CHECK(p->metrics().idle >= 1);
  }
  check_no_leak(app_name("initial"));
}

}  // namespace sandpool::test
