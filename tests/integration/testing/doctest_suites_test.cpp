// The doctest integration against a real server: each suite's mode is what
// its tests observe (sandboxed tests see their own rows and commit nothing,
// shared tests' plain threads see the test's rows, unsandboxed tests commit
// and are cleaned after each test or after the suite), and setup or teardown
// errors fail the test with the whole message. Test cases run in file
// order, which the checks on "the previous test" rely on.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <string>
#include <thread>

#include "sandpool/ownership/spawn.hpp"
#include "sandpool/testing/doctest.hpp"
#include "suite_env.hpp"

namespace sandpool::test {
namespace {

using testing::db_case;
using testing::suite;
using testing::suite_mode;

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const auto skip = doctest::skip(skip_integration());

suite boxed{"boxed", suite_pool, mode_only(suite_mode::sandboxed)};
suite sharing{"sharing", suite_pool, mode_only(suite_mode::shared)};
suite cluster{"cluster", suite_pool, unsandboxed(cleanup_when::each_test)};
suite batch{"batch", suite_pool, unsandboxed(cleanup_when::each_suite)};
suite after_batch{"after_batch", suite_pool, mode_only(suite_mode::sandboxed)};

// A pool that nobody installed a sandbox on.
sandpool::pool& bare_pool() {
  static sandpool::pool& p = *new sandpool::pool([] {  // never destroyed: see suite_pool()
    auto d = pq::driver::create(test_dsn());
    ensure(d.status(), "driver");
    pool_options o;
    o.name = "bare";
    auto made = pool::create(*d, o);
    ensure(made.status(), "pool");
    return std::move(*made);
  }());
  return p;
}
suite no_sandbox{"no_sandbox", bare_pool, mode_only(suite_mode::sandboxed)};

}  // namespace

TEST_CASE_FIXTURE(db_case<boxed>, "sandboxed: a test sees its own rows and commits none" * skip) {
  add_note("boxed");
  CHECK(visible_notes() == 1);
  CHECK(committed_notes() == 0);
  CHECK(std::holds_alternative<manual_mode>(pool().ownership().current_mode()));
}

TEST_CASE_FIXTURE(db_case<boxed>, "sandboxed: the next test starts from nothing" * skip) {
  CHECK(visible_notes() == 0);
}

TEST_CASE_FIXTURE(db_case<boxed>,
                  "sandboxed: spawn_thread workers use the test's connection" * skip) {
  add_note("boxed");
  long seen = -1;
  std::thread worker = must(spawn_thread(pool(), [&] { seen = visible_notes(); }));
  worker.join();
  CHECK(seen == 1);
}

TEST_CASE_FIXTURE(db_case<boxed>,
                  "sandboxed: a thread nobody allowed gets the teaching error" * skip) {
  absl::Status seen;
  std::thread stranger([&] { seen = pool().checkout().status(); });
  stranger.join();
  CHECK(seen.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(has(status_text(seen), "owns no connection and is allowed on none"),
                status_text(seen));
}

TEST_CASE_FIXTURE(db_case<sharing>, "shared: plain threads use the test's connection" * skip) {
  add_note("sharing");
  long seen = -1;
  std::thread worker([&] { seen = visible_notes(); });
  worker.join();
  CHECK(seen == 1);
  CHECK(committed_notes() == 0);
  CHECK(std::holds_alternative<shared_mode>(pool().ownership().current_mode()));
}

TEST_CASE_FIXTURE(db_case<sharing>, "shared: the next test starts from nothing" * skip) {
  CHECK(visible_notes() == 0);
}

TEST_CASE_FIXTURE(db_case<cluster>,
                  "unsandboxed: writes commit, other connections see them" * skip) {
  CHECK(std::holds_alternative<auto_mode>(pool().ownership().current_mode()));
  add_note("cluster");
  std::thread node([] { add_note("cluster"); });  // its own connection, auto mode
  node.join();
  CHECK(committed_notes("cluster") == 2);
}

TEST_CASE_FIXTURE(db_case<cluster>, "unsandboxed each_test: cleaned before the next test" * skip) {
  CHECK(committed_notes() == 0);
  add_note("cluster");
}

TEST_CASE_FIXTURE(db_case<batch>, "unsandboxed each_suite: the first test writes" * skip) {
  CHECK(committed_notes() == 0);  // the cluster suite's cleanup ran after its last test
  add_note("batch");
}

TEST_CASE_FIXTURE(db_case<batch>, "unsandboxed each_suite: kept between the suite's tests" * skip) {
  CHECK(committed_notes("batch") == 1);
}

TEST_CASE_FIXTURE(db_case<after_batch>,
                  "unsandboxed each_suite: cleaned before the next suite" * skip) {
  CHECK(committed_notes() == 0);
}

// The fixture's constructor fails, so the body never runs; should_fail
// turns that expected failure into a pass (and an empty body that ran into
// a failure of this test case).
TEST_CASE_FIXTURE(db_case<no_sandbox>, "a pool without a sandbox fails the test before its body" *
                                           skip * doctest::should_fail()) {}

TEST_CASE("a pool without a sandbox: the message names the suite and the fix" * skip) {
  const absl::Status s = no_sandbox.begin_test();
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(has(status_text(s), "test suite 'no_sandbox' (sandboxed)"), status_text(s));
  CHECK_MESSAGE(has(status_text(s), "install_sandbox"), status_text(s));
  CHECK(bare_pool().ownership().metrics().owners == 0);  // nothing left checked out
  CHECK(no_sandbox.end_test().ok());                     // nothing to end
}

// The test ends the sandbox's transaction behind its back (on the raw
// PGconn): checkin, in the fixture's destructor, fails the test.
TEST_CASE_FIXTURE(db_case<boxed>, "a sandbox ended by the test fails it at checkin" * skip *
                                      doctest::should_fail()) {
  auto lease = checkout();
  PQclear(PQexec(lease->native(), "ROLLBACK"));
}

TEST_CASE("a sandbox ended by the test: the message names the suite and the fix" * skip) {
  REQUIRE(boxed.begin_test().ok());
  {
    auto lease = suite_pool().checkout();
    REQUIRE(lease.ok());
    PQclear(PQexec((*lease)->native(), "ROLLBACK"));
  }
  const absl::Status s = boxed.end_test();
  CHECK_FALSE(s.ok());
  CHECK_MESSAGE(has(status_text(s), "test suite 'boxed' (sandboxed): checkin after the test"),
                status_text(s));
  CHECK_MESSAGE(has(status_text(s), "unsandboxed"), status_text(s));
}

TEST_CASE("last: no row of any sandboxed or cleaned suite is left" * skip) {
  REQUIRE(suite::finish_all().ok());
  CHECK(committed_notes() == 0);
  drop_schema();
}

}  // namespace sandpool::test
