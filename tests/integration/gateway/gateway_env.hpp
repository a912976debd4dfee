// What the gateway's integration tests share: a libpq client and an owner
// whose sandbox a gateway serves.
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>

#include "pool_it_env.hpp"
#include "sandbox_env.hpp"

namespace sandpool::test {

// A libpq connection, to the gateway or to the server itself.
struct client {
  explicit client(const std::string& conninfo) : c(PQconnectdb(conninfo.c_str())) {}
  ~client() { PQfinish(c); }
  bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c); }
  // One Simple Query; the last result's first value, or "ERROR <sqlstate>".
  std::string run(const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
      out = std::string("ERROR ") + PQresultErrorField(r, PG_DIAG_SQLSTATE);
    } else if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    } else {
      out = PQcmdStatus(r);
    }
    PQclear(r);
    return out;
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  PGconn* c;
};

// The owner with a sandbox, its turn given back so sessions can take theirs.
struct gateway_env : sandboxed {
  explicit gateway_env(gateway_options o = {}, ownership_options own = {})
      : sandboxed({}, 4, std::move(own)) {
    (void)lease.checkin();
    auto t = p.ownership().token();
    REQUIRE_MESSAGE(t.ok(), text(t.status()));
    token = *t;
    auto g = gateway::start(p, std::move(o));
    REQUIRE_MESSAGE(g.ok(), text(g.status()));
    gw = std::move(*g);
  }
  long owner_count(const std::string& where = "true") {
    auto l = p.checkout();
    REQUIRE_MESSAGE(l.ok(), text(l.status()));
    return count_in(**l, where);
  }
  // Whether the owner's backend runs a statement for a session now.
  bool owner_busy() {
    client plain(dsn());
    return plain.run("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
                     sandbox_app() + "' AND state = 'active' AND query LIKE '%pg_sleep%'") != "0";
  }
  // Rows of a catalog view as the owner's connection sees them.
  long owner_count_of(const std::string& view, const std::string& where) {
    auto l = p.checkout();
    REQUIRE_MESSAGE(l.ok(), text(l.status()));
    return std::stol(
        std::string(must((*l)->exec("SELECT count(*) FROM " + view + " WHERE " + where)).get(0, 0)));
  }
  std::string token;
  std::unique_ptr<gateway> gw;
};

}  // namespace sandpool::test
