// The sandbox's statement hook: PostgreSQL's transaction semantics on top of
// the sandbox's transaction. The code under test's block is SAVEPOINT
// sandpool_tx; so is the implicit transaction of a string run outside a
// block. Warnings the server gives for transaction control with no
// transaction come from the server itself (a RAISE WARNING with the same
// SQLSTATE and message), so they reach the client however it reads notices.
// Round trips: a string without transaction control costs one outside a
// block (two if it fails: the second rolls back its savepoint) and one
// inside; BEGIN, COMMIT and ROLLBACK cost one each; a refusal costs none.
#include "sandbox/session.hpp"

#include <vector>

#include "sandbox/guard.hpp"
#include "sandbox/messages.hpp"
#include "sandpool/pq/server_error.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "text.hpp"

namespace sandpool {
namespace {

namespace msg = sandbox_messages;
using text::concat;

using namespace sandbox_sql;

// The server's own WARNING (SQLSTATE 25P01) for COMMIT or ROLLBACK with no
// transaction, and for SET TRANSACTION outside a block.
constexpr std::string_view no_transaction_warning =
    "DO $sandpool$BEGIN RAISE WARNING USING MESSAGE = 'there is no transaction in progress', "
    "ERRCODE = '25P01'; END$sandpool$";
constexpr std::string_view set_transaction_warning =
    "DO $sandpool$BEGIN RAISE WARNING USING MESSAGE = 'SET TRANSACTION can only be used in "
    "transaction blocks', ERRCODE = '25P01'; END$sandpool$";

// The command tag the server gives BEGIN or START TRANSACTION.
const char* begin_tag(const statement_info& info) {
  return info.command == "START TRANSACTION" ? "START TRANSACTION" : "BEGIN";
}

// In a failed block the server refuses these with 25P02 (only COMMIT,
// ROLLBACK and ROLLBACK TO are accepted), and sending them is harmless.
bool refused_in_failed_block(statement_kind k) {
  switch (k) {
    case statement_kind::begin:
    case statement_kind::savepoint:
    case statement_kind::release:
    case statement_kind::set_transaction:
    case statement_kind::discard_all:
      return true;
    default:
      return false;
  }
}

// Whether sql could mean something else under the other setting of
// standard_conforming_strings: only backslashes in literals and U&'' strings
// differ.
bool reads_by_string_syntax(std::string_view sql) {
  return sql.find('\\') != std::string_view::npos || sql.find("&'") != std::string_view::npos;
}

// Whether sql may change standard_conforming_strings (SET, RESET, a
// function call naming it); read loosely: a false yes costs only speed.
bool may_change_string_syntax(std::string_view sql) {
  std::string lower(sql);
  for (char& ch : lower)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return lower.find("standard_conforming_strings") != std::string::npos ||
         lower.find("reset") != std::string::npos;
}

// Whether sql holds `word` (any case, not part of a longer name).
bool says(std::string_view sql, std::string_view word) {
  for (std::size_t i = 0; i + word.size() <= sql.size(); ++i) {
    if (!text::iequals(sql.substr(i, word.size()), word)) continue;
    const bool starts = i == 0 || !text::is_ident(sql[i - 1]);
    const bool ends = i + word.size() == sql.size() || !text::is_ident(sql[i + word.size()]);
    if (starts && ends) return true;
  }
  return false;
}

bool is_control(statement_kind k) {
  return k != statement_kind::other && k != statement_kind::empty;
}

}  // namespace

tx_status sandbox_session::transaction_status(tx_status server) const noexcept {
  return !in_block && server == tx_status::in_transaction ? tx_status::idle : server;
}

auto sandbox_session::run(pq::connection& c, const pq::statement& s) -> outcome {
  // The last checkin's answer first (already on its way: no request), so the
  // string is read with the settings its RESET ALL restored.
  if (absl::Status settled = c.read_reset(); !settled.ok()) return settled;
  // The commit guard's cursor: a FETCH or MOVE would fail it (and so
  // disarm it), a CLOSE drop it.
  if (says(s.sql, guard::cursor) &&
      (says(s.sql, "fetch") || says(s.sql, "move") || says(s.sql, "close"))) {
    return msg::guard_cursor_refused(s.sql);
  }
  // A CLOSE ALL closes it too, and any rollback of a block may drop the one
  // declared again in it: from a CLOSE on, the guard is checked after every
  // string of the test.
  guard_closed = guard_closed || says(s.sql, "close");
  outcome out = run_string(c, s);
  // A deferred opening without the guard's function (schema sandpool
  // dropped meanwhile): the next checkout opens at once and makes it again.
  if (!out.ok() && c.opening_deferred() && guard::missing(out.status())) opened_pid = 0;
  if (!guard_closed) return out;
  // The string's own error comes first; the check is made again after the
  // next string.
  absl::Status armed = rearm_guard(c);
  if (!out.ok() || armed.ok()) return out;
  return msg::guard_not_rearmed(armed, s.sql);
}

auto sandbox_session::run_string(pq::connection& c, const pq::statement& s) -> outcome {
  // No I/O: libpq knows the transaction status from the last reply.
  if (c.server_transaction_status() == tx_status::idle && !c.opening_deferred()) {
    return msg::transaction_gone(c.target(), "before this statement, which was not sent");
  }
  // Read as the server will read it: with the session's string syntax.
  const bool standard_strings = c.parameter("standard_conforming_strings") != "off";
  reading& read = readings_.of(s.sql, standard_strings, s.extended);
  const std::vector<std::string_view> pieces = read.pieces_of(s.sql);
  if (pieces.empty()) return pass(c, s);  // only comments: nothing to protect
  const std::vector<statement_info>& infos = read.infos;
  bool control = false;
  for (const statement_info& i : infos) control = control || is_control(i.kind);
  // Pipelined, each statement would be read when it runs, after an earlier
  // one changed the string syntax; statement by statement, that is refused.
  // (With parameters bound there is one statement, or the server's error.)
  for (std::size_t i = 0; i + 1 < pieces.size() && !control && !in_block && !s.extended; ++i) {
    control = may_change_string_syntax(pieces[i]);
  }
  if (!control) {
    if (in_block) return pass(c, s);
    const std::string_view whole = s.sql;
    return pieces.size() == 1 || s.extended ? protect(c, std::span(&whole, 1), s, read)
                                            : protect(c, pieces, s, read);
  }
  return run_script(c, s.sql, pieces, infos);
}

auto sandbox_session::pass(pq::connection& c, const pq::statement& s) -> outcome {
  auto r = s.extended ? c.exec_direct(s.sql, s.params) : c.exec_direct(s.sql);
  if (!r.ok()) return msg::with_hint(r.status(), in_block);
  return r;
}

auto sandbox_session::translate(pq::connection& c, std::string_view sql, std::string_view what)
    -> outcome {
  auto r = c.exec_direct(sql);
  if (!r.ok()) return report(r.status(), what, concat(what, " (as ", sql, ")"));
  return r;
}

absl::Status sandbox_session::report(const absl::Status& error, std::string_view sql,
                                     std::string_view doing) {
  // A lost connection is the whole story: name the statement the code under
  // test sent, not the sandbox's savepoints.
  if (error.code() == absl::StatusCode::kUnavailable) return msg::lost(error, sql);
  return msg::while_doing(error, doing);
}

absl::Status sandbox_session::in_whole(absl::Status error, std::string_view sql,
                                       std::string_view piece) {
  const auto at = static_cast<std::size_t>(piece.data() - sql.data());
  if (at == 0 || at > sql.size()) return error;
  pq::move_error_position(error, text::characters(sql.substr(0, at)), text::characters(sql) + 1);
  return error;
}

auto sandbox_session::run_script(pq::connection& c, std::string_view sql,
                                 std::span<const std::string_view> pieces,
                                 std::span<const statement_info> infos) -> outcome {
  const bool single = pieces.size() == 1;
  // The server reads the whole string with the string syntax in force when
  // it arrived; run statement by statement, a later statement would be read
  // with a setting changed by an earlier one.
  const std::string strings(c.parameter("standard_conforming_strings"));
  bool implicit = false;
  outcome last = pq::result();
  for (std::size_t i = 0; i < pieces.size() && last.ok(); ++i) {
    if (i > 0 && c.parameter("standard_conforming_strings") != strings &&
        reads_by_string_syntax(pieces[i])) {
      last = msg::string_syntax_changed(pieces[i]);
      break;
    }
    last = step(c, infos[i], pieces[i], single, implicit);
    if (!last.ok()) last = in_whole(last.status(), sql, pieces[i]);
  }
  if (!implicit) return last;
  if (last.ok()) {
    auto r = translate(c, tx_commit, "end of the string's implicit transaction");
    if (r.ok()) return last;
    last = r.status();
  }
  auto back = c.exec_direct(tx_undo);
  if (!back.ok()) return msg::recovery_failed(last.status(), back.status());
  return last;
}

auto sandbox_session::step(pq::connection& c, const statement_info& info, std::string_view sql,
                           bool single, bool& implicit) -> outcome {
  if (in_block && c.server_transaction_status() == tx_status::in_error &&
      refused_in_failed_block(info.kind)) {
    return pass(c, pq::statement{sql, {}, false});  // the server's 25P02
  }
  switch (info.kind) {
    case statement_kind::other:
    case statement_kind::empty:
      if (in_block) return pass(c, pq::statement{sql, {}, false});
      if (implicit) {
        auto r = c.exec_direct(sql);
        if (!r.ok()) return msg::with_hint(r.status(), false);
        return r;
      } else {
        const pq::pipeline_step steps[] = {{tx_open}, {sql}};
        auto out = c.exec_pipeline(steps);
        if (!out.ok()) return report(out.status(), sql, tx_open);
        if (!(*out)[0].ok()) return report((*out)[0].status(), sql, tx_open);
        implicit = true;
        if (!(*out)[1].ok()) return msg::with_hint((*out)[1].status(), false);
        return std::move((*out)[1]);
      }
    case statement_kind::begin:
      return begin(c, info, sql, implicit);
    case statement_kind::commit:
      return commit(c, info, sql, implicit);
    case statement_kind::rollback:
      return rollback(c, info, sql, implicit);
    case statement_kind::savepoint:
    case statement_kind::release:
    case statement_kind::rollback_to:
      if (info.savepoint.starts_with("sandpool_")) return msg::reserved_name(info.savepoint, sql);
      if (!in_block) return msg::needs_block(info.command, sql);
      return pass(c, pq::statement{sql, {}, false});
    case statement_kind::set_transaction:
      if (info.modes.snapshot) return msg::snapshot_refused(sql);
      if (info.modes.read_only) return msg::read_only_refused(info.command, sql);
      if (!in_block && single) {
        // The server ignores SET TRANSACTION outside a block, with a warning.
        auto r = translate(c, set_transaction_warning, info.command);
        if (!r.ok()) return r;
        return pq::result::command("SET");
      }
      if (!in_block && !implicit) {
        // Part of the string's implicit transaction, as on the server.
        if (auto r = translate(c, tx_open, info.command); !r.ok()) return r;
        implicit = true;
      }
      return set_transaction(c, info, sql);
    case statement_kind::copy:
      return msg::copy_refused(sql);
    case statement_kind::two_phase:
      return msg::two_phase_refused(info.command, sql);
    case statement_kind::discard_all:
      return msg::discard_all_refused(sql);
  }
  return pass(c, pq::statement{sql, {}, false});
}

auto sandbox_session::begin(pq::connection& c, const statement_info& info, std::string_view sql,
                            bool& implicit) -> outcome {
  if (info.modes.read_only) return msg::read_only_refused(info.command, sql);
  // In a block the server itself warns that one is in progress (or, in a
  // failed block, refuses with 25P02), and nothing changes.
  if (in_block) return pass(c, pq::statement{sql, {}, false});
  if (implicit) {
    // BEGIN inside a string's implicit transaction turns it into a block:
    // what ran before it in the string is part of the block.
    // A failed SET leaves the implicit transaction for the string to undo,
    // as the server's failed BEGIN does.
    if (info.modes.isolation) {
      auto r = set_transaction(c, info, sql);
      if (!r.ok()) return r;
    }
    implicit = false;
    in_block = true;
    return pq::result::command(begin_tag(info));
  }
  if (!info.modes.isolation) {
    if (auto r = translate(c, tx_open, info.command); !r.ok()) return r;
    in_block = true;
    return pq::result::command(begin_tag(info));
  }
  // The server accepts SET TRANSACTION ISOLATION LEVEL in a subtransaction
  // only when it names the level already in force: exactly the check wanted.
  const std::string set = concat("SET TRANSACTION ISOLATION LEVEL ", *info.modes.isolation);
  const pq::pipeline_step steps[] = {{tx_open}, {set}};
  auto out = c.exec_pipeline(steps);
  if (!out.ok()) return report(out.status(), sql, tx_open);
  if (!(*out)[0].ok()) {
    return report((*out)[0].status(), sql, concat(info.command, " (as ", tx_open, ")"));
  }
  if (!(*out)[1].ok()) {
    const absl::Status error = (*out)[1].status();
    if (pq::sqlstate(error) == "25001") {
      // Undo the savepoint (and the failure) and ask for the level in force.
      auto r = c.exec_direct(
          concat(tx_undo, "; SELECT current_setting('transaction_isolation')"));
      if (!r.ok()) return msg::recovery_failed(error, r.status());
      return msg::isolation_refused(info.command, *info.modes.isolation,
                                    text::upper(r->get(0, 0)),
                                    sql);
    }
    auto back = c.exec_direct(tx_undo);
    return back.ok() ? error : msg::recovery_failed(error, back.status());
  }
  in_block = true;
  return pq::result::command(begin_tag(info));
}

auto sandbox_session::commit(pq::connection& c, const statement_info& info, std::string_view sql,
                             bool& implicit) -> outcome {
  // Like the server, COMMIT of a failed block rolls it back (and says so).
  const bool failed = in_block && c.server_transaction_status() == tx_status::in_error;
  const char* tag = failed ? "ROLLBACK" : "COMMIT";
  if (info.chain) {
    if (!in_block) return msg::needs_block("COMMIT AND CHAIN", sql);
    if (auto r = translate(c, failed ? tx_restart : tx_renew, info.command); !r.ok()) return r;
    return pq::result::command(tag);
  }
  if (in_block) {
    if (auto r = translate(c, failed ? tx_undo : tx_commit, info.command); !r.ok()) return r;
    in_block = false;
    return pq::result::command(tag);
  }
  // No block: the server warns; a string's implicit transaction commits.
  if (auto r = warn_then(c, tx_commit, info.command, implicit); !r.ok()) return r;
  return pq::result::command("COMMIT");
}

auto sandbox_session::rollback(pq::connection& c, const statement_info& info,
                               std::string_view sql, bool& implicit) -> outcome {
  if (info.chain) {
    if (!in_block) return msg::needs_block("ROLLBACK AND CHAIN", sql);
    if (auto r = translate(c, tx_restart, info.command); !r.ok()) return r;
    return pq::result::command("ROLLBACK");
  }
  if (in_block) {
    if (auto r = translate(c, tx_undo, info.command); !r.ok()) return r;
    in_block = false;
    return pq::result::command("ROLLBACK");
  }
  // No block: the server warns; a string's implicit transaction is undone.
  if (auto r = warn_then(c, implicit ? tx_undo : tx_commit, info.command, implicit); !r.ok()) {
    return r;
  }
  return pq::result::command("ROLLBACK");
}

auto sandbox_session::warn_then(pq::connection& c, std::string_view end, std::string_view what,
                                bool& implicit) -> outcome {
  // Under sandpool_tx (the string's, or one of its own), so that a failure
  // of any part is undone whole: the savepoint stays open for the string's
  // undo (implicit), or is undone here.
  const std::string text = concat(implicit ? std::string_view() : tx_open,
                                  implicit ? "" : "; ", no_transaction_warning, "; ", end);
  auto r = translate(c, text, what);
  if (r.ok()) {
    implicit = false;
    return r;
  }
  if (implicit || c.opening_deferred()) return r;  // nothing ran: nothing to undo
  auto back = c.exec_direct(tx_undo);
  if (!back.ok()) return msg::recovery_failed(r.status(), back.status());
  return r;
}

auto sandbox_session::set_transaction(pq::connection& c, const statement_info& info,
                                      std::string_view sql) -> outcome {
  // READ WRITE and [NOT] DEFERRABLE change nothing in the sandbox's
  // read-write transaction (DEFERRABLE matters only to SERIALIZABLE READ
  // ONLY, which the sandbox refuses).
  if (!info.modes.isolation) return pq::result::command("SET");
  const std::string set = concat("SET TRANSACTION ISOLATION LEVEL ", *info.modes.isolation);
  auto r = c.exec_direct(set);
  if (r.ok()) return pq::result::command("SET");
  if (pq::sqlstate(r.status()) != "25001") return msg::with_hint(r.status(), in_block);
  return msg::isolation_refused(info.command, *info.modes.isolation,
                                options_.isolation.value_or("the server's default level"), sql,
                                true);
}

}  // namespace sandpool
