// One connection's sandbox state, and the statement hook that translates the
// code under test's statements on it. It owns the depth invariant: `depth`
// counts exactly the savepoints sandpool_1 .. sandpool_<depth> that stand for
// the code under test's open transactions, and changes only after the server
// confirmed the savepoint operation. Used by whoever holds the connection's
// turn, so it needs no lock of its own; the sandbox (under its lock) only
// creates sessions and flips `active` when no one uses the connection.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/statement_hook.hpp"
#include "sandpool/sandbox/sandbox.hpp"
#include "sandpool/sandbox/statement.hpp"

namespace sandpool {

class sandbox_session final : public pq::statement_hook {
 public:
  explicit sandbox_session(const sandbox_options& o) : options_(o) {}

  [[nodiscard]] absl::StatusOr<pq::result> run(pq::connection& c,
                                               const pq::statement& s) override;

  // The savepoint that stands for level n of the code under test.
  static std::string level_name(int n) { return "sandpool_" + std::to_string(n); }
  static std::string mark_name(int n) { return "sandpool_mark_" + std::to_string(n); }

  bool active = false;   // c is sandboxed (between checkout and release)
  int depth = 0;         // open levels of the code under test
  int marks = 0;         // suite savepoints sandpool_mark_1 .. marks
  int verified_pid = 0;  // the backend the safeguard last accepted

 private:
  using outcome = absl::StatusOr<pq::result>;

  outcome run_one(pq::connection& c, const statement_info& info, const pq::statement& s);
  // Runs statements outside any level, under SAVEPOINT sandpool_stmt.
  outcome protect(pq::connection& c, std::span<const std::string_view> pieces,
                  const pq::statement& s);
  // Sends s as written (inside a level of the code under test).
  outcome pass(pq::connection& c, const pq::statement& s);
  outcome begin_level(pq::connection& c, const statement_info& info, std::string_view sql);
  outcome end_level(pq::connection& c, const statement_info& info, std::string_view sql);
  outcome set_transaction(pq::connection& c, const statement_info& info, std::string_view sql);
  // After SET TRANSACTION ISOLATION LEVEL failed: the refusal, naming the
  // level the sandbox actually runs at (asked in the recovery round trip).
  absl::Status isolation_error(pq::connection& c, std::string_view recovery,
                               const statement_info& info, std::string_view sql);

  const sandbox_options& options_;
};

}  // namespace sandpool
