// The GoogleTest integration against a real server: sandboxed tests commit
// nothing and do not see each other's rows, a shared suite's plain threads
// see the test's rows, an unsandboxed each_suite suite keeps its rows
// between its tests and loses them in TearDownTestSuite, and a setup error
// stops the test before its body. Suites run in the order they are defined.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "sandpool/ownership/spawn.hpp"
#include "sandpool/testing/gtest.hpp"
#include "suite_env.hpp"

namespace sandpool::test {
namespace {

using testing::suite;
using testing::suite_mode;

suite boxed{"boxed", suite_pool, mode_only(suite_mode::sandboxed)};
suite sharing{"sharing", suite_pool, mode_only(suite_mode::shared)};
suite batch{"batch", suite_pool, unsandboxed(cleanup_when::each_suite)};

// Skips on the user's explicit opt-out, before the suite's setup runs.
template <suite& S>
class opt_out : public testing::db_test<S> {
 protected:
  void SetUp() override {
    if (skip_integration()) GTEST_SKIP() << "SANDPOOL_SKIP_INTEGRATION=1";
    testing::db_test<S>::SetUp();
  }
};

using Boxed = opt_out<boxed>;
using Sharing = opt_out<sharing>;
using Batch = opt_out<batch>;

TEST_F(Boxed, SeesItsOwnRowsAndCommitsNone) {
  add_note("boxed");
  EXPECT_EQ(visible_notes(), 1);
  EXPECT_EQ(committed_notes(), 0);
}

TEST_F(Boxed, StartsFromNothing) { EXPECT_EQ(visible_notes(), 0); }

TEST_F(Boxed, SpawnedWorkersUseTheTestsConnection) {
  add_note("boxed");
  long seen = -1;
  auto worker = spawn_thread(pool(), [&] { seen = visible_notes(); });
  ASSERT_TRUE(worker.ok()) << text(worker.status());
  worker->join();
  EXPECT_EQ(seen, 1);
}

TEST_F(Sharing, PlainThreadsUseTheTestsConnection) {
  add_note("sharing");
  long seen = -1;
  std::thread worker([&] { seen = visible_notes(); });
  worker.join();
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(committed_notes(), 0);
}

TEST_F(Batch, FirstTestCommits) {
  EXPECT_EQ(committed_notes(), 0);
  add_note("batch");
  EXPECT_EQ(committed_notes("batch"), 1);
}

TEST_F(Batch, RowsStayBetweenTheSuitesTests) { EXPECT_EQ(committed_notes("batch"), 1); }

TEST(AfterBatch, TearDownTestSuiteCleanedTheBatchSuite) {
  if (skip_integration()) GTEST_SKIP();
  EXPECT_EQ(committed_notes(), 0);
}

// A pool without a sandbox: SetUp fails fatally with the whole message and
// the body does not run.
sandpool::pool& bare_pool() {
  static sandpool::pool& p = *new sandpool::pool([] {  // never destroyed: see suite_pool()
    auto d = pq::driver::create(test_dsn());
    ensure(d.status(), "driver");
    auto made = pool::create(*d);
    ensure(made.status(), "pool");
    return std::move(*made);
  }());
  return p;
}
suite no_sandbox{"no_sandbox", bare_pool, mode_only(suite_mode::sandboxed)};

class NoSandbox : public testing::db_test<no_sandbox> {
 public:
  void TestBody() override {}
  // What GoogleTest does around a test: SetUp, then TearDown even if SetUp
  // failed (and the body only if it did not).
  static void set_up_and_tear_down() {
    NoSandbox t;
    t.SetUp();
    t.TearDown();
  }
};

TEST(SetupErrors, APoolWithoutASandboxFailsSetUpWithTheWholeMessage) {
  if (skip_integration()) GTEST_SKIP();
  EXPECT_FATAL_FAILURE(NoSandbox::set_up_and_tear_down(), "test suite 'no_sandbox' (sandboxed)");
  EXPECT_FATAL_FAILURE(NoSandbox::set_up_and_tear_down(), "sandpool::install_sandbox(pool)");
  EXPECT_EQ(bare_pool().ownership().metrics().owners, 0u);
}

TEST(Last, NoRowIsLeft) {
  if (skip_integration()) GTEST_SKIP();
  ASSERT_TRUE(suite::finish_all().ok());
  EXPECT_EQ(committed_notes(), 0);
  drop_schema();
}

}  // namespace
}  // namespace sandpool::test
