// One connection's sandbox state, and the statement hook that runs the code
// under test's statements on it as a plain PostgreSQL session would run
// them. It owns the emulated session state: the code under test is either
// outside a transaction block (what it sees as idle; each string runs as
// its own implicit transaction, under SAVEPOINT sandpool_tx) or inside one
// (`in_block`: SAVEPOINT sandpool_tx stands for the block, the code's own
// savepoints sit above it by their own names, and a failed block is the
// server's own aborted state). `in_block` changes only after the server
// confirmed the savepoint operation. Used by whoever holds the connection's
// turn, so it needs no lock of its own; the sandbox (under its lock) only
// creates sessions and flips `active` when no one uses the connection.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandbox/reading.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/statement_hook.hpp"
#include "sandpool/sandbox/sandbox.hpp"
#include "sandpool/sandbox/statement.hpp"

namespace sandpool {

// The sandbox's own statements around the code under test's.
namespace sandbox_sql {
inline constexpr std::string_view tx_open = "SAVEPOINT sandpool_tx";
inline constexpr std::string_view tx_commit = "RELEASE SAVEPOINT sandpool_tx";
inline constexpr std::string_view tx_undo =
    "ROLLBACK TO SAVEPOINT sandpool_tx; RELEASE SAVEPOINT sandpool_tx";
inline constexpr std::string_view tx_restart = "ROLLBACK TO SAVEPOINT sandpool_tx";
inline constexpr std::string_view tx_renew =
    "RELEASE SAVEPOINT sandpool_tx; SAVEPOINT sandpool_tx";
}  // namespace sandbox_sql

class sandbox_session final : public pq::statement_hook {
 public:
  explicit sandbox_session(const sandbox_options& o) : options_(o) {}

  [[nodiscard]] absl::StatusOr<pq::result> run(pq::connection& c,
                                               const pq::statement& s) override;
  // Idle while the code under test has no block open (the server is inside
  // the sandbox's transaction all along); otherwise the server's own state.
  [[nodiscard]] tx_status transaction_status(tx_status server) const noexcept override;

  static std::string mark_name(int n) { return "sandpool_mark_" + std::to_string(n); }

  // After a CLOSE through exec(): declares the commit guard's cursor again
  // if it is gone (see guard.hpp), under a savepoint of its own; ok when the
  // transaction is in a failed block (checked after the next string).
  absl::Status rearm_guard(pq::connection& c);

  bool active = false;    // c is sandboxed (between checkout and release)
  bool in_block = false;  // the code under test's transaction block is open
  int marks = 0;          // suite savepoints sandpool_mark_1 .. marks
  int verified_pid = 0;   // the backend the safeguard last accepted
  // The backend whose transaction the sandbox last opened at checkout (the
  // safeguard and the guard's function known good there): later checkouts
  // on it defer the opening to the first statement.
  int opened_pid = 0;
  bool guard_closed = false;  // a CLOSE ran since checkout: check the guard

 private:
  using outcome = absl::StatusOr<pq::result>;

  // run() but for the commit guard's check after a CLOSE.
  outcome run_string(pq::connection& c, const pq::statement& s);

  // Statements without transaction control, outside a block: together under
  // SAVEPOINT sandpool_tx, in one round trip (all or nothing, as the
  // server's implicit transaction for a string). See protect.cpp.
  outcome protect(pq::connection& c, std::span<const std::string_view> pieces,
                  const pq::statement& s, reading& read);
  // Whether s may go to the server inside one simple-protocol string with
  // the savepoint's statements: the server would then read it in full
  // before running the savepoint (its parser, its encoding check).
  bool fits_one_string(const pq::connection& c, const pq::statement& s, reading& read);
  outcome protect_in_one_string(pq::connection& c, std::size_t statements,
                                const pq::statement& s);

  // Sends s as written (inside the code under test's block).
  outcome pass(pq::connection& c, const pq::statement& s);
  // A string with transaction control in it, statement by statement, as the
  // server runs a string: an implicit transaction around what runs outside a
  // block, the first error ending the string (and undoing the implicit
  // transaction).
  outcome run_script(pq::connection& c, std::string_view sql,
                     std::span<const std::string_view> pieces,
                     std::span<const statement_info> infos);
  // One statement of a script; `implicit`: sandpool_tx is open for the
  // string's implicit transaction; `single`: the string holds one statement.
  outcome step(pq::connection& c, const statement_info& info, std::string_view sql,
               bool single, bool& implicit);
  outcome begin(pq::connection& c, const statement_info& info, std::string_view sql,
                bool& implicit);
  outcome commit(pq::connection& c, const statement_info& info, std::string_view sql,
                 bool& implicit);
  outcome rollback(pq::connection& c, const statement_info& info, std::string_view sql,
                   bool& implicit);
  outcome set_transaction(pq::connection& c, const statement_info& info, std::string_view sql);
  // The server's warning for COMMIT or ROLLBACK with no block, then `end`
  // for the implicit transaction (or a savepoint of its own): all or nothing.
  outcome warn_then(pq::connection& c, std::string_view end, std::string_view what,
                    bool& implicit);
  // Runs translation (statements the sandbox chose), naming `what` on error.
  outcome translate(pq::connection& c, std::string_view sql, std::string_view what);
  // The error of a statement the sandbox sent for `sql`, the code under
  // test's: naming what the sandbox was `doing`, or, for a lost connection,
  // only sql.
  // The error of `piece`, a statement of sql sent alone, with its position
  // counted in sql, as the server counts it in a string sent whole.
  static absl::Status in_whole(absl::Status error, std::string_view sql, std::string_view piece);
  static absl::Status report(const absl::Status& error, std::string_view sql,
                             std::string_view doing);

  const sandbox_options& options_;
  reading_cache readings_;  // the strings seen lately, read
};

}  // namespace sandpool
