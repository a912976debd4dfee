// A tiny application built against an installed (or subproject) sandpool:
// one production checkout, then one sandboxed test whose table is gone
// after checkin. Reads the server from SANDPOOL_TEST_DSN; exits 0 on
// success and prints what failed otherwise.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sandpool/sandpool.hpp>

namespace {

int fail(const char* step, const absl::Status& s) {
  std::fprintf(stderr, "consumer: %s: %s\n", step, std::string(s.ToString()).c_str());
  return 1;
}

}  // namespace

int main() {
  const char* dsn = std::getenv("SANDPOOL_TEST_DSN");
  if (dsn == nullptr) {
    std::fprintf(stderr, "consumer: set SANDPOOL_TEST_DSN (scripts/with-postgres does)\n");
    return 2;
  }
  auto driver = sandpool::pq::driver::create(dsn);
  if (!driver.ok()) return fail("driver", driver.status());
  auto pool = sandpool::pool::create(*driver, {.max_size = 2});
  if (!pool.ok()) return fail("pool", pool.status());
  {
    auto lease = pool->checkout();
    if (!lease.ok()) return fail("checkout", lease.status());
    auto r = (*lease)->exec("SELECT 40 + 2");
    if (!r.ok()) return fail("select", r.status());
    if (r->get(0, 0) != "42") return fail("select", absl::InternalError("expected 42"));
  }
  auto box = sandpool::install_sandbox(*pool);
  if (!box.ok()) return fail("install_sandbox", box.status());
  if (auto s = pool->ownership().set_mode(sandpool::manual_mode{}); !s.ok()) return fail("manual mode", s);
  if (auto c = pool->ownership().checkout(); !c.ok()) return fail("sandboxed checkout", c.status());
  {
    auto lease = pool->checkout();
    if (!lease.ok()) return fail("turn", lease.status());
    auto r = (*lease)->exec("CREATE TABLE consumer_probe (id int); INSERT INTO consumer_probe VALUES (1)");
    if (!r.ok()) return fail("write in the sandbox", r.status());
  }
  if (auto s = pool->ownership().checkin(); !s.ok()) return fail("checkin", s);
  if (auto s = pool->ownership().set_mode(sandpool::auto_mode{}); !s.ok()) return fail("auto mode", s);
  auto lease = pool->checkout();
  if (!lease.ok()) return fail("checkout after the test", lease.status());
  auto r = (*lease)->exec("SELECT count(*) FROM pg_class WHERE relname = 'consumer_probe'");
  if (!r.ok()) return fail("probe", r.status());
  if (r->get(0, 0) != "0") return fail("probe", absl::InternalError("the sandboxed table was committed"));
  std::puts("consumer: ok");
  return 0;
}
