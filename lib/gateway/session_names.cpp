// A gateway session's named server objects made in SQL: PREPARE'd
// statements and DECLARE'd cursors. The backend is shared by every session
// of a sandbox, so the session keeps the names it made: DEALLOCATE ALL and
// CLOSE ALL reach only the session's own objects (never another session's
// or the owner's), DEALLOCATE reaches the session's protocol statements
// under the names the client gave them, and what is left is dropped when
// the session ends.
#include "gateway/session.hpp"
#include "text.hpp"

namespace sandpool::gw {
namespace {

std::string escaped(PGconn* c, const std::string& name, bool literal) {
  char* e = literal ? PQescapeLiteral(c, name.data(), name.size())
                    : PQescapeIdentifier(c, name.data(), name.size());
  if (e == nullptr) return literal ? "NULL" : "\"\"";
  std::string out(e);
  PQfreemem(e);
  return out;
}

}  // namespace

bool session::runs_itself(const sql::named_object& o, bool alone) {
  switch (o.kind) {
    // Without HOLD, a cursor needs a block; a string of several statements
    // is one (the server's implicit block).
    case sql::named_object::declare: return !o.hold && alone && !in_block();
    case sql::named_object::deallocate:
      return o.name.empty() || statements_.contains(o.name);
    case sql::named_object::close: return o.name.empty();
    case sql::named_object::prepare: return statements_.contains(o.name);
    default: return false;
  }
}

bool session::run_itself(const sql::named_object& o, bool answer) {
  if (o.kind == sql::named_object::prepare) {
    error("42P05", text::concat("prepared statement \"", o.name, "\" already exists"));
    return false;
  }
  if (o.kind == sql::named_object::declare) {
    error("25P01", "DECLARE CURSOR can only be used in transaction blocks");
    return false;
  }
  if (conn().transaction_status() == tx_status::in_error) {
    error("25P02",
          "current transaction is aborted, commands ignored until end of transaction block");
    return false;
  }
  PGconn* native = conn().native();
  std::vector<std::string> sql;
  std::string tag;
  auto drop = [&](const std::string& server) {
    sql.push_back("DEALLOCATE " + escaped(native, server, false));
    std::erase(server_names_, server);
  };
  if (o.kind == sql::named_object::deallocate && !o.name.empty()) {
    auto it = statements_.find(o.name);
    if (!it->second->server.empty()) drop(it->second->server);
    statements_.erase(it);
    tag = "DEALLOCATE";
  } else if (o.kind == sql::named_object::deallocate) {
    for (auto it = statements_.begin(); it != statements_.end();) {
      if (it->first.empty()) {  // the unnamed statement is not a prepared one
        ++it;
        continue;
      }
      if (!it->second->server.empty()) drop(it->second->server);
      it = statements_.erase(it);
    }
    for (const std::string& n : sql_prepared_) drop(n);
    sql_prepared_.clear();
    tag = "DEALLOCATE ALL";
  } else {
    for (const std::string& n : open_cursors(false)) {
      sql.push_back("CLOSE " + escaped(native, n, false));
    }
    cursors_.clear();
    tag = "CLOSE CURSOR ALL";
  }
  if (!sql.empty()) {
    std::vector<call> calls;
    for (const std::string& s : sql) calls.push_back(call{.sql = s});
    pipeline_outcome out = pipeline(calls, false);
    if (out.lost) {
      error(*out.lost);
      return false;
    }
    wire::writer w(out_);
    if (out.before && failed(out.before.get())) {
      write_result(w, out.before.get(), false);
      return false;
    }
    for (const result_ptr& r : out.results) {
      if (failed(r.get())) {
        write_result(w, r.get(), false);
        return false;
      }
    }
  }
  if (answer) wire::writer(out_).command_complete(tag);
  return true;
}

void session::track(const sql::named_object& o) {
  switch (o.kind) {
    case sql::named_object::prepare: sql_prepared_.insert(o.name); break;
    case sql::named_object::deallocate: sql_prepared_.erase(o.name); break;
    case sql::named_object::declare: cursors_[o.name] = o.hold; break;
    case sql::named_object::close: cursors_.erase(o.name); break;
    default: break;
  }
}

std::shared_ptr<session::statement> session::find_statement(const std::string& name) {
  if (auto it = statements_.find(name); it != statements_.end()) return it->second;
  if (!sql_prepared_.contains(name)) return nullptr;
  // PREPARE'd in SQL: bound and described under its own name, as the
  // server's one namespace for both allows.
  auto s = std::make_shared<statement>();
  s->name = name;
  s->server = name;
  return s;
}

std::vector<std::string> session::open_cursors(bool only_transaction) {
  std::vector<std::string> open;
  PGconn* native = conn().native();
  std::string sql = "SELECT name FROM pg_catalog.pg_cursors WHERE name IN (";
  bool first = true;
  for (const auto& [n, hold] : cursors_) {
    if (only_transaction && hold) continue;
    sql += (first ? "" : ", ") + escaped(native, n, true);
    first = false;
  }
  if (first) return open;
  sql += ")";
  // A savepoint of its own, so it leaves the session's state as it was.
  if (conn().server_transaction_status() == tx_status::in_error) return open;
  const bool box = sandboxed() && !in_block();
  const call c{.sql = sql};
  pipeline_outcome out = run_pipeline(native, box ? "SAVEPOINT sandpool_tx" : "",
                                      std::span(&c, 1), box ? "RELEASE SAVEPOINT sandpool_tx" : "");
  const PGresult* r = out.results.empty() ? nullptr : out.results[0].get();
  if (out.lost || failed(r)) {
    if (box) PQclear(PQexec(native, "ROLLBACK TO SAVEPOINT sandpool_tx; RELEASE SAVEPOINT sandpool_tx"));
    return open;
  }
  for (int i = 0; i < PQntuples(r); ++i) open.emplace_back(PQgetvalue(r, i, 0));
  return open;
}

std::vector<std::string> session::cleanup_statements() {
  std::vector<std::string> sql;
  PGconn* native = conn().native();
  for (const std::string& n : open_cursors(false)) sql.push_back("CLOSE " + escaped(native, n, false));
  for (const std::string& n : server_names_) sql.push_back("DEALLOCATE " + escaped(native, n, false));
  for (const std::string& n : sql_prepared_) sql.push_back("DEALLOCATE " + escaped(native, n, false));
  server_names_.clear();
  sql_prepared_.clear();
  cursors_.clear();
  return sql;
}

void session::end_transaction() {
  if (!turn_ || in_block()) return;
  const std::vector<std::string> open = open_cursors(true);
  for (auto it = cursors_.begin(); it != cursors_.end();) {
    it = it->second ? std::next(it) : cursors_.erase(it);
  }
  if (open.empty()) return;
  PGconn* native = conn().native();
  std::vector<std::string> sql;
  for (const std::string& n : open) sql.push_back("CLOSE " + escaped(native, n, false));
  std::vector<call> calls;
  for (const std::string& s : sql) calls.push_back(call{.sql = s});
  (void)pipeline(calls, true);
}

bool session::discard_all() {
  if (in_block()) {
    error("25001", "DISCARD ALL cannot run inside a transaction block");
    return false;
  }
  // DISCARD ALL answers once, for all three.
  if (!run_itself({sql::named_object::deallocate, "", false}, false)) return false;
  if (!run_itself({sql::named_object::close, "", false}, false)) return false;
  const call reset{.sql = "RESET ALL"};
  pipeline_outcome out = pipeline(std::span(&reset, 1), false);
  const PGresult* r = out.results.empty() ? nullptr : out.results[0].get();
  if (out.lost) {
    error(*out.lost);
    return false;
  }
  if (failed(r)) {
    wire::writer w(out_);
    write_result(w, r, false);
    return false;
  }
  wire::writer(out_).command_complete("DISCARD ALL");
  return true;
}

}  // namespace sandpool::gw
