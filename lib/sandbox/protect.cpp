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

constexpr std::size_t parsed_cache_limit = 256;

}  // namespace

auto sandbox_session::protect(pq::connection& c, std::span<const std::string_view> pieces,
                              const pq::statement& s) -> outcome {
  if (fits_one_string(c, s)) return protect_in_one_string(c, pieces.size(), s);
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
    const absl::Status error = msg::with_hint(o[i].status(), false);
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

bool sandbox_session::fits_one_string(const pq::connection& c, const pq::statement& s) {
  if (s.extended) return false;
  const std::string_view sql = s.sql;
  // libpq would cut the string at a NUL, RELEASE with it; the server checks
  // the encoding of the whole message before it runs any of it; with
  // standard_conforming_strings off the parser's reading depends on
  // backslash_quote too.
  if (sql.find('\0') != std::string_view::npos) return false;
  if (c.parameter("standard_conforming_strings") != "on") return false;
  if (c.parameter("client_encoding") != "UTF8") return false;
  const std::string_view server = c.parameter("server_encoding");
  if (server != "UTF8" && server != "SQL_ASCII") return false;
  if (!text::valid_utf8(sql)) return false;
  if (parsed_.find(sql) != parsed_.end()) return true;
  if (!sql::parses(sql, true)) return false;
  if (parsed_.size() >= parsed_cache_limit) parsed_.clear();
  parsed_.emplace(sql);
  return true;
}

auto sandbox_session::protect_in_one_string(pq::connection& c, std::size_t statements,
                                            const pq::statement& s) -> outcome {
  auto out = c.exec_wrapped(before, s.sql, after);
  if (!out.ok()) return report(out.status(), s.sql, tx_open);
  std::vector<pq::result>& results = out->results;
  if (out->error.ok()) {
    if (results.size() < 2) {
      return absl::InternalError(text::concat(
          "sandbox: the server answered a protected string with ", std::to_string(results.size()),
          " results, fewer than its savepoint's two; the sandbox's transaction may be gone "
          "(while running: ", s.sql, ")"));
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

void sandbox_session::rearm_guard(pq::connection& c) {
  if (c.server_transaction_status() != tx_status::in_transaction) return;  // next time
  auto r = c.exec_direct(
      "SELECT 1 FROM pg_catalog.pg_cursors WHERE name = 'sandpool_guard'");
  if (!r.ok()) return;
  if (r->rows() == 0) (void)c.exec_direct(guard::arm_sql);
}

}  // namespace sandpool
