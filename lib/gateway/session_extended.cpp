// A gateway session's extended protocol: Parse, Bind, Describe, Execute,
// Close and Sync. The unnamed statement is sent with its parameters at
// Execute (one round trip, as libpq's PQexecParams does); a named one is
// prepared on the backend at Parse under a name of the session's own
// (sandpool_gw<pid>_<n>), so sessions sharing the backend never collide.
// Portals are kept by the gateway and run at their first Execute; a row
// limit sends the rows in parts with PortalSuspended between them.
#include <algorithm>

#include "gateway/session.hpp"
#include "sandpool/sandbox/statement.hpp"
#include "text.hpp"

namespace sandpool::gw {

void session::on_parse(const wire::parse& p) {
  const std::string name(p.name);
  if (!name.empty() && (statements_.contains(name) || sql_prepared_.contains(name))) {
    error("42P05", text::concat("prepared statement \"", name, "\" already exists"));
    skipping_ = true;
    return;
  }
  const bool strings = conn().parameter("standard_conforming_strings") != "off";
  const std::vector<std::string_view> pieces = split_statements(p.sql, strings);
  if (pieces.size() > 1) {
    error("42601", "cannot insert multiple commands into a prepared statement");
    skipping_ = true;
    return;
  }
  auto s = std::make_shared<statement>();
  s->name = name;
  s->sql = std::string(p.sql);
  s->types = p.param_types;
  s->empty = pieces.empty();
  if (!s->empty) {
    const statement_kind k = classify_statement(pieces[0], strings).kind;
    s->control = sandboxed() && k != statement_kind::other && k != statement_kind::empty;
  }
  if (!name.empty() && !s->control && !s->empty && !ensure_prepared(*s)) return;
  statements_[name] = std::move(s);
  wire::writer(out_).parse_complete();
}

bool session::ensure_prepared(statement& s) {
  if (!s.server.empty() || s.control || s.empty) return true;
  // The unnamed statement takes one name on the backend, each Parse
  // replacing the one before, as the server's unnamed statement does.
  const bool unnamed = s.name.empty();
  std::string server = text::concat("sandpool_gw", std::to_string(pid_), "_",
                                    unnamed ? std::string("unnamed") : std::to_string(++names_));
  const std::string drop = "DEALLOCATE " + server;
  const bool replace = unnamed && std::find(server_names_.begin(), server_names_.end(), server) !=
                                      server_names_.end();
  const call calls[] = {{.sql = drop},
                        {.sql = s.sql, .prepared = server, .types = s.types, .prepare = true}};
  const std::span<const call> sent = replace ? std::span(calls) : std::span(calls).last(1);
  pipeline_outcome out = pipeline(sent, false);
  if (replace) {
    std::erase(server_names_, server);
    out.results.erase(out.results.begin());
  }
  if (out.lost) {
    error(*out.lost);
    skipping_ = true;
    return false;
  }
  const PGresult* r = out.results.empty() ? nullptr : out.results[0].get();
  if (failed(out.before.get()) && out.before) r = out.before.get();
  if (failed(r)) {
    wire::writer w(out_);
    write_result(w, r, false);
    skipping_ = true;
    return false;
  }
  s.server = std::move(server);
  server_names_.push_back(s.server);
  return true;
}

void session::on_bind(const wire::bind& b) {
  const std::string name(b.statement);
  std::shared_ptr<statement> stmt = find_statement(name);
  if (!stmt) {
    error("26000", text::concat("prepared statement \"", name, "\" does not exist"));
    skipping_ = true;
    return;
  }
  const std::string pname(b.portal);
  if (!pname.empty() && portals_.contains(pname)) {
    error("42P03", text::concat("portal \"", pname, "\" already exists"));
    skipping_ = true;
    return;
  }
  int format = 0;
  for (std::int16_t f : b.result_formats) {
    if (f != b.result_formats.front()) {
      error("0A000",
            "the sandbox gateway sends every column of a result in one format; this Bind "
            "asks for text and binary columns at once (ask for one format for all)");
      skipping_ = true;
      return;
    }
    format = f;
  }
  portal p;
  p.stmt = std::move(stmt);
  p.formats = b.param_formats;
  p.result_format = format;
  p.values.reserve(b.values.size());
  for (const auto& v : b.values) {
    p.values.push_back(v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
  }
  portals_.insert_or_assign(pname, std::move(p));
  wire::writer(out_).bind_complete();
}

void session::on_describe(const wire::describe& d, following next) {
  wire::writer w(out_);
  std::shared_ptr<statement> s;
  const portal* p = nullptr;
  if (d.kind == 'S') {
    s = find_statement(std::string(d.name));
    if (!s) {
      error("26000", text::concat("prepared statement \"", d.name, "\" does not exist"));
      skipping_ = true;
      return;
    }
  } else {
    auto it = portals_.find(std::string(d.name));
    if (it == portals_.end()) {
      error("34000", text::concat("portal \"", d.name, "\" does not exist"));
      skipping_ = true;
      return;
    }
    p = &it->second;
    s = p->stmt;
    if (p->result) {
      write_description(w, p->result.get(), p->result_format);
      return;
    }
  }
  if (s->control || s->empty) {
    if (d.kind == 'S') w.parameter_description({});
    w.no_data();
    return;
  }
  if (p != nullptr && next.execute && next.execute_portal == d.name) {
    // A portal described and then executed (what PQexecParams and
    // PQexecPrepared send): run it now, in one round trip, and describe its
    // result; the Execute sends the rows.
    portal& run = portals_.find(std::string(d.name))->second;
    if (!run_portal(run, next.sync_after_execute)) {
      skipping_ = true;
      return;
    }
    write_description(w, run.result.get(), run.result_format);
    return;
  }
  if (!ensure_prepared(*s)) return;
  const call c{.prepared = s->server, .describe = true};
  pipeline_outcome out = pipeline(std::span(&c, 1), false);
  const PGresult* r = out.results.empty() ? nullptr : out.results[0].get();
  if (out.lost || failed(r)) {
    if (out.lost) {
      error(*out.lost);
    } else {
      write_result(w, r, false, 0, {s->server, s->name});
    }
    skipping_ = true;
    return;
  }
  if (d.kind == 'S') {
    std::vector<std::uint32_t> types;
    for (int i = 0; i < PQnparams(r); ++i) types.push_back(PQparamtype(r, i));
    w.parameter_description(types);
    write_description(w, r, 0);
  } else {
    write_description(w, r, p->result_format);
  }
}

bool session::run_portal(portal& p, bool close) {
  wire::writer w(out_);
  const call c{.sql = p.stmt->sql,
               .prepared = p.stmt->server,
               .types = p.stmt->types,
               .values = p.values,
               .formats = p.formats,
               .result_format = p.result_format};
  pipeline_outcome out = pipeline(std::span(&c, 1), close);
  if (out.lost) {
    error(*out.lost);
    return false;
  }
  if (out.before && failed(out.before.get())) {
    write_result(w, out.before.get(), false);
    return false;
  }
  p.result = std::move(out.results[0]);
  if (failed(p.result.get())) {
    write_result(w, p.result.get(), false, 0, {p.stmt->server, p.stmt->name});
    p.result.reset();
    return false;
  }
  if (out.after && failed(out.after.get())) {
    write_result(w, out.after.get(), false);
    return false;
  }
  return true;
}

void session::on_execute(const wire::execute& e, bool sync_next) {
  auto it = portals_.find(std::string(e.portal));
  if (it == portals_.end()) {
    error("34000", text::concat("portal \"", e.portal, "\" does not exist"));
    skipping_ = true;
    return;
  }
  portal& p = it->second;
  wire::writer w(out_);
  if (p.stmt->empty) {
    w.empty_query();
    return;
  }
  if (p.stmt->control) {
    if (!control(p.stmt->sql, 0)) skipping_ = true;
    return;
  }
  if (!p.result && !run_portal(p, sync_next)) {
    skipping_ = true;
    return;
  }
  const PGresult* r = p.result.get();
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    const int rows = PQntuples(r);
    const int end = e.max_rows > 0 && rows - p.next > e.max_rows ? p.next + e.max_rows : rows;
    write_rows(w, r, p.next, end);
    p.next = end;
    if (end < rows) {
      w.portal_suspended();
      return;
    }
  }
  if (PQresultStatus(r) == PGRES_EMPTY_QUERY) {
    w.empty_query();
  } else {
    w.command_complete(PQcmdStatus(const_cast<PGresult*>(r)));
  }
  // A finished portal runs no more; executing it again gives no rows.
  p.next = PQntuples(r);
}

void session::on_close(const wire::close& c) {
  const std::string name(c.name);
  if (c.kind == 'P') {
    portals_.erase(name);
  } else if (auto it = statements_.find(name); it != statements_.end()) {
    const std::string server = it->second->server;
    statements_.erase(it);
    if (!server.empty()) {
      const std::string sql = "DEALLOCATE " + server;
      const call d{.sql = sql};
      pipeline_outcome out = pipeline(std::span(&d, 1), false);
      std::erase(server_names_, server);
    }
  }
  wire::writer(out_).close_complete();
}

void session::on_sync() {
  skipping_ = false;
  if (turn_ && !take_turn()) return;  // the pool took the connection back
  if (turn_) {
    release_implicit();
    end_transaction();
    portals_.erase("");
    if (!in_block()) portals_.clear();
    sync_parameters();
  }
  wire::writer(out_).ready_for_query(status_byte());
  end_turn_if_idle();
}

}  // namespace sandpool::gw
