// Activity export: evidence for sizing a pool from a real run. When the
// environment variable SANDPOOL_METRICS_EXPORT names a directory at pool
// creation, the pool records every checkout (when it was asked for, granted
// and returned, and which test was running) and writes them, when the pool
// is destroyed (or at exit, for a pool the program never destroys), to one
// tab-separated file in that directory:
//
//   # sandpool activity v1
//   # pool	<name>
//   # max_size	<N>
//   # pid	<pid>
//   test	requested_ns	granted_ns	released_ns	outcome
//   orders/places an order	1200	1250	9000	ok
//
// Times are CLOCK_MONOTONIC nanoseconds, comparable between processes of one
// machine. A checkout that failed has outcome timeout, dropped or failed and
// granted_ns = released_ns = when it gave up. `sandpool-size suite` reads
// these files. Without the variable nothing is recorded and checkout pays
// one predictable branch.
#pragma once

#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

inline constexpr const char* activity_export_env = "SANDPOOL_METRICS_EXPORT";

// Names what the process does from now on, normally the running test
// ("suite/test"); the label goes with every checkout recorded until the next
// call. Empty means "outside any test" (written as `-`). Process-wide and
// thread-safe. sandpool's doctest and GoogleTest integrations set it.
void set_activity_label(std::string_view label);

}  // namespace sandpool

#pragma GCC visibility pop
