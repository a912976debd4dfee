// Sandboxed tests running at the same time against one database: several
// fibers of this process, each its own sandboxed owner, and several
// processes (meson runs this executable more than once in parallel) write
// to the same table. Each sees only its own rows, and nothing is committed.
#include <doctest/doctest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>

#include "sandbox_env.hpp"

using namespace sandpool;
using namespace sandpool::test;

namespace {

constexpr const char* shared_table = "sandbox_shared_rows";

void ensure_shared_table() {
  // Parallel processes may race to create it: a lost race is fine.
  for (int attempt = 0; attempt < 3; ++attempt) {
    pq::connection c = connect(dsn());
    if (c.exec(std::string("CREATE TABLE IF NOT EXISTS ") + shared_table +
               " (id serial PRIMARY KEY, tag text NOT NULL)")
            .ok())
      return;
  }
  FAIL("could not create " << shared_table);
}

long committed_with_prefix(const std::string& prefix) {
  return std::stol(std::string(committed(std::string("SELECT count(*) FROM ") + shared_table +
                                         " WHERE tag LIKE '" + prefix + "%'")
                                   .get(0, 0)));
}

}  // namespace

TEST_CASE("sandboxed fibers of one process and parallel processes never see each other") {
  if (integration_skipped()) return;
  ensure_shared_table();
  constexpr int fibers = 8, rows = 5;
  pool p = make_sandbox_pool(dsn(), fibers);
  REQUIRE(install_sandbox(p).ok());
  REQUIRE(p.ownership().set_mode(manual_mode{}).ok());
  const std::string prefix = "pid" + std::to_string(::getpid()) + "-";
  std::vector<long> seen_total(fibers, -1), seen_mine(fibers, -1);
  std::vector<boost::fibers::fiber> team;
  for (int f = 0; f < fibers; ++f)
    team.emplace_back([&, f] {
      REQUIRE(p.ownership().checkout().ok());
      const std::string tag = prefix + std::to_string(f);
      for (int i = 0; i < rows; ++i) {
        auto l = p.checkout();
        REQUIRE(l.ok());
        REQUIRE((*l)->exec(std::string("INSERT INTO ") + shared_table + " (tag) VALUES ($1)",
                           {tag})
                    .ok());
        boost::this_fiber::yield();  // interleave with the other owners
      }
      auto l = p.checkout();
      REQUIRE(l.ok());
      seen_total[f] = std::stol(std::string(
          must((*l)->exec(std::string("SELECT count(*) FROM ") + shared_table)).get(0, 0)));
      seen_mine[f] = std::stol(std::string(
          must((*l)->exec(std::string("SELECT count(*) FROM ") + shared_table +
                          " WHERE tag = $1",
                          {tag}))
              .get(0, 0)));
      *l = {};
      REQUIRE(p.ownership().checkin().ok());
    });
  for (auto& fb : team) fb.join();
  for (int f = 0; f < fibers; ++f) {
    CAPTURE(f);
    CHECK(seen_mine[f] == rows);
    CHECK(seen_total[f] == rows);  // nothing of the other fibers or processes
  }
  CHECK(committed_with_prefix(prefix) == 0);
}
