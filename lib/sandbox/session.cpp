// The sandbox's statement hook: translation of transaction control into
// savepoints and per-statement protection. Round trips: a protected
// statement costs one (two if it fails: the second rolls back to its
// savepoint); a translated BEGIN, COMMIT or ROLLBACK costs one; a refusal
// costs none.
#include "sandbox/session.hpp"

#include <vector>

#include "sandbox/messages.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "text.hpp"

namespace sandpool {
namespace {

namespace msg = sandbox_messages;
using text::concat;

constexpr std::string_view stmt_savepoint = "SAVEPOINT sandpool_stmt";
constexpr std::string_view stmt_release = "RELEASE SAVEPOINT sandpool_stmt";
constexpr std::string_view stmt_recover =
    "ROLLBACK TO SAVEPOINT sandpool_stmt; RELEASE SAVEPOINT sandpool_stmt";

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

}  // namespace

auto sandbox_session::run(pq::connection& c, const pq::statement& s) -> outcome {
  // No I/O: libpq knows the transaction status from the last reply.
  if (c.transaction_status() == tx_status::idle) {
    return msg::transaction_gone(c.target(), "before this statement, which was not sent");
  }
  // Read as the server will read it: with the session's string syntax.
  const bool standard_strings = c.parameter("standard_conforming_strings") != "off";
  const std::vector<std::string_view> pieces = split_statements(s.sql, standard_strings);
  if (pieces.empty()) return pass(c, s);  // only comments: nothing to protect
  if (s.extended || pieces.size() == 1) {
    // One statement (with parameters there can be only one: the server
    // rejects more, and classifying the first would not change that).
    const statement_info info =
        pieces.size() == 1 ? classify_statement(pieces[0], standard_strings) : statement_info{};
    return run_one(c, info, s);
  }
  std::vector<statement_info> infos;
  infos.reserve(pieces.size());
  bool plain = true;
  for (std::string_view p : pieces) {
    infos.push_back(classify_statement(p, standard_strings));
    plain = plain && infos.back().kind == statement_kind::other;
  }
  if (plain) return depth > 0 ? pass(c, s) : protect(c, pieces, s);
  // Transaction control among several statements: translate them one by one
  // and stop at the first error, as the server stops a multi-statement query.
  outcome last = pq::result();
  for (std::size_t i = 0; i < pieces.size() && last.ok(); ++i) {
    last = run_one(c, infos[i], pq::statement{pieces[i], {}, false});
  }
  return last;
}

auto sandbox_session::run_one(pq::connection& c, const statement_info& info,
                              const pq::statement& s) -> outcome {
  const std::string_view sql = s.sql;
  switch (info.kind) {
    case statement_kind::other:
    case statement_kind::empty:
      if (depth > 0) return pass(c, s);
      return protect(c, std::span<const std::string_view>(&sql, 1), s);
    case statement_kind::copy:
      return msg::copy_refused(sql);
    case statement_kind::begin:
      return begin_level(c, info, sql);
    case statement_kind::commit:
    case statement_kind::rollback:
      return end_level(c, info, sql);
    case statement_kind::savepoint:
    case statement_kind::release:
    case statement_kind::rollback_to:
      if (depth == 0) return msg::savepoint_outside_level(info.command, sql);
      if (info.savepoint.starts_with("sandpool_")) return msg::reserved_name(info.savepoint, sql);
      return pass(c, s);
    case statement_kind::set_transaction:
      return set_transaction(c, info, sql);
    case statement_kind::two_phase:
      return msg::two_phase_refused(info.command, sql);
    case statement_kind::discard_all:
      return msg::discard_all_refused(sql);
  }
  return pass(c, s);
}

auto sandbox_session::protect(pq::connection& c, std::span<const std::string_view> pieces,
                              const pq::statement& s) -> outcome {
  std::vector<pq::pipeline_step> steps;
  steps.reserve(pieces.size() + 2);
  steps.push_back({stmt_savepoint});
  for (std::string_view p : pieces) {
    steps.push_back({p, s.extended ? s.params : std::span<const pq::connection::param>()});
  }
  steps.push_back({stmt_release});
  auto out = c.exec_pipeline(steps);
  if (!out.ok()) return msg::with_hint(out.status(), false);
  std::vector<outcome>& o = *out;
  if (!o.front().ok()) return msg::while_doing(o.front().status(), stmt_savepoint);
  for (std::size_t i = 1; i + 1 < o.size(); ++i) {
    if (o[i].ok()) continue;
    const absl::Status error = msg::with_hint(o[i].status(), false);
    auto back = c.exec_direct(stmt_recover);
    return back.ok() ? error : msg::recovery_failed(error, back.status());
  }
  if (!o.back().ok()) return msg::while_doing(o.back().status(), stmt_release);
  return std::move(o[o.size() - 2]);
}

auto sandbox_session::pass(pq::connection& c, const pq::statement& s) -> outcome {
  auto r = s.extended ? c.exec_direct(s.sql, s.params) : c.exec_direct(s.sql);
  if (!r.ok()) return msg::with_hint(r.status(), depth > 0);
  return r;
}

auto sandbox_session::begin_level(pq::connection& c, const statement_info& info,
                                  std::string_view sql) -> outcome {
  if (info.modes.read_only) return msg::read_only_refused(info.command, sql);
  const std::string name = level_name(depth + 1);
  const std::string savepoint = concat("SAVEPOINT ", name);
  const std::string doing = concat(info.command, " (as ", savepoint, ")");
  if (!info.modes.isolation) {
    auto r = c.exec_direct(savepoint);
    if (!r.ok()) return msg::with_hint(msg::while_doing(r.status(), doing), depth > 0);
    ++depth;
    return r;
  }
  // The server accepts SET TRANSACTION ISOLATION LEVEL in a subtransaction
  // only when it names the level already in force: exactly the check wanted.
  const std::string set = concat("SET TRANSACTION ISOLATION LEVEL ", *info.modes.isolation);
  const pq::pipeline_step steps[] = {{savepoint}, {set}};
  auto out = c.exec_pipeline(steps);
  if (!out.ok()) return out.status();
  if (!(*out)[0].ok()) return msg::with_hint(msg::while_doing((*out)[0].status(), doing), depth > 0);
  if (!(*out)[1].ok()) {
    // Undo the savepoint (and the failure) in a second round trip.
    const std::string undo = concat("ROLLBACK TO SAVEPOINT ", name, "; RELEASE SAVEPOINT ", name);
    const absl::Status error = (*out)[1].status();
    if (pq::sqlstate(error) == "25001") {
      return isolation_error(c, concat(undo, "; SELECT current_setting('transaction_isolation')"),
                             info, sql);
    }
    auto back = c.exec_direct(undo);
    return back.ok() ? error : msg::recovery_failed(error, back.status());
  }
  ++depth;
  return std::move((*out)[0]);
}

absl::Status sandbox_session::isolation_error(pq::connection& c, std::string_view recovery,
                                              const statement_info& info, std::string_view sql) {
  auto r = c.exec_direct(recovery);
  const std::string actual = r.ok() ? upper(r->get(0, 0)) : std::string("another level");
  return msg::isolation_refused(info.command, *info.modes.isolation, actual, sql);
}

auto sandbox_session::end_level(pq::connection& c, const statement_info& info,
                                std::string_view sql) -> outcome {
  if (depth == 0) return msg::no_open_level(info.command, sql);
  const std::string name = level_name(depth);
  // Like the server, COMMIT of a failed transaction rolls it back.
  const bool failed = c.transaction_status() == tx_status::in_error;
  const bool commit = info.kind == statement_kind::commit && !failed;
  std::string text;
  if (commit) {
    text = info.chain ? concat("RELEASE SAVEPOINT ", name, "; SAVEPOINT ", name)
                      : concat("RELEASE SAVEPOINT ", name);
  } else {
    // ROLLBACK TO keeps the savepoint: exactly AND CHAIN's fresh level.
    text = info.chain ? concat("ROLLBACK TO SAVEPOINT ", name)
                      : concat("ROLLBACK TO SAVEPOINT ", name, "; RELEASE SAVEPOINT ", name);
  }
  auto r = c.exec_direct(text);
  if (!r.ok()) return msg::while_doing(r.status(), concat(info.command, " (as ", text, ")"));
  if (!info.chain) --depth;
  return r;
}

auto sandbox_session::set_transaction(pq::connection& c, const statement_info& info,
                                      std::string_view sql) -> outcome {
  if (info.modes.snapshot) return msg::snapshot_refused(sql);
  if (info.modes.read_only) return msg::read_only_refused(info.command, sql);
  // Outside a transaction block the server ignores SET TRANSACTION (with a
  // warning); READ WRITE and [NOT] DEFERRABLE change nothing here either.
  if (depth == 0 || !info.modes.isolation) return pq::result();
  const std::string set = concat("SET TRANSACTION ISOLATION LEVEL ", *info.modes.isolation);
  auto r = c.exec_direct(set);
  if (r.ok() || pq::sqlstate(r.status()) != "25001") return r;
  return msg::isolation_refused(info.command, *info.modes.isolation,
                                options_.isolation.value_or("the server's default level"), sql,
                                true);
}

}  // namespace sandpool
