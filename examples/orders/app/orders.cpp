// The orders app's queries. Each function leases a connection for its call
// and returns it before returning, so a caller never holds one across calls.
#include "orders.hpp"

#include <string>

#include "absl/strings/str_cat.h"

namespace orders {
namespace {

// An explicit transaction that rolls back unless committed, so an early
// return cannot leave the connection inside a transaction.
class transaction {
 public:
  explicit transaction(sandpool::pq::connection& c) : c_(c) {}
  ~transaction() {
    if (open_) (void)c_.exec("ROLLBACK");
  }
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  [[nodiscard]] absl::Status begin() {
    absl::Status s = c_.exec("BEGIN").status();
    open_ = s.ok();
    return s;
  }
  [[nodiscard]] absl::Status commit() {
    open_ = false;
    return c_.exec("COMMIT").status();
  }

 private:
  sandpool::pq::connection& c_;
  bool open_ = false;
};

std::int64_t to_int(std::string_view text) { return std::stoll(std::string(text)); }

}  // namespace

absl::Status create_schema(sandpool::pool& pool) {
  auto lease = pool.checkout();
  if (!lease.ok()) return lease.status();
  return (*lease)
      ->exec(
          "CREATE TABLE IF NOT EXISTS accounts ("
          "  id bigserial PRIMARY KEY,"
          "  owner text NOT NULL,"
          "  balance_cents bigint NOT NULL CHECK (balance_cents >= 0));"
          "CREATE TABLE IF NOT EXISTS orders ("
          "  id bigserial PRIMARY KEY,"
          "  account_id bigint NOT NULL REFERENCES accounts,"
          "  amount_cents bigint NOT NULL CHECK (amount_cents > 0),"
          "  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed')),"
          "  placed_at timestamptz NOT NULL DEFAULT now(),"
          "  processed_at timestamptz)")
      .status();
}

absl::StatusOr<std::int64_t> create_account(sandpool::pool& pool, std::string_view owner,
                                            std::int64_t cents) {
  if (cents < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("an account cannot open with a negative balance (", cents, " cents)"));
  auto lease = pool.checkout();
  if (!lease.ok()) return lease.status();
  const std::string amount = std::to_string(cents);
  auto r = (*lease)->exec(
      "INSERT INTO accounts (owner, balance_cents) VALUES ($1, $2::bigint) RETURNING id",
      {owner, amount});
  if (!r.ok()) return r.status();
  return to_int(r->get(0, 0));
}

absl::StatusOr<std::int64_t> balance(sandpool::pool& pool, std::int64_t account) {
  auto lease = pool.checkout();
  if (!lease.ok()) return lease.status();
  const std::string id = std::to_string(account);
  auto r = (*lease)->exec("SELECT balance_cents FROM accounts WHERE id = $1::bigint", {id});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return absl::NotFoundError(absl::StrCat("no account ", account));
  return to_int(r->get(0, 0));
}

absl::StatusOr<std::int64_t> place_order(sandpool::pool& pool, std::int64_t account,
                                         std::int64_t cents) {
  if (cents <= 0)
    return absl::InvalidArgumentError(
        absl::StrCat("an order must cost more than nothing (got ", cents, " cents)"));
  auto lease = pool.checkout();
  if (!lease.ok()) return lease.status();
  sandpool::pq::connection& c = **lease;
  const std::string id = std::to_string(account), amount = std::to_string(cents);

  transaction tx(c);
  if (absl::Status s = tx.begin(); !s.ok()) return s;
  auto debit = c.exec(
      "UPDATE accounts SET balance_cents = balance_cents - $2::bigint "
      "WHERE id = $1::bigint AND balance_cents >= $2::bigint RETURNING balance_cents",
      {id, amount});
  if (!debit.ok()) return debit.status();
  if (debit->rows() == 0) {
    auto known = c.exec("SELECT balance_cents FROM accounts WHERE id = $1::bigint", {id});
    if (!known.ok()) return known.status();
    if (known->rows() == 0) return absl::NotFoundError(absl::StrCat("no account ", account));
    return absl::FailedPreconditionError(absl::StrCat(
        "account ", account, " holds ", std::string(known->get(0, 0)), " cents, less than the ",
        cents, " cents the order costs; nothing was debited"));
  }
  auto order = c.exec(
      "INSERT INTO orders (account_id, amount_cents) VALUES ($1::bigint, $2::bigint) "
      "RETURNING id",
      {id, amount});
  if (!order.ok()) return order.status();
  if (absl::Status s = tx.commit(); !s.ok()) return s;
  return to_int(order->get(0, 0));
}

absl::StatusOr<std::string> order_status(sandpool::pool& pool, std::int64_t order) {
  auto lease = pool.checkout();
  if (!lease.ok()) return lease.status();
  const std::string id = std::to_string(order);
  auto r = (*lease)->exec("SELECT status FROM orders WHERE id = $1::bigint", {id});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return absl::NotFoundError(absl::StrCat("no order ", order));
  return std::string(r->get(0, 0));
}

absl::StatusOr<int> process_pending(sandpool::pool& pool, int limit) {
  auto lease = pool.checkout();
  if (!lease.ok()) return lease.status();
  const std::string n = std::to_string(limit);
  auto r = (*lease)->exec(
      "UPDATE orders SET status = 'processed', processed_at = now() "
      "WHERE id IN (SELECT id FROM orders WHERE status = 'pending' ORDER BY id "
      "             LIMIT $1::int FOR UPDATE SKIP LOCKED)",
      {n});
  if (!r.ok()) return r.status();
  return static_cast<int>(r->affected_rows());
}

}  // namespace orders
