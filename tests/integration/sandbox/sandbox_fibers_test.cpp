// Sandboxed test bodies as fibers: 32 of them at once on 2 threads x 16
// fibers running fiber_io_scheduler, each its own owner with its own
// sandbox on its own connection. Their statements really overlap on the
// server (a fiber waiting for it lets the others run), each sees only its
// own rows, and nothing is committed.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/all.hpp>

#include "sandbox_env.hpp"
#include "sandpool/core/fiber_io.hpp"

using namespace sandpool;
using namespace sandpool::test;

namespace {

constexpr const char* table = "sandbox_fiber_rows";

void ensure_table() {
  for (int attempt = 0; attempt < 3; ++attempt) {  // parallel processes may race
    pq::connection c = connect(dsn());
    if (c.exec(std::string("CREATE TABLE IF NOT EXISTS ") + table +
               " (id serial PRIMARY KEY, tag text NOT NULL)")
            .ok())
      return;
  }
  FAIL("could not create " << table);
}

struct outcome {
  bool ok = false;
  long mine = -1, total = -1;
};

}  // namespace

TEST_CASE("32 sandboxed test bodies run at once as fibers on 2 threads, each alone") {
  if (integration_skipped()) return;
  ensure_table();
  // Behind PgBouncer (40 server connections for the three processes that
  // run this at once) each process runs 2 x 5.
  const int threads = 2, fibers = behind_pgbouncer() ? 5 : 16, bodies = threads * fibers;
  constexpr int rows = 3;
  pool p = make_sandbox_pool(dsn(), static_cast<std::size_t>(bodies));
  REQUIRE(install_sandbox(p).ok());
  const std::string prefix = "fib" + std::to_string(::getpid()) + "-";
  std::vector<outcome> out(static_cast<std::size_t>(bodies));
  std::atomic<int> running{0}, most{0};

  // One test body: own the sandbox, write, wait on the server, read back.
  auto body = [&](int id) {
    outcome& o = out[static_cast<std::size_t>(id)];
    if (!p.ownership().checkout().ok()) return;
    const std::string tag = prefix + std::to_string(id);
    {
      auto l = p.checkout();
      if (!l.ok()) return;
      for (int i = 0; i < rows; ++i) {
        if (!(*l)->exec(std::string("INSERT INTO ") + table + " (tag) VALUES ($1)", {tag}).ok())
          return;
      }
      const int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      const bool slept = (*l)->exec("SELECT pg_sleep(0.3)").ok();
      --running;
      auto all = (*l)->exec(std::string("SELECT count(*) FROM ") + table);
      auto own = (*l)->exec(std::string("SELECT count(*) FROM ") + table + " WHERE tag = $1",
                            {tag});
      if (!slept || !all.ok() || !own.ok()) return;
      o.total = std::stol(std::string(all->get(0, 0)));
      o.mine = std::stol(std::string(own->get(0, 0)));
    }
    o.ok = p.ownership().checkin().ok();
  };

  std::vector<std::thread> team;
  for (int t = 0; t < threads; ++t) {
    team.emplace_back([&, t] {
      boost::fibers::use_scheduling_algorithm<fiber_io_scheduler>();
      std::vector<boost::fibers::fiber> crew;
      for (int f = 0; f < fibers; ++f) crew.emplace_back(body, t * fibers + f);
      for (auto& fb : crew) fb.join();
    });
  }
  for (auto& th : team) th.join();

  for (int i = 0; i < bodies; ++i) {
    CAPTURE(i);
    CHECK(out[static_cast<std::size_t>(i)].ok);
    CHECK(out[static_cast<std::size_t>(i)].mine == rows);
    CHECK(out[static_cast<std::size_t>(i)].total == rows);  // nobody else's rows
  }
  // Each fiber's pg_sleep overlapped the others': the threads never blocked.
  CHECK(most.load() > fibers);
  CHECK(std::stol(std::string(committed(std::string("SELECT count(*) FROM ") + table +
                                        " WHERE tag LIKE '" + prefix + "%'")
                                  .get(0, 0))) == 0);
}
