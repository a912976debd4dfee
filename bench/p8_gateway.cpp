// P8: the sandbox gateway against direct libpq on the same server, in the
// same run. A test process owns one sandboxed connection (manual mode, its
// token in each gateway session's connection string; or shared mode with
// --mode shared) and starts the gateway on it; clients connect either
// straight to the server in SANDPOOL_TEST_DSN or to the gateway.
//  - libpq clients: SELECT 1 and a one-row INSERT (into a table created and
//    committed beforehand: direct inserts commit, the gateway's are rolled
//    back with the sandbox at the end), by PQexec, PQexecParams and a
//    prepared statement, with 1 and 4 clients (a thread and a connection
//    each; through the gateway all of them share the owner's one backend);
//  - pgbench -n -f SCRIPT (SELECT 1; and the INSERT), -c N -j N, N = 1 and 4,
//    its "latency average" and "tps" lines (with --pgbench PATH).
// Methodology: the two subjects alternate, the order flipping every round;
// each round gives one gateway/direct ratio from two back-to-back runs; the
// report shows min / median / max of those ratios and the medians of the
// absolute figures. The goal: latency at most 1.5x direct.
//
// Usage: p8_gateway [--seconds S] [--rounds N] [--label TEXT] [--mode manual|shared]
//                   [--pgbench PATH] [--pgbench-seconds N] [--pgbench-rounds N]
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "p3_harness.hpp"
#include "p8_clients.hpp"
#include "p8_pgbench.hpp"
#include "p8_report.hpp"
#include "p8_rounds.hpp"
#include "run_settings.hpp"
#include "sandpool/sandpool.hpp"

namespace {

using namespace sandpool::bench;

constexpr const char* usage =
    "usage: p8_gateway [--seconds S (> 0, default 0.1)] [--rounds N (>= 1, default 40)]\n"
    "                  [--label TEXT] [--mode manual|shared (default manual)]\n"
    "                  [--pgbench PATH] [--pgbench-seconds N (default 2)]\n"
    "                  [--pgbench-rounds N (default 3)]\n"
    "Measures SELECT 1 and a one-row INSERT through the sandbox gateway against direct\n"
    "libpq on the server in SANDPOOL_TEST_DSN; with --pgbench, pgbench too.\n";

struct settings {
  run_settings run;
  bool shared = false;  // shared mode: sessions need no token
  std::string pgbench;  // empty: the pgbench half does not run
  int pgbench_seconds = 2;
  int pgbench_rounds = 3;
};

settings parse(int argc, char** argv) {
  settings s;
  std::vector<char*> rest{argv[0]};
  auto whole = [&](const std::string& flag, const char* value) {
    const int n = std::atoi(value);
    if (n < 1) {
      std::fprintf(stderr, "p8_gateway: %s must be a whole number >= 1, got %s\n%s",
                   flag.c_str(), value, usage);
      std::exit(2);
    }
    return n;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool ours = arg == "--mode" || arg == "--pgbench" || arg == "--pgbench-seconds" ||
                      arg == "--pgbench-rounds";
    if (!ours || i + 1 >= argc) {
      rest.push_back(argv[i]);
      continue;
    }
    const char* value = argv[++i];
    if (arg == "--mode") {
      if (std::string(value) != "manual" && std::string(value) != "shared") {
        std::fprintf(stderr, "p8_gateway: --mode is manual or shared, got %s\n%s", value, usage);
        std::exit(2);
      }
      s.shared = std::string(value) == "shared";
    } else if (arg == "--pgbench") {
      s.pgbench = value;
    } else if (arg == "--pgbench-seconds") {
      s.pgbench_seconds = whole(arg, value);
    } else {
      s.pgbench_rounds = whole(arg, value);
    }
  }
  s.run = parse_run_settings(static_cast<int>(rest.size()), rest.data(), "p8_gateway", usage,
                             {.seconds = 0.1, .rounds = 40});
  return s;
}

// One Simple Query on a fresh direct connection; its first value ("" if none).
absl::StatusOr<std::string> direct_query(const std::string& dsn, const std::string& sql) {
  PGconn* c = PQconnectdb(dsn.c_str());
  PGresult* r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql.c_str()) : nullptr;
  const ExecStatusType st = PQresultStatus(r);
  std::string out = st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  const std::string error = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
    return absl::UnavailableError(absl::StrCat("p8: ", sql, ": ", error));
  return out;
}

// Everything measured; the report is printed once the sandbox is gone.
struct findings {
  std::vector<client_row> clients;
  std::vector<pgbench_row> pgbench;
  std::string pgbench_note;
};

struct bench_env {
  const settings& s;
  std::string dsn, table, gateway_conninfo;
  sandpool::gateway& gw;
};

// Waits for every gateway session to end (a closed client's cleanup runs
// on the owner's connection); returns how long that took in ms.
absl::StatusOr<double> drain(sandpool::gateway& gw) {
  const auto begin = std::chrono::steady_clock::now();
  while (gw.sessions() > 0) {
    if (std::chrono::steady_clock::now() - begin > std::chrono::seconds(60))
      return absl::DeadlineExceededError("p8: gateway sessions still open after 60 s");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
      .count();
}

absl::Status run_clients(bench_env& e, client_row& row) {
  auto direct = client_set::open(e.dsn, row.clients, row.what, row.how, e.table, "direct");
  if (!direct.ok()) return direct.status();
  auto gateway =
      client_set::open(e.gateway_conninfo, row.clients, row.what, row.how, e.table, "gateway");
  if (!gateway.ok()) return gateway.status();
  client_set& d = *direct;
  // Closed before the next row starts, so its sessions' cleanup is timed.
  auto via = std::make_unique<client_set>(std::move(*gateway));
  auto timed = [&](client_set& c, double seconds) -> absl::StatusOr<sample> {
    tally t = timed_run(row.clients, 1, std::chrono::duration<double>(seconds), c);
    if (!t.error.ok()) return t.error;
    return sample{t.mean_us(), t.per_second()};
  };
  const double warm = std::min(0.25, e.s.run.seconds);
  if (auto w = timed(d, warm); !w.ok()) return w.status();
  if (auto w = timed(*via, warm); !w.ok()) return w.status();
  const std::string what = absl::StrCat("[", e.s.run.label, "] ", name_of(row.what), ", ",
                                        name_of(row.how), ", ", row.clients, " client(s)");
  absl::Status st = interleave(
      e.s.run.rounds, what, [&] { return timed(d, e.s.run.seconds); },
      [&] { return timed(*via, e.s.run.seconds); }, row.s);
  if (!st.ok()) return st;
  row.prepared_after = via->probe(
      "SELECT count(*) || ' (' || (SELECT pg_size_pretty(sum(total_bytes)) FROM "
      "pg_backend_memory_contexts) || ')' FROM pg_prepared_statements");
  via.reset();
  absl::StatusOr<double> ms = drain(e.gw);
  if (!ms.ok()) return ms.status();
  row.cleanup_ms = *ms;
  return absl::OkStatus();
}

absl::Status run_pgbench_half(bench_env& e, findings& f) {
  char dir_template[] = "/tmp/sandpool-p8.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return absl::InternalError("p8: mkdtemp failed");
  const std::filesystem::path dir = dir_template;
  auto script = [&](const std::string& name, const std::string& sql) {
    std::ofstream(dir / name) << sql << "\n";
    return (dir / name).string();
  };
  const std::string select1 = script("select1.sql", "SELECT 1;");
  auto insert = [&](const char* who) {
    return script(absl::StrCat("insert-", who, ".sql"),
                  absl::StrCat("INSERT INTO ", e.table, " (who, n) VALUES ('pgbench-", who,
                               "', :client_id);"));
  };
  const std::string insert_direct = insert("direct"), insert_gateway = insert("gateway");
  absl::Status st;
  for (workload w : {workload::select1, workload::insert}) {
    for (int n : {1, 4}) {
      pgbench_row row{w, n, {}};
      auto run = [&](const std::string& file, const std::string& conninfo)
          -> absl::StatusOr<sample> {
        auto r = run_pgbench(e.s.pgbench, file, n, e.s.pgbench_seconds, conninfo);
        if (!r.ok()) return r.status();
        return sample{r->latency_ms * 1e3, r->tps};
      };
      const bool ins = w == workload::insert;
      st = interleave(
          e.s.pgbench_rounds,
          absl::StrCat("[", e.s.run.label, "] pgbench ", name_of(w), ", -c ", n),
          [&] { return run(ins ? insert_direct : select1, e.dsn); },
          [&] { return run(ins ? insert_gateway : select1, e.gateway_conninfo); }, row.s);
      if (!st.ok()) break;
      f.pgbench.push_back(std::move(row));
    }
    if (!st.ok()) break;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return st;
}

absl::Status run_all(bench_env& e, findings& f) {
  for (workload w : {workload::select1, workload::insert})
    for (protocol p : {protocol::simple, protocol::params, protocol::prepared})
      for (int n : {1, 4}) {
        client_row row;
        row.what = w;
        row.how = p;
        row.clients = n;
        if (absl::Status st = run_clients(e, row); !st.ok()) return st;
        f.clients.push_back(std::move(row));
      }
  if (e.s.pgbench.empty()) {
    f.pgbench_note = "Not run: no --pgbench PATH was given (pgbench comes with postgresql-15).";
    return absl::OkStatus();
  }
  return run_pgbench_half(e, f);
}

int fail(const absl::Status& s) {
  std::fprintf(stderr, "p8_gateway: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const settings s = parse(argc, argv);
  const std::string dsn = server_dsn("p8_gateway");
  const std::string table = absl::StrCat("p8_gateway_", ::getpid());
  auto version = direct_query(dsn, "SHOW server_version");
  if (!version.ok()) return fail(version.status());
  if (auto c = direct_query(dsn, absl::StrCat("CREATE TABLE ", table,
                                              " (who text NOT NULL, n int NOT NULL)"));
      !c.ok()) {
    return fail(c.status());
  }

  // The owner: one sandboxed connection, as a test holds it (tools/gateway
  // does the same in shared mode).
  auto driver = sandpool::pq::driver::create(dsn + " application_name=sandpool-p8");
  if (!driver.ok()) return fail(driver.status());
  sandpool::pool_options o;
  o.name = "p8";
  o.max_size = 2;
  sandpool::ownership_options own;
  own.ownership_timeout = sandpool::infinite;
  auto pool = sandpool::pool::create(*driver, o, {}, own);
  if (!pool.ok()) return fail(pool.status());
  if (auto st = pool->ownership().set_mode(sandpool::manual_mode{}); !st.ok()) return fail(st);
  auto box = sandpool::install_sandbox(*pool);
  if (!box.ok()) return fail(box.status());
  if (auto r = pool->ownership().checkout(); !r.ok()) return fail(r.status());
  std::string token;
  if (s.shared) {
    if (auto st = pool->ownership().set_mode(sandpool::shared_mode{sandpool::current_owner()});
        !st.ok()) {
      return fail(st);
    }
  } else {
    auto t = pool->ownership().token();
    if (!t.ok()) return fail(t.status());
    token = *t;
  }
  auto gw = sandpool::gateway::start(*pool);
  if (!gw.ok()) return fail(gw.status());

  bench_env e{s, dsn, table, (*gw)->conninfo(token), **gw};
  findings f;
  const absl::Status outcome = run_all(e, f);
  const std::uint64_t turn_waits = pool->ownership().metrics().turn_waits;
  (*gw)->stop();
  const absl::Status checkin = pool->ownership().checkin();
  auto left = direct_query(dsn, absl::StrCat("SELECT count(*) FILTER (WHERE who LIKE '%gateway') "
                                             "|| ' gateway, ' || count(*) FILTER (WHERE who LIKE "
                                             "'%direct') || ' direct' FROM ", table));
  (void)direct_query(dsn, absl::StrCat("DROP TABLE ", table));
  if (!outcome.ok()) return fail(outcome);
  if (!checkin.ok()) return fail(checkin);
  if (!left.ok()) return fail(left.status());

  std::printf("### P8 (%s): the sandbox gateway vs direct libpq\n\n", s.run.label.c_str());
  std::printf(
      "PostgreSQL %s over a unix socket, gateway on a unix socket in this process, owner "
      "in %s mode. Each round runs direct then gateway or gateway then direct (the order "
      "flips every round), %.3g s each; %d rounds per row. Ratios are gateway/direct from "
      "the same round, shown as min / median / max; absolute figures are medians. Goal: "
      "latency ratio <= %.1f. Direct clients have a backend each; all gateway sessions run "
      "on the owner's one backend, each statement under the sandbox's savepoint. Rows "
      "committed after the rollback of the sandbox: %s (gateway rows must be 0). Turns "
      "that had to queue: %llu. The last two columns: the prepared statements on the "
      "owner's backend (and its memory) seen from a gateway session at the end of the row, "
      "and how long the row's gateway sessions took to end after their clients closed.\n\n",
      version->c_str(), s.shared ? "shared" : "manual (token)", s.run.seconds, s.run.rounds,
      latency_goal, left->c_str(), static_cast<unsigned long long>(turn_waits));
  print_client_table(f.clients);
  print_serialization(f.clients);
  std::printf("#### pgbench -n -f SCRIPT -c N -j N -T %d, %d rounds\n\n", s.pgbench_seconds,
              s.pgbench_rounds);
  if (f.pgbench.empty()) {
    std::printf("%s\n\n", f.pgbench_note.c_str());
  } else {
    std::printf(
        "Scripts: `SELECT 1;` and `INSERT INTO <table> (who, n) VALUES ('pgbench-...', "
        ":client_id);`, -M simple. Latency from pgbench's \"latency average\", throughput "
        "from \"tps = ... (without initial connection time)\".\n\n");
    print_pgbench_table(f.pgbench);
  }
  std::fflush(stdout);
  return 0;
}
