// A gateway session's queries: Simple Query and the extended protocol, run
// on the owner's connection the way the sandbox runs exec(). Outside a
// transaction block the client's statements run under SAVEPOINT
// sandpool_tx (the statement's implicit transaction), opened and released
// in the statements' own round trip; inside one they are sent as written;
// transaction control goes through the sandbox's exec() translation.
#include "gateway/session.hpp"
#include "sandpool/sandbox/statement.hpp"
#include "text.hpp"

namespace sandpool::gw {
namespace {

constexpr std::string_view tx_open = "SAVEPOINT sandpool_tx";
constexpr std::string_view tx_close = "RELEASE SAVEPOINT sandpool_tx";
constexpr std::string_view tx_undo =
    "ROLLBACK TO SAVEPOINT sandpool_tx; RELEASE SAVEPOINT sandpool_tx";

bool is_control(statement_kind k) {
  return k != statement_kind::other && k != statement_kind::empty;
}

}  // namespace

bool session::handle(const wire::message& m, following next) {
  if (const auto* q = std::get_if<wire::query>(&m)) {
    skipping_ = false;
    simple_query(q->sql);
    release_connection();  // a client slow to read must not hold the gate
    return !ended_ && send_out();
  }
  if (std::holds_alternative<wire::sync>(m)) {
    on_sync();
    release_connection();
    return !ended_ && send_out();
  }
  if (std::holds_alternative<wire::flush>(m)) return send_out();
  // Outside COPY, the server ignores COPY messages.
  if (std::holds_alternative<wire::copy_data>(m) || std::holds_alternative<wire::copy_done>(m) ||
      std::holds_alternative<wire::copy_fail>(m)) {
    return true;
  }
  if (skipping_) return true;  // after an error, until Sync
  if (!take_turn()) {
    skipping_ = true;
    return !ended_;
  }
  if (const auto* p = std::get_if<wire::parse>(&m)) on_parse(*p);
  if (const auto* b = std::get_if<wire::bind>(&m)) on_bind(*b);
  if (const auto* d = std::get_if<wire::describe>(&m)) on_describe(*d, next);
  if (const auto* e = std::get_if<wire::execute>(&m)) on_execute(*e, next.sync);
  if (const auto* c = std::get_if<wire::close>(&m)) on_close(*c);
  return !ended_;
}

pipeline_outcome session::pipeline(std::span<const call> calls, bool close) {
  const bool box = sandboxed() && !in_block();
  const std::string_view before = box && !implicit_ ? tx_open : std::string_view();
  const std::string_view after = box && close ? tx_close : std::string_view();
  PGconn* native = conn().native();
  {
    std::lock_guard lk(lock_);
    running_ = &conn();
    if (gone_) (void)running_->cancel();
  }
  pipeline_outcome out = run_pipeline(native, before, calls, after);
  {
    std::lock_guard lk(lock_);
    running_ = nullptr;
  }
  if (box) implicit_ = !close;
  bool bad = out.lost.has_value() || (out.before && failed(out.before.get()));
  for (const result_ptr& r : out.results) bad = bad || failed(r.get());
  if (out.after) bad = bad || failed(out.after.get());
  if (bad && box) undo_implicit();
  return out;
}

void session::undo_implicit() {
  implicit_ = false;
  PGresult* r = PQexec(conn().native(), std::string(tx_undo).c_str());
  PQclear(r);
}

void session::release_implicit() {
  if (!implicit_) return;
  implicit_ = false;
  result_ptr r(PQexec(conn().native(), std::string(tx_close).c_str()));
  if (failed(r.get())) {
    wire::writer w(out_);
    write_result(w, r.get(), false);
    undo_implicit();
  }
}

bool session::control(std::string_view sql, std::size_t offset) {
  release_implicit();
  {
    std::lock_guard lk(lock_);
    running_ = &conn();
  }
  auto r = conn().exec(sql);
  {
    std::lock_guard lk(lock_);
    running_ = nullptr;
  }
  if (!r.ok()) {
    error(r.status(), offset);
    return false;
  }
  wire::writer(out_).command_complete(r->command_tag());
  return true;
}

void session::simple_query(std::string_view sql) {
  if (!take_turn()) {
    if (!ended_) wire::writer(out_).ready_for_query('I');
    return;
  }
  const bool strings = conn().parameter("standard_conforming_strings") != "off";
  std::vector<std::string_view> pieces = split_statements(sql, strings);
  // One statement goes as written, with its semicolon, as the server reads it.
  if (pieces.size() == 1) pieces[0] = sql;
  std::vector<statement_kind> kinds(pieces.size());
  std::vector<bool> controls(pieces.size());
  std::vector<sql::named_object> named(pieces.size());
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    kinds[k] = classify_statement(pieces[k], strings).kind;
    controls[k] = sandboxed() && is_control(kinds[k]);
    named[k] = sql::named_object_of(pieces[k], strings);
  }
  const bool alone = pieces.size() == 1;
  auto offset_of = [&](std::size_t k) {
    return characters(sql.substr(0, pieces[k].data() - sql.data()));
  };
  wire::writer w(out_);
  if (pieces.empty()) {
    w.empty_query();
  } else {
    // Runs of statements without transaction control go in one pipeline;
    // control goes through the sandbox; the first error ends the string.
    std::size_t i = 0;
    bool ok = true;
    while (i < pieces.size() && ok) {
      if (runs_itself(named[i], alone)) {
        ok = run_itself(named[i]);
        ++i;
        continue;
      }
      if (kinds[i] == statement_kind::discard_all) {
        ok = discard_all();
        ++i;
        continue;
      }
      if (controls[i]) {
        ok = control(pieces[i], offset_of(i));
        ++i;
        continue;
      }
      std::size_t j = i + 1;
      while (j < pieces.size() && !controls[j] && !runs_itself(named[j], alone) &&
             kinds[j] != statement_kind::discard_all)
        ++j;
      std::vector<call> calls;
      for (std::size_t k = i; k < j; ++k) calls.push_back(call{.sql = pieces[k]});
      pipeline_outcome out = pipeline(calls, j == pieces.size());
      if (out.lost) {
        error(*out.lost);
        ok = false;
        break;
      }
      if (out.before && failed(out.before.get())) {
        write_result(w, out.before.get(), false);
        ok = false;
        break;
      }
      for (std::size_t k = 0; k < calls.size() && ok; ++k) {
        const PGresult* r = out.results[k].get();
        if (r == nullptr || PQresultStatus(r) == PGRES_PIPELINE_ABORTED) break;
        write_result(w, r, true, offset_of(i + k));
        ok = !failed(r);
        if (ok) track(named[i + k]);
      }
      if (ok && out.after && failed(out.after.get())) {
        write_result(w, out.after.get(), false);
        ok = false;
      }
      i = j;
    }
    if (implicit_) {
      if (ok) {
        release_implicit();
      } else {
        undo_implicit();
      }
    }
    end_transaction();
  }
  sync_parameters();
  // Portals live as long as the transaction; outside a block, until here.
  if (!in_block()) portals_.clear();
  w.ready_for_query(status_byte());
  end_turn_if_idle();
}

}  // namespace sandpool::gw
