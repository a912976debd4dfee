// The clients P8 times: N libpq connections, one per client thread, each
// running one statement per cycle in one protocol. The same class serves
// both subjects — connections straight to the server and connections to the
// gateway — so the two differ only in where the connection string points.
// Every cycle checks its result, so neither subject can skip work.
// Not thread-safe across threads except as timed_run uses it: thread t
// touches only connection t.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace sandpool::bench {

// What a cycle runs.
enum class workload {
  select1,  // SELECT 1: one row back
  insert,   // a one-row INSERT into the benchmark's table
};

// How a cycle sends it.
enum class protocol {
  simple,    // PQexec: Query
  params,    // PQexecParams: Parse/Bind/Describe/Execute/Sync of the unnamed statement
  prepared,  // PQprepare once per connection, then PQexecPrepared: Bind/Describe/Execute/Sync
};

inline const char* name_of(workload w) { return w == workload::select1 ? "SELECT 1" : "INSERT"; }
inline const char* name_of(protocol p) {
  switch (p) {
    case protocol::simple: return "simple (PQexec)";
    case protocol::params: return "extended (PQexecParams)";
    case protocol::prepared: return "extended (prepared)";
  }
  return "?";
}

class client_set {
 public:
  // Opens `clients` connections to conninfo and, for protocol::prepared,
  // prepares the statement on each. `who` is written by each INSERT, so
  // the rows of the two subjects can be told apart. Errors: Unavailable
  // with libpq's reason for a connection; Internal for a failed prepare.
  static absl::StatusOr<client_set> open(const std::string& conninfo, int clients, workload w,
                                         protocol p, const std::string& table,
                                         const std::string& who) {
    client_set s(w, p, who);
    if (w == workload::select1) {
      s.sql_ = "SELECT 1";
    } else if (p == protocol::simple) {
      s.sql_ = absl::StrCat("INSERT INTO ", table, " (who, n) VALUES ('", who, "', 1)");
    } else {
      s.sql_ = absl::StrCat("INSERT INTO ", table, " (who, n) VALUES ($1, $2)");
    }
    for (int i = 0; i < clients; ++i) {
      PGconn* c = PQconnectdb(conninfo.c_str());
      s.conns_.push_back(c);
      if (PQstatus(c) != CONNECTION_OK)
        return absl::UnavailableError(absl::StrCat("p8: cannot connect: ", PQerrorMessage(c)));
      if (p != protocol::prepared) continue;
      PGresult* r = PQprepare(c, statement_name, s.sql_.c_str(), s.nparams(), nullptr);
      const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
      if (!ok)
        return absl::InternalError(absl::StrCat("p8: PQprepare failed: ", PQerrorMessage(c)));
    }
    return s;
  }
  client_set(client_set&& o) noexcept
      : workload_(o.workload_), protocol_(o.protocol_), who_(std::move(o.who_)),
        sql_(std::move(o.sql_)), conns_(std::move(o.conns_)) {
    o.conns_.clear();
  }
  client_set& operator=(client_set&&) = delete;
  ~client_set() {
    for (PGconn* c : conns_) PQfinish(c);
  }

  // One cycle of client `thread`. Errors: Internal with the server's message.
  absl::Status operator()(int thread) {
    PGconn* c = conns_[static_cast<std::size_t>(thread)];
    const char* values[] = {who_.c_str(), "1"};
    PGresult* r = nullptr;
    switch (protocol_) {
      case protocol::simple: r = PQexec(c, sql_.c_str()); break;
      case protocol::params:
        r = PQexecParams(c, sql_.c_str(), nparams(), nullptr, values, nullptr, nullptr, 0);
        break;
      case protocol::prepared:
        r = PQexecPrepared(c, statement_name, nparams(), values, nullptr, nullptr, 0);
        break;
    }
    const bool ok = workload_ == workload::select1
                        ? PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                        : PQresultStatus(r) == PGRES_COMMAND_OK &&
                              std::string(PQcmdTuples(r)) == "1";
    PQclear(r);
    if (ok) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("p8: ", name_of(workload_), " failed: ", PQerrorMessage(c)));
  }

  // The first value of one Simple Query on the first connection, or the
  // error text: a diagnostic read of the session's own backend.
  std::string probe(const std::string& sql) {
    PGresult* r = PQexec(conns_.front(), sql.c_str());
    std::string out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0
                          ? std::string(PQgetvalue(r, 0, 0))
                          : absl::StrCat("error: ", PQerrorMessage(conns_.front()));
    PQclear(r);
    return out;
  }

 private:
  static constexpr const char* statement_name = "p8";
  client_set(workload w, protocol p, std::string who)
      : workload_(w), protocol_(p), who_(std::move(who)) {}
  int nparams() const { return workload_ == workload::insert ? 2 : 0; }

  workload workload_;
  protocol protocol_;
  std::string who_;
  std::string sql_;
  std::vector<PGconn*> conns_;
};

}  // namespace sandpool::bench
