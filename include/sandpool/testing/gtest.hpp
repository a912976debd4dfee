// GoogleTest integration: a fixture that gives each test the database mode
// of its suite (see suite.hpp).
//
//   sandpool::pool& test_pool();  // made once, with the sandbox installed
//   inline sandpool::testing::suite orders{"orders", test_pool};
//   using OrdersTest = sandpool::testing::db_test<orders>;
//   TEST_F(OrdersTest, PlacesAnOrder) {
//     auto lease = checkout();  // fails the test, with the full message, if it cannot
//     ...
//   }
//
// It owns the rule that every error of the suite's setup and teardown is
// reported with its whole message: a setup error (the checkout, the
// safeguard, a pool without a sandbox) is a fatal failure in SetUp, so the
// test body does not run; a teardown error (checkin finding the sandbox's
// transaction gone, a failed cleanup) fails the test in TearDown; an
// each_suite cleanup runs in TearDownTestSuite, after the suite's last test,
// and its failure fails the suite.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/core/activity.hpp"
#include "sandpool/testing/suite.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::testing {

// S must be a suite with static storage duration.
template <suite& S>
class db_test : public ::testing::Test {
 public:
  static void TearDownTestSuite() {
    if (absl::Status s = S.finish(); !s.ok()) ADD_FAILURE() << text(s);
  }

 protected:
  void SetUp() override {
    if (const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info())
      set_activity_label(std::string(t->test_suite_name()) + "/" + t->name());
    if (absl::Status s = S.begin_test(); !s.ok()) GTEST_FAIL() << text(s);
  }
  // GoogleTest calls TearDown even when SetUp failed; end_test is then a
  // no-op.
  void TearDown() override {
    if (absl::Status s = S.end_test(); !s.ok()) ADD_FAILURE() << text(s);
    set_activity_label({});
  }

  sandpool::pool& pool() { return S.pool(); }
  suite& current_suite() { return S; }

  // A lease on the test's connection (or, unsandboxed, a connection of its
  // own); an empty lease and a failure with the pool's full message if
  // there is none. ASSERT_TRUE(lease) to stop the test there.
  sandpool::lease checkout() {
    auto l = S.pool().checkout();
    if (!l.ok()) {
      ADD_FAILURE() << text(l.status());
      return {};
    }
    return *std::move(l);
  }

  static std::string text(const absl::Status& s) {
    const absl::string_view m = s.message();
    return std::string(m.data(), m.size());
  }
};

}  // namespace sandpool::testing

#pragma GCC visibility pop
