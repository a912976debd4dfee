// How integration tests find their PostgreSQL server. It owns the rule that a
// missing server fails the test with a message saying how to provide one
// (scripts/with-postgres), and skips only when the user opted out with
// SANDPOOL_SKIP_INTEGRATION=1. Against a server of your own, set
// SANDPOOL_TEST_DSN and create what scripts/with-postgres creates: the
// database sandpool_test and a role sandpool_pw with password
// 'sandpool-secret-pw' that pg_hba.conf makes authenticate by password.
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/pq/driver.hpp"

namespace sandpool::test {

// The password of the sandpool_pw role on the test server.
inline constexpr std::string_view test_password = "sandpool-secret-pw";

// True when the user asked to skip the integration tests.
inline bool integration_skipped() {
  const char* v = std::getenv("SANDPOOL_SKIP_INTEGRATION");
  return v != nullptr && std::string_view(v) == "1";
}

// The connection string of the test server; fails the test if it is unset.
inline std::string dsn() {
  const char* v = std::getenv("SANDPOOL_TEST_DSN");
  if (v == nullptr || *v == '\0') {
    FAIL("SANDPOOL_TEST_DSN is not set, so there is no PostgreSQL server to "
         "test against. Run the integration tests under scripts/with-postgres "
         "(e.g. `scripts/with-postgres meson test -C build --suite "
         "integration`), point SANDPOOL_TEST_DSN at a server of your own, or "
         "set SANDPOOL_SKIP_INTEGRATION=1 to skip them.");
  }
  return v;
}

// The options set in dsn(), as libpq parses them (key=value or URI).
inline std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>
dsn_options() {
  const std::string conninfo = dsn();
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> opts(
      PQconninfoParse(conninfo.c_str(), &error), &PQconninfoFree);
  if (error != nullptr) PQfreemem(error);
  REQUIRE_MESSAGE(opts != nullptr, "SANDPOOL_TEST_DSN does not parse");
  return opts;
}

// The value of one option (host, port, dbname, ...) of dsn(); empty if unset.
inline std::string dsn_option(std::string_view key) {
  auto opts = dsn_options();
  for (const PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o) {
    if (key == o->keyword && o->val != nullptr) return o->val;
  }
  return {};
}

// dsn() rewritten as key=value text, followed by extra options (libpq lets
// later options override earlier ones).
inline std::string dsn_with(std::string_view extra) {
  auto opts = dsn_options();
  std::string out;
  for (const PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    out += std::string(o->keyword) + "='";
    for (const char* c = o->val; *c != '\0'; ++c) {
      if (*c == '\'' || *c == '\\') out += '\\';
      out += *c;
    }
    out += "' ";
  }
  return out + std::string(extra);
}

// The text of a status, for doctest checks and messages.
inline std::string text(const absl::Status& s) {
  return std::string(s.message().data(), s.message().size());
}

template <class T>
std::string text(const absl::StatusOr<T>& s) {
  return text(s.status());
}

// A driver for conninfo; fails the test if create() does.
// Whether the tests run through PgBouncer (scripts/with-pgbouncer
// --as-test-server), which words a failed password check itself.
inline bool behind_pgbouncer() {
  const char* mode = std::getenv("SANDPOOL_PGBOUNCER_MODE");
  return mode != nullptr && *mode != '\0';
}
inline std::string wrong_password_text() {
  return behind_pgbouncer() ? "SASL authentication failed" : "password authentication failed";
}

inline pq::driver make_driver(const std::string& conninfo, pq::driver_options o = {}) {
  absl::StatusOr<pq::driver> d = pq::driver::create(conninfo, std::move(o));
  REQUIRE_MESSAGE(d.ok(), text(d));
  return *std::move(d);
}

// A connection to the test server (or to conninfo); fails the test if
// connecting fails.
inline pq::connection connect(const std::string& conninfo = dsn()) {
  absl::StatusOr<pq::connection> c = make_driver(conninfo).connect();
  REQUIRE_MESSAGE(c.ok(), text(c));
  return *std::move(c);
}

}  // namespace sandpool::test

// A test case that needs the server; skipped only on explicit opt-out.
#define PG_TEST_CASE(name) \
  TEST_CASE(name * doctest::skip(::sandpool::test::integration_skipped()))
