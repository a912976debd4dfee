// PostgreSQL is the oracle: generated sequences of SQL strings run twice,
// on a plain connection and through the sandbox, on the same scratch table
// starting from the same (empty) state. Per string it compares what a client
// observes: ok and the command tag, or the SQLSTATE; the rows returned; the
// transaction status after it; the notices (severity, SQLSTATE, message).
// At the end, the rows the plain run committed must be the rows the
// sandboxed run sees before checkin (after rolling back a block it left
// open, as the plain run does), and the sandboxed run must have committed
// nothing.
//
// Seeded and replayable: it prints its seed; SANDPOOL_DIFF_SEED=<seed>
// replays a run, SANDPOOL_DIFF_FIRST=<i> starts at sequence i, and
// SANDPOOL_DIFF_SEQUENCES=<n> sets how many run (default 2000).
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox_env.hpp"
#include "sandpool/pq/server_error.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "sql_generator.hpp"

namespace sandpool::test {
namespace {

std::string scratch() { return "sandbox_diff_" + std::to_string(::getpid()); }

std::uint64_t env_number(const char* name, std::uint64_t otherwise) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? otherwise : std::strtoull(v, nullptr, 10);
}

const char* status_name(tx_status s) {
  switch (s) {
    case tx_status::idle: return "idle";
    case tx_status::active: return "active";
    case tx_status::in_transaction: return "in_transaction";
    case tx_status::in_error: return "in_error";
    case tx_status::broken: return "broken";
  }
  return "?";
}

// What a client sees of one exec().
struct observation {
  std::string outcome;  // "ok <tag>" or "error <SQLSTATE> [at <position>]"
  std::string rows;     // column names, then one line per row
  std::string status;   // transaction_status() after it
  std::string notices;  // one line per notice
  // Not compared: the sandbox refused the string on purpose (a string with
  // transaction control that changed standard_conforming_strings and goes
  // on with text the setting changes; see README).
  bool refused = false;
  bool operator==(const observation& o) const {
    return outcome == o.outcome && rows == o.rows && status == o.status && notices == o.notices;
  }
};

std::ostream& operator<<(std::ostream& o, const observation& v) {
  return o << v.outcome << " | status " << v.status << " | rows [" << printable(v.rows)
           << "] | notices [" << printable(v.notices) << "]";
}

void on_notice(void* arg, const PGresult* r) {
  auto* out = static_cast<std::string*>(arg);
  auto field = [&](int code) {
    const char* v = PQresultErrorField(r, code);
    return std::string(v == nullptr ? "" : v);
  };
  *out += field(PG_DIAG_SEVERITY_NONLOCALIZED) + " " + field(PG_DIAG_SQLSTATE) + " " +
          field(PG_DIAG_MESSAGE_PRIMARY) + "\n";
}

std::string rows_of(const pq::result& r) {
  std::string out;
  for (int c = 0; c < r.columns(); ++c) out += std::string(r.column_name(c)) + ",";
  for (int row = 0; row < r.rows(); ++row) {
    out += "\n";
    for (int c = 0; c < r.columns(); ++c) {
      out += r.is_null(row, c) ? std::string("NULL") : "'" + std::string(r.get(row, c)) + "'";
      out += ",";
    }
  }
  return out;
}

observation observe(pq::connection& c, const std::string& sql, std::string& notices) {
  notices.clear();
  auto r = c.exec(sql);
  observation o;
  if (r.ok()) {
    o.outcome = "ok " + std::string(r->command_tag());
    o.rows = rows_of(*r);
  } else {
    o.outcome = "error " + pq::sqlstate(r.status());
    // Where the server placed it, counted in the string as sent.
    for (const auto& field : pq::server_error_fields(r.status()))
      if (field.first == 'P') o.outcome += " at " + field.second;
    o.refused = text(r.status()).find("sandbox: the rest of this string was not run") !=
                std::string::npos;
  }
  o.status = status_name(c.transaction_status());
  o.notices = notices;
  return o;
}

std::string table_rows(pq::connection& c) {
  return rows_of(must(c.exec("SELECT id, v FROM " + scratch() + " ORDER BY id")));
}

std::string describe(std::uint64_t seed, std::uint64_t index,
                     const std::vector<std::string>& seq) {
  std::string out = "SANDPOOL_DIFF_SEED=" + std::to_string(seed) +
                    " SANDPOOL_DIFF_FIRST=" + std::to_string(index) +
                    " SANDPOOL_DIFF_SEQUENCES=1; the sequence:\n";
  for (std::size_t i = 0; i < seq.size(); ++i) {
    out += "  [" + std::to_string(i) + "] " + printable(seq[i]) + "\n";
  }
  return out;
}

std::string show(const observation& o) {
  std::ostringstream s;
  s << o;
  return s.str();
}

}  // namespace

PG_TEST_CASE("the sandbox behaves as a plain session: generated sequences, PostgreSQL as oracle") {
  const std::uint64_t seed = env_number(
      "SANDPOOL_DIFF_SEED",
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const std::uint64_t first = env_number("SANDPOOL_DIFF_FIRST", 0);
  const std::uint64_t count = env_number("SANDPOOL_DIFF_SEQUENCES", 2000);
  std::cout << "differential: seed " << seed << ", sequences " << first << ".."
            << first + count - 1 << " (replay: SANDPOOL_DIFF_SEED=" << seed << ")\n";

  pq::connection admin = connect();
  must(admin.exec("DROP TABLE IF EXISTS " + scratch()));
  must(admin.exec("CREATE TABLE " + scratch() + " (id int PRIMARY KEY, v text)"));
  // The lexer's warnings about backslashes in literals (22P06) come for the
  // whole string before anything runs, and the sandbox, which runs a string
  // with transaction control statement by statement, gives them per
  // statement (the one documented difference in notices): off on both.
  const std::string conninfo = dsn_with("options='-c escape_string_warning=off'");
  pq::connection plain = connect(conninfo);
  std::string plain_notices;
  PQsetNoticeReceiver(plain.native(), on_notice, &plain_notices);

  pool p = make_sandbox_pool(conninfo, 1);
  auto box = install_sandbox(p);
  REQUIRE_MESSAGE(box.ok(), text(box.status()));
  std::string box_notices;

  const auto started = std::chrono::steady_clock::now();
  std::uint64_t strings = 0;
  std::uint64_t refused = 0;
  for (std::uint64_t index = first; index < first + count; ++index) {
    sql_generator gen(seed * 0x9E3779B97F4A7C15ull + index, scratch());
    const std::vector<std::string> seq = gen.sequence();
    strings += seq.size();

    // The plain run, then what it committed.
    must(admin.exec("DELETE FROM " + scratch()));
    std::vector<observation> expected;
    for (const std::string& sql : seq) expected.push_back(observe(plain, sql, plain_notices));
    if (plain.transaction_status() != tx_status::idle) must(plain.exec("ROLLBACK"));
    must(plain.exec("DISCARD ALL"));  // as the sandbox's checkin does
    const std::string committed_rows = table_rows(admin);

    // The sandboxed run, and what it sees before checkin.
    must(admin.exec("DELETE FROM " + scratch()));
    REQUIRE(p.ownership().checkout().ok());
    {
      auto lease = p.checkout();
      REQUIRE_MESSAGE(lease.ok(), text(lease.status()));
      pq::connection& c = **lease;
      PQnoticeReceiver previous = PQsetNoticeReceiver(c.native(), on_notice, &box_notices);
      bool stopped = false;  // the sandbox refused a string on purpose
      for (std::size_t i = 0; i < seq.size(); ++i) {
        const observation got = observe(c, seq[i], box_notices);
        if (got.refused) {
          stopped = true;
          ++refused;
          break;
        }
        if (!(got == expected[i])) {
          FAIL_CHECK("divergence at string [" << i << "] of " << describe(seed, index, seq)
                                               << "plain:   " << show(expected[i]) << "\n"
                                               << "sandbox: " << show(got));
          (void)lease->checkin();
          (void)p.ownership().checkin();
          return;
        }
      }
      if (c.transaction_status() != tx_status::idle) must(c.exec("ROLLBACK"));
      const std::string seen = table_rows(c);
      PQsetNoticeReceiver(c.native(), previous, nullptr);
      CHECK_MESSAGE((stopped || seen == committed_rows), "the sandbox sees other rows than the plain run "
                                                "committed; "
                                                << describe(seed, index, seq) << "plain: "
                                                << printable(committed_rows)
                                                << "\nsandbox: " << printable(seen));
      REQUIRE(lease->checkin().ok());
    }
    REQUIRE(p.ownership().checkin().ok());
    const std::string left = table_rows(admin);
    REQUIRE_MESSAGE(left == rows_of(must(admin.exec("SELECT id, v FROM " + scratch() +
                                                     " WHERE false"))),
                    "the sandboxed run committed rows: " << printable(left) << "; "
                                                          << describe(seed, index, seq));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "differential: " << count << " sequences, " << strings
            << " strings, no divergence (" << refused
            << " sequences stopped at a refused string), " << seconds << " s\n";
  must(admin.exec("DROP TABLE " + scratch()));
}

}  // namespace sandpool::test
