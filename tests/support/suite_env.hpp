// The database behind the test-framework integration tests (doctest and
// GoogleTest alike, so no framework macros here): one sandboxed pool per
// process over SANDPOOL_TEST_DSN, a schema of this process holding the table
// the suites write, and counts read on a fresh connection outside every
// sandbox, which is what shows whether a write was committed. Failures throw:
// both frameworks report an exception in a fixture as a failed test.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "sandpool/sandbox/sandbox.hpp"
#include "sandpool/sandbox/unboxed.hpp"
#include "sandpool/sandpool.hpp"
#include "sandpool/testing/suite.hpp"

namespace sandpool::test {

inline std::string status_text(const absl::Status& s) {
  const absl::string_view m = s.message();
  return std::string(m.data(), m.size());
}

inline void ensure(const absl::Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error(what + ": " + status_text(s));
}

inline const std::string& suite_schema() {
  static const std::string s = "suites_" + std::to_string(::getpid());
  return s;
}
inline std::string notes() { return suite_schema() + ".notes"; }

inline std::string test_dsn() {
  const char* v = std::getenv("SANDPOOL_TEST_DSN");
  if (v == nullptr || *v == '\0')
    throw std::runtime_error(
        "SANDPOOL_TEST_DSN is not set, so there is no PostgreSQL server to test against; run "
        "under scripts/with-postgres, or set SANDPOOL_SKIP_INTEGRATION=1 to skip");
  return v;
}

inline bool skip_integration() {
  const char* v = std::getenv("SANDPOOL_SKIP_INTEGRATION");
  return v != nullptr && std::string(v) == "1";
}

// The pool every suite of the process uses: the sandbox installed, the
// schema created (committed, outside any sandbox). Never destroyed: a pool
// destroyed by a static destructor at exit would stop its housekeeping
// after the main thread's Boost.Fiber scheduler (a thread_local, gone
// first) and crash; the process's exit closes the connections.
inline sandpool::pool& suite_pool() {
  static sandpool::pool& p = *new sandpool::pool([] {
    auto d = pq::driver::create(test_dsn());
    ensure(d.status(), "driver");
    pool_options o;
    o.name = "suites-it";
    o.max_size = 4;
    o.checkout_timeout = std::chrono::seconds(10);
    auto made = pool::create(*d, o);
    ensure(made.status(), "pool");
    ensure(install_sandbox(*made).status(), "install_sandbox");
    ensure(run_unboxed(*made,
                       [](pq::connection& c) {
                         return c
                             .exec("SET client_min_messages = warning; DROP SCHEMA IF EXISTS " +
                                   suite_schema() + " CASCADE; CREATE SCHEMA " + suite_schema() +
                                   "; CREATE TABLE " + notes() +
                                   " (id serial PRIMARY KEY, suite text NOT NULL)")
                             .status();
                       }),
           "create the schema");
    return std::move(*made);
  }());
  return p;
}

// Rows of notes committed (seen from a fresh connection outside the pool).
inline long committed_notes(const std::string& suite = "") {
  auto c = suite_pool().driver().connect();
  ensure(c.status(), "connect");
  const std::string where = suite.empty() ? "true" : "suite = '" + suite + "'";
  auto r = c->exec("SELECT count(*) FROM " + notes() + " WHERE " + where);
  ensure(r.status(), "count");
  return std::stol(std::string(r->get(0, 0)));
}

// Rows of notes the caller sees through the pool (its sandbox, if any).
inline long visible_notes() {
  auto l = suite_pool().checkout();
  ensure(l.status(), "checkout");
  auto r = (*l)->exec("SELECT count(*) FROM " + notes());
  ensure(r.status(), "count");
  return std::stol(std::string(r->get(0, 0)));
}

inline void add_note(const std::string& suite) {
  auto l = suite_pool().checkout();
  ensure(l.status(), "checkout");
  ensure((*l)->exec("INSERT INTO " + notes() + " (suite) VALUES ($1)", {suite}).status(), "insert");
}

inline void drop_schema() {
  ensure(run_unboxed(suite_pool(),
                     [](pq::connection& c) {
                       return c
                           .exec("SET client_min_messages = warning; DROP SCHEMA IF EXISTS " +
                                 suite_schema() + " CASCADE")
                           .status();
                     }),
         "drop the schema");
}

// An unsandboxed suite's options: clean the schema's tables.
inline testing::suite_options unsandboxed(cleanup_when when) {
  testing::suite_options o;
  o.mode = testing::suite_mode::unsandboxed;
  o.cleanup.kind = cleanup_kind::delete_rows;
  o.cleanup.schemas = {suite_schema()};
  o.cleanup.when = when;
  return o;
}

inline testing::suite_options mode_only(testing::suite_mode m) {
  testing::suite_options o;
  o.mode = m;
  return o;
}

}  // namespace sandpool::test
