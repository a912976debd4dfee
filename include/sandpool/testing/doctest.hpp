// doctest integration: a fixture that gives each test case the database mode
// of its suite (see suite.hpp), for TEST_CASE_FIXTURE.
//
//   sandpool::pool& test_pool();  // made once, with the sandbox installed
//   inline sandpool::testing::suite orders{"orders", test_pool};
//   TEST_CASE_FIXTURE(sandpool::testing::db_case<orders>, "places an order") {
//     auto lease = checkout();  // fails the test, with the full message, if it cannot
//     ...
//   }
//
// It owns the rule that every error of the suite's setup and teardown is a
// failure of the test it belongs to, with the error's whole message: setup
// errors (the checkout, the safeguard, a pool without a sandbox) stop the
// test before its body runs; teardown errors (checkin finding the sandbox's
// transaction gone, a failed cleanup) fail it afterwards.
//
// doctest has no after-suite hook, so an each_suite cleanup runs when the
// next test of another suite starts (failing that test if the cleanup
// fails) or, for the last suite, from a listener at the end of the run; a
// failure there is printed to stderr and makes the process exit non-zero.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/core/activity.hpp"
#include "sandpool/testing/suite.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::testing {

namespace detail {

inline std::string message_of(const absl::Status& s) {
  const absl::string_view m = s.message();
  return std::string(m.data(), m.size());
}

// Labels each test case for activity export, and runs the cleanup still
// due when the run ends. A listener cannot fail a test, so a failure is reported on stderr and turns the exit code into a
// failure (after doctest has printed its summary).
class run_end_listener : public doctest::IReporter {
 public:
  explicit run_end_listener(const doctest::ContextOptions&) {}
  void test_run_end(const doctest::TestRunStats&) override {
    const absl::Status s = suite::finish_all();
    if (s.ok()) return;
    std::fprintf(stderr, "sandpool: the cleanup after the last suite failed: %s\n",
                 message_of(s).c_str());
    std::atexit([] { std::_Exit(EXIT_FAILURE); });
  }
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  // Names the running test in exported activity (sandpool/core/activity.hpp).
  void test_case_start(const doctest::TestCaseData& t) override {
    std::string label = t.m_test_suite != nullptr && *t.m_test_suite != '\0'
                            ? std::string(t.m_test_suite) + "/"
                            : std::string();
    set_activity_label(label + t.m_name);
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override { set_activity_label({}); }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

// Registered once per program: the registry is keyed by name and priority.
DOCTEST_REGISTER_LISTENER("sandpool-suites", 1, run_end_listener);

}  // namespace detail

// The fixture: the constructor begins the test in suite S, the destructor
// ends it. S must be a suite with static storage duration.
template <suite& S>
class db_case {
 public:
  db_case() {
    if (absl::Status s = S.begin_test(); !s.ok()) FAIL(detail::message_of(s));
  }
  ~db_case() {
    // FAIL_CHECK, not FAIL: a destructor must not throw (it may run while the test's
    // own failure unwinds).
    if (absl::Status s = S.end_test(); !s.ok()) FAIL_CHECK(detail::message_of(s));
  }
  db_case(const db_case&) = delete;
  db_case& operator=(const db_case&) = delete;

 protected:
  sandpool::pool& pool() { return S.pool(); }
  suite& current_suite() { return S; }

  // A lease on the test's connection (or, unsandboxed, a connection of its
  // own). Fails the test with the pool's full message if there is none.
  sandpool::lease checkout() { return must(S.pool().checkout()); }

  // The value, or the test fails with the error's full message.
  template <class T>
  T must(absl::StatusOr<T> v) {
    if (!v.ok()) FAIL(detail::message_of(v.status()));
    return *std::move(v);
  }
  void must(const absl::Status& s) {
    if (!s.ok()) FAIL(detail::message_of(s));
  }
};

}  // namespace sandpool::testing

#pragma GCC visibility pop
