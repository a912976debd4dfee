// The orders app's cluster case, sandboxed: a test creates rows, starts
// three nodes of the app as child processes, each with its own pool, and
// they read the test's rows and write their own, all inside the test's
// sandbox. The children reach it through the sandbox gateway: their
// ORDERS_DSN is the gateway's connection string with the test's token. When
// the test ends its sandbox rolls back, so nothing is left and no cleanup
// step runs. (cluster_test.cpp is the alternative without the gateway: real
// commits and a cleanup strategy.)
#include <doctest/doctest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "../app/orders.hpp"
#include "sandpool/gateway/gateway.hpp"
#include "sandpool/testing/doctest.hpp"
#include "test_pool.hpp"

extern char** environ;

namespace orders::test {
namespace {

using sandpool::testing::db_case;
using sandpool::testing::suite_mode;

sandpool::testing::suite cluster{"orders (cluster, sandboxed)", pool,
                                 mode(suite_mode::sandboxed)};
using test_case = db_case<cluster>;

// Starts the app's node program (its path in ORDERS_NODE) with ORDERS_DSN
// set to dsn; returns its pid.
pid_t start_node(const std::string& dsn, const std::string& name, std::int64_t account) {
  const char* program = std::getenv("ORDERS_NODE");
  REQUIRE_MESSAGE(program != nullptr, "ORDERS_NODE names the orders_node program (meson sets it)");
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("ORDERS_DSN=", 0) != 0) env.emplace_back(*e);
  }
  env.push_back("ORDERS_DSN=" + dsn);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string account_arg = std::to_string(account);
  std::string prog(program), name_arg(name);
  char* argv[] = {prog.data(), name_arg.data(), account_arg.data(), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, program, nullptr, nullptr, argv, envp.data()) == 0);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

long sandbox_rows(const std::string& sql) {
  auto l = pool().checkout();
  ensure(l.status(), "checkout");
  auto r = (*l)->exec(sql);
  ensure(r.status(), sql);
  return std::stol(std::string(r->get(0, 0)));
}

}  // namespace

TEST_CASE_FIXTURE(test_case, "three app nodes in child processes work inside the test's sandbox") {
  const auto alice = must(create_account(pool(), "alice", 5'000));
  const auto order = must(place_order(pool(), alice, 1'000));
  auto token = pool().ownership().token();
  REQUIRE_MESSAGE(token.ok(), text(token.status()));
  auto gw = sandpool::gateway::start(pool());
  REQUIRE_MESSAGE(gw.ok(), text(gw.status()));
  const std::string dsn = (*gw)->conninfo(*token);

  std::vector<pid_t> nodes;
  for (const char* name : {"node-1", "node-2", "node-3"}) nodes.push_back(start_node(dsn, name, alice));
  for (pid_t pid : nodes) CHECK(wait_for(pid) == 0);
  (*gw)->stop();

  // The nodes saw alice and processed her order; their own rows are here.
  CHECK(must(order_status(pool(), order)) == "processed");
  CHECK(sandbox_rows("SELECT count(*) FROM accounts") == 4);
  CHECK(sandbox_rows("SELECT count(*) FROM orders") == 4);
  CHECK(sandbox_rows("SELECT count(*) FROM orders WHERE status = 'pending'") == 0);
  CHECK(committed_rows("accounts") == 0);  // all of it inside the sandbox
}

TEST_CASE("the cluster suite left no committed row behind, with no cleanup step") {
  CHECK(committed_rows("accounts") == 0);
  CHECK(committed_rows("orders") == 0);
  drop_schema();
}

}  // namespace orders::test
