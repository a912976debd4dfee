// The event hook against a real server: the server's notices reach it
// instead of stderr, with severity, SQLSTATE and message; a failed connect
// carries the server's reason; the exposition of a working pool passes.
#include <doctest/doctest.h>

#include <mutex>
#include <string>
#include <vector>

#include "pg_env.hpp"
#include "pool_it_env.hpp"
#include "sandpool/sandpool.hpp"

namespace sandpool::test {
namespace {

struct seen {
  std::mutex lock;
  std::vector<std::string> lines;  // "kind severity sqlstate message" or "kind status"
  event_hook hook() {
    return [this](const pool_event& e) {
      std::string line(to_string(e.kind));
      if (e.kind == pool_event_kind::notice) {
        line += " " + std::string(e.notice.severity) + " " + std::string(e.notice.sqlstate) +
                " " + std::string(e.notice.message);
      } else if (!e.status.ok()) {
        line += " " + std::string(e.status.message());
      }
      std::lock_guard lk(lock);
      lines.push_back(line);
    };
  }
  bool has(const std::string& prefix) {
    std::lock_guard lk(lock);
    for (const std::string& l : lines)
      if (l.rfind(prefix, 0) == 0) return true;
    return false;
  }
};

PG_TEST_CASE("the server's notices go to the event hook, not to stderr") {
  const std::string app = app_name("events-notice");
  seen s;
  {
    pool_options o = options_for(app);
    o.on_event = s.hook();
    sandpool::pool p = make_pool(pool_dsn(app), std::move(o));
    absl::StatusOr<sandpool::lease> l = p.checkout();
    REQUIRE_MESSAGE(l.ok(), text(l));
    REQUIRE((*l)->exec("DO $$ BEGIN RAISE WARNING 'disk nearly full' USING ERRCODE = '01000'; "
                       "RAISE NOTICE 'just so you know'; END $$")
                .ok());
    REQUIRE((*l)->exec("ROLLBACK").ok());  // no transaction: the server warns (25P01)
  }
  CHECK(s.has("notice WARNING 01000 disk nearly full"));
  CHECK(s.has("notice NOTICE 00000 just so you know"));
  CHECK(s.has("notice WARNING 25P01 there is no transaction in progress"));
  CHECK(s.has("connected"));
  check_no_leak(app);
}

PG_TEST_CASE("a failed connect is an event with the server's reason, and no password") {
  seen s;
  pool_options o = options_for(app_name("events-connect"));
  o.on_event = s.hook();
  o.min_idle = 1;
  sandpool::pool p = make_pool(dsn_with("dbname=sandpool_no_such_db password=hunter2-secret"),
                               std::move(o));
  REQUIRE(eventually([&] { return s.has("connect_failed"); }, std::chrono::seconds(10)));
  CHECK(s.has("connect_failed"));
  std::lock_guard lk(s.lock);
  for (const std::string& l : s.lines) {
    CHECK(l.find("hunter2-secret") == std::string::npos);
    if (l.rfind("connect_failed", 0) == 0) CHECK(l.find("sandpool_no_such_db") != std::string::npos);
  }
}

}  // namespace
}  // namespace sandpool::test
