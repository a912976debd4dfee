// The orders app: accounts with a balance, and orders that debit it. Every
// function takes the pool and nothing else about the database: it does not
// know whether the pool is a production pool (auto mode) or a test pool
// whose connections are sandboxed, shared or cleaned after each test. Its
// transactions are ordinary BEGIN / COMMIT / ROLLBACK; in a sandbox they
// become savepoints, so the same code is exercised in tests.
//
// Tables live in the connection's search_path (`public` unless the DSN says
// otherwise), which is how the tests give each process a schema of its own.
// All functions are thread-safe (each takes a connection for its call).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/sandpool.hpp"

namespace orders {

// Creates the tables if they do not exist (committed: call it in auto mode).
[[nodiscard]] absl::Status create_schema(sandpool::pool& pool);

// A new account holding `cents`. Errors: InvalidArgument for a negative
// amount; the pool's and the server's.
[[nodiscard]] absl::StatusOr<std::int64_t> create_account(sandpool::pool& pool,
                                                          std::string_view owner,
                                                          std::int64_t cents);

// The account's balance in cents. Errors: NotFound for an unknown account.
[[nodiscard]] absl::StatusOr<std::int64_t> balance(sandpool::pool& pool, std::int64_t account);

// Debits the account and records a pending order, in one transaction: both
// happen or neither does. Errors: InvalidArgument for an amount that is not
// positive; NotFound for an unknown account; FailedPrecondition when the
// balance is too low (nothing is debited or recorded).
[[nodiscard]] absl::StatusOr<std::int64_t> place_order(sandpool::pool& pool, std::int64_t account,
                                                       std::int64_t cents);

// "pending" or "processed". Errors: NotFound for an unknown order.
[[nodiscard]] absl::StatusOr<std::string> order_status(sandpool::pool& pool, std::int64_t order);

// Marks up to `limit` pending orders processed, oldest first, and returns
// how many it marked. Orders another worker is processing are skipped, so
// several workers can run at once.
[[nodiscard]] absl::StatusOr<int> process_pending(sandpool::pool& pool, int limit = 100);

}  // namespace orders
