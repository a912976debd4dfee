// The doctest integration's end-of-run cleanup: the last suite's each_suite
// cleanup runs from the listener after the last test, and when it fails the
// process exits non-zero although every test passed. Registered with
// should_fail: the cleanup names a table that does not exist.
#include <doctest/doctest.h>

#include "sandpool/testing/doctest.hpp"
#include "suite_env.hpp"

namespace sandpool::test {
namespace {

testing::suite_options broken_cleanup() {
  testing::suite_options o = unsandboxed(cleanup_when::each_suite);
  o.cleanup.only = {"no_such_table"};
  return o;
}

testing::suite last{"last", suite_pool, broken_cleanup()};

}  // namespace

TEST_CASE_FIXTURE(testing::db_case<last>, "passes; the cleanup after it fails") {
  add_note("last");
  CHECK(committed_notes("last") == 1);
}

}  // namespace sandpool::test
