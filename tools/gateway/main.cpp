// sandpool-gateway: runs a command whose PostgreSQL clients all work inside
// one sandbox, and rolls everything back when it exits. It checks out one
// sandboxed connection in shared mode, starts the gateway, runs COMMAND with
// PGHOST, PGPORT, PGDATABASE and PGUSER pointing at it, and exits with
// COMMAND's status.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "sandpool/sandpool.hpp"

namespace {

constexpr const char* usage =
    "usage: sandpool-gateway --dsn DSN -- COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND with libpq's PGHOST/PGPORT/PGDATABASE/PGUSER pointing at a sandbox\n"
    "gateway: every PostgreSQL client COMMAND starts (psql, pgbench, a test suite in any\n"
    "language) works inside one sandboxed transaction on DSN's database, and everything\n"
    "is rolled back when COMMAND exits. Exits with COMMAND's status.\n"
    "\n"
    "example:\n"
    "  sandpool-gateway --dsn 'dbname=app_test' -- psql -c 'INSERT INTO t VALUES (1)'\n"
    "  sandpool-gateway --dsn 'dbname=app_test' -- python3 -m pytest tests/\n";

int fail(std::string_view what) {
  std::fprintf(stderr, "sandpool-gateway: %.*s\n", static_cast<int>(what.size()), what.data());
  return 2;
}

std::string str(const absl::Status& s) { return std::string(s.message()); }

}  // namespace

int main(int argc, char** argv) {
  std::string dsn;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (a == "--dsn" && i + 1 < argc) {
      dsn = argv[++i];
    } else if (a == "--") {
      ++i;
      break;
    } else {
      std::fputs(usage, stderr);
      return fail("unknown argument '" + std::string(a) + "'; see --help");
    }
  }
  if (dsn.empty()) return fail("--dsn DSN is required; see --help");
  if (i >= argc) return fail("no COMMAND after --; see --help");

  auto driver = sandpool::pq::driver::create(dsn);
  if (!driver.ok()) return fail(str(driver.status()));
  sandpool::pool_options o;
  o.name = "sandpool-gateway";
  o.max_size = 2;
  sandpool::ownership_options own;
  own.ownership_timeout = sandpool::infinite;
  auto pool = sandpool::pool::create(*driver, o, {}, own);
  if (!pool.ok()) return fail(str(pool.status()));
  if (auto s = pool->ownership().set_mode(sandpool::manual_mode{}); !s.ok()) return fail(str(s));
  auto box = sandpool::install_sandbox(*pool);
  if (!box.ok()) return fail(str(box.status()));
  if (auto r = pool->ownership().checkout(); !r.ok()) return fail(str(r.status()));
  if (auto s = pool->ownership().set_mode(sandpool::shared_mode{sandpool::current_owner()});
      !s.ok()) {
    return fail(str(s));
  }
  auto gw = sandpool::gateway::start(*pool);
  if (!gw.ok()) return fail(str(gw.status()));
  std::string database, user;
  if (auto l = pool->checkout(); l.ok()) {
    database = PQdb((*l)->native());
    user = PQuser((*l)->native());
  }

  const pid_t child = ::fork();
  if (child < 0) return fail(std::string("cannot start COMMAND: ") + std::strerror(errno));
  if (child == 0) {
    ::setenv("PGHOST", (*gw)->socket_dir().c_str(), 1);
    ::setenv("PGPORT", std::to_string((*gw)->port()).c_str(), 1);
    if (!database.empty()) ::setenv("PGDATABASE", database.c_str(), 1);
    if (!user.empty()) ::setenv("PGUSER", user.c_str(), 1);
    for (const char* v : {"PGHOSTADDR", "PGSERVICE", "PGPASSWORD", "PGSSLMODE", "PGOPTIONS"}) {
      ::unsetenv(v);
    }
    ::execvp(argv[i], argv + i);
    std::fprintf(stderr, "sandpool-gateway: cannot run '%s': %s\n", argv[i], std::strerror(errno));
    std::_Exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  (*gw)->stop();
  if (auto s = pool->ownership().checkin(); !s.ok()) {
    std::fprintf(stderr, "sandpool-gateway: rollback at the end: %s\n", str(s).c_str());
    return 2;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
