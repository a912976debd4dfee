// The protected statement: what the code under test runs outside a block
// goes to the server under SAVEPOINT sandpool_tx, released after it, so a
// failure undoes only that string, as the server's implicit transaction
// would. It owns the choice of carrier, both one round trip:
//   - one simple-protocol string, "SAVEPOINT; <the string>; RELEASE", when
//     the server is sure to run the savepoint before any of it (it reads a
//     string whole before running it: the string must pass the server's
//     parser and its encoding check, which fits_one_string() makes sure of);
//     the server then reads the code's string exactly as sent alone;
//   - otherwise a pipeline (extended protocol), one statement per step:
//     statements with parameters, text the parser rejects (its syntax error
//     comes back from the server, with the savepoint to undo it).
#include <string>
#include <vector>

#include "pq/error.hpp"
#include "sandbox/messages.hpp"
#include "sandbox/session.hpp"
#include "sandbox/sql_parser.hpp"
#include "sandbox/guard.hpp"
#include "text.hpp"

namespace sandpool {
namespace {

namespace msg = sandbox_messages;
using namespace sandbox_sql;

// Around the code's string: a newline ends a trailing -- comment.
constexpr std::string_view before = "SAVEPOINT sandpool_tx;";
constexpr std::string_view after = "\n;RELEASE SAVEPOINT sandpool_tx";

}  // namespace

auto sandbox_session::protect(pq::connection& c, std::span<const std::string_view> pieces,
                              const pq::statement& s, reading& read) -> outcome {
  if (fits_one_string(c, s, read)) return protect_in_one_string(c, pieces.size(), s);
  std::vector<pq::pipeline_step> steps;
  steps.reserve(pieces.size() + 2);
  steps.push_back({tx_open});
  for (std::string_view p : pieces) {
    steps.push_back({p, s.extended ? s.params : std::span<const pq::connection::param>()});
  }
  steps.push_back({tx_commit});
  auto out = c.exec_pipeline(steps);
  if (!out.ok()) return report(out.status(), s.sql, tx_open);
  std::vector<outcome>& o = *out;
  if (!o.front().ok()) return report(o.front().status(), s.sql, tx_open);
  for (std::size_t i = 1; i + 1 < o.size(); ++i) {
    if (o[i].ok()) continue;
    const absl::Status error = in_whole(msg::with_hint(o[i].status(), false), s.sql, pieces[i - 1]);
    auto back = c.exec_direct(tx_undo);
    return back.ok() ? error : msg::recovery_failed(error, back.status());
  }
  if (!o.back().ok()) {
    const absl::Status error = report(o.back().status(), s.sql, tx_commit);
    auto back = c.exec_direct(tx_undo);
    return back.ok() ? error : msg::recovery_failed(error, back.status());
  }
  return std::move(o[o.size() - 2]);
}

bool sandbox_session::fits_one_string(const pq::connection& c, const pq::statement& s,
                                      reading& read) {
  if (s.extended) return false;
  const std::string_view sql = s.sql;
  // libpq would cut the string at a NUL, RELEASE with it. The server checks
  // the encoding of the whole message before it runs any of it. Its reading
  // of a backslash depends on standard_conforming_strings, backslash_quote
  // and (Unicode escapes) the server's encoding, which libpg_query does not
  // follow; its grammar is PostgreSQL 15's.
  if (sql.find('\0') != std::string_view::npos || sql.find('\\') != std::string_view::npos) {
    return false;
  }
  if (c.parameter("standard_conforming_strings") != "on") return false;
  if (c.parameter("client_encoding") != "UTF8" || c.parameter("server_encoding") != "UTF8") {
    return false;
  }
  if (!c.parameter("server_version").starts_with("15.")) return false;
  if (!read.parses) read.parses = text::valid_utf8(sql) && sql::parses(sql, true);
  return *read.parses;
}

auto sandbox_session::protect_in_one_string(pq::connection& c, std::size_t statements,
                                            const pq::statement& s) -> outcome {
  auto out = c.exec_wrapped(before, s.sql, after);
  if (!out.ok()) {
    // A COPY ended by exec_wrapped fails the string after the savepoint.
    if (c.server_transaction_status() == tx_status::in_error) (void)c.exec_direct(tx_undo);
    return report(out.status(), s.sql, tx_open);
  }
  std::vector<pq::result>& results = out->results;
  if (out->error.ok()) {
    if (results.size() < 2) {
      return absl::InternalError(text::concat(
          "sandbox: the server answered a protected string with ", std::to_string(results.size()),
          " results, fewer than its savepoint's two, so the sandbox's transaction may be gone "
          "(while running: ", pq::internal::sql_excerpt(s.sql), "). Fix: check in (checkin "
          "says what became of the transaction) and run the test again; if it repeats, report "
          "it as a sandpool bug with the statement"));
    }
    return std::move(results[results.size() - 2]);
  }
  // Nothing ran: the savepoint itself failed, and the transaction with it.
  if (results.empty()) return report(out->error, s.sql, tx_open);
  const absl::Status error = results.size() <= statements
                                 ? msg::with_hint(out->error, false)
                                 : report(out->error, s.sql, tx_commit);
  auto back = c.exec_direct(tx_undo);
  return back.ok() ? error : msg::recovery_failed(error, back.status());
}

absl::Status sandbox_session::rearm_guard(pq::connection& c) {
  if (c.server_transaction_status() != tx_status::in_transaction) return absl::OkStatus();
  // All under a savepoint of its own, so that a failure (a statement
  // timeout, a cancel) leaves the test's state as it was.
  auto found = c.exec_direct(
      "SAVEPOINT sandpool_arm; SELECT 1 FROM pg_catalog.pg_cursors WHERE name = "
      "'sandpool_guard' AND is_holdable AND statement LIKE '%sandpool.refuse_commit_now()%'");
  absl::Status done = found.status();
  if (done.ok()) {
    const std::string end = found->rows() > 0
                                ? std::string("RELEASE SAVEPOINT sandpool_arm")
                                : text::concat(guard::arm_sql, "; RELEASE SAVEPOINT sandpool_arm");
    done = c.exec_direct(end).status();
  }
  if (done.ok()) return done;
  auto back = c.exec_direct(
      "ROLLBACK TO SAVEPOINT sandpool_arm; RELEASE SAVEPOINT sandpool_arm");
  return back.ok() ? done : msg::recovery_failed(done, back.status());
}

}  // namespace sandpool
