// Fixtures for the sandbox's integration tests: a manual-mode pool with a
// sandbox installed, a table of this process that sandboxed tests write to
// (created and committed outside any sandbox, so it is real), and counts
// read from a fresh, unsandboxed connection, which is what tells whether a
// sandboxed write leaked.
#pragma once

#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "pg_env.hpp"
#include "sandpool/sandbox/sandbox.hpp"
#include "sandpool/sandpool.hpp"

namespace sandpool::test {

// Rows every sandboxed test writes; must be empty after each test.
inline std::string ledger() { return "sandbox_it_ledger_" + std::to_string(::getpid()); }
inline std::string sandbox_app() { return "sandpool-sandbox-" + std::to_string(::getpid()); }

inline pq::result must(absl::StatusOr<pq::result> r) {
  REQUIRE_MESSAGE(r.ok(), text(r.status()));
  return *std::move(r);
}

// Runs sql on a fresh connection outside every sandbox (autocommit).
inline pq::result committed(const std::string& sql, const std::string& conninfo = dsn()) {
  pq::connection c = connect(conninfo);
  return must(c.exec(sql));
}

inline long count_committed(const std::string& where = "true") {
  return std::stol(std::string(
      committed("SELECT count(*) FROM " + ledger() + " WHERE " + where).get(0, 0)));
}

inline void ensure_ledger() {
  if (committed("SELECT to_regclass('" + ledger() + "') IS NULL").get(0, 0) == "t")
    committed("CREATE TABLE " + ledger() + " (id serial PRIMARY KEY, tag text NOT NULL, n int)");
}

// The count of ledger rows c sees (inside its sandbox).
inline long count_in(pq::connection& c, const std::string& where = "true") {
  return std::stol(
      std::string(must(c.exec("SELECT count(*) FROM " + ledger() + " WHERE " + where)).get(0, 0)));
}

// Options with one field set (designated initializers would warn about the
// others under -Wextra).
inline sandbox_options with_isolation(std::string level) {
  sandbox_options o;
  o.isolation = std::move(level);
  return o;
}
inline sandbox_options with_deferred_check() {
  sandbox_options o;
  o.check_deferred_constraints = true;
  return o;
}

inline pool make_sandbox_pool(std::string conninfo = dsn(), std::size_t size = 4,
                              ownership_options own = {}) {
  auto driver = pq::driver::create(conninfo + " application_name=" + sandbox_app());
  REQUIRE_MESSAGE(driver.ok(), text(driver.status()));
  pool_options o;
  o.name = "sandbox-it";
  o.max_size = size;
  o.checkout_timeout = std::chrono::seconds(10);
  // No liveness query on checkout: round-trip counts stay exact.
  o.validation_bypass = std::chrono::hours(1);
  auto p = pool::create(*driver, o, {}, std::move(own));
  REQUIRE_MESSAGE(p.ok(), text(p.status()));
  REQUIRE(p->ownership().set_mode(manual_mode{}).ok());
  return std::move(*p);
}

// A pool with a sandbox, and the calling thread checked out on it.
struct sandboxed {
  explicit sandboxed(sandbox_options opts = {}, std::size_t size = 4, ownership_options own = {})
      : p(make_sandbox_pool(dsn(), size, std::move(own))) {
    ensure_ledger();
    auto b = install_sandbox(p, std::move(opts));
    REQUIRE_MESSAGE(b.ok(), text(b.status()));
    box = *b;
    auto r = p.ownership().checkout();
    REQUIRE_MESSAGE(r.ok(), text(r.status()));
    auto l = p.checkout();
    REQUIRE_MESSAGE(l.ok(), text(l.status()));
    lease = std::move(*l);
  }
  ~sandboxed() {
    if (lease) (void)lease.checkin();
    (void)p.ownership().checkin();
  }
  pq::connection& c() { return *lease; }
  // Ends the lease and checks in; returns checkin's status.
  absl::Status checkin() {
    (void)lease.checkin();
    return p.ownership().checkin();
  }
  pq::result exec(const std::string& sql) { return must(c().exec(sql)); }
  void insert(const std::string& tag, int n = 0) {
    exec("INSERT INTO " + ledger() + " (tag, n) VALUES ('" + tag + "', " + std::to_string(n) +
         ")");
  }

  pool p;
  std::shared_ptr<sandbox> box;
  sandpool::lease lease;
};

inline bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace sandpool::test
