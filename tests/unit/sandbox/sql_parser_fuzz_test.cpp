// Random and mutated SQL through the sandbox's reading of statements
// (split_statements, classify_statement, over libpg_query), run under
// ASan+UBSan by scripts/test. Whatever the bytes, nothing crashes or hangs,
// and the answers hold their invariants: pieces lie inside the text before
// its first NUL byte, in order and without overlap; each piece classifies;
// the same input always gives the same answer. Seeded and replayable:
// SANDPOOL_FUZZ_SEED=N repeats a run, SANDPOOL_FUZZ_CASES=N sizes it.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "sandpool/sandbox/statement.hpp"

namespace sandpool {
namespace {

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// Pieces of SQL that make the reading hard: quotes of every kind, comments,
// line ends, transaction control, bodies, NUL bytes.
const std::vector<std::string>& fragments() {
  static const std::vector<std::string> f = {
      "BEGIN", "COMMIT", "ROLLBACK", "END", "ABORT", "START TRANSACTION", "SAVEPOINT a",
      "RELEASE a", "ROLLBACK TO a", "AND CHAIN", "ISOLATION LEVEL SERIALIZABLE", "READ ONLY",
      "SET TRANSACTION", "SNAPSHOT", "PREPARE TRANSACTION 'g'", "COMMIT PREPARED 'g'", "COPY t",
      "SELECT 1", "INSERT INTO t VALUES (1, 'x')", "CREATE FUNCTION begin()", "BEGIN ATOMIC",
      "CASE WHEN", "DO $$ BEGIN COMMIT; END $$", "$$", "$tag$", "'", "''", "E'", "\\'", "\"",
      "U&'", "--", "/*", "*/", "\r", "\n", ";", "(", ")", ",", " ", std::string(1, '\0'),
      "\"A b\"", "$1", "::int", "\xc3\xa9", "\xff",
  };
  return f;
}

std::string generate(std::mt19937_64& rng) {
  std::string s;
  const int parts = static_cast<int>(rng() % 12);
  for (int i = 0; i < parts; ++i) {
    if (rng() % 6 == 0) {
      s += static_cast<char>(rng() % 256);  // a raw byte
    } else {
      s += fragments()[rng() % fragments().size()];
      if (rng() % 2 == 0) s += ' ';
    }
  }
  return s;
}

void check_one(std::string_view sql) {
  const std::size_t end = std::min(sql.find('\0'), sql.size());
  const std::vector<std::string_view> pieces = split_statements(sql);
  std::size_t at = 0;
  for (std::string_view p : pieces) {
    REQUIRE(p.data() >= sql.data() + at);
    REQUIRE(p.data() + p.size() <= sql.data() + end);
    at = static_cast<std::size_t>(p.data() - sql.data()) + p.size();
    const statement_info info = classify_statement(p);
    if (info.kind == statement_kind::savepoint || info.kind == statement_kind::release ||
        info.kind == statement_kind::rollback_to)
      CHECK_FALSE(info.savepoint.empty());
    if (info.kind != statement_kind::other && info.kind != statement_kind::empty)
      CHECK_FALSE(info.command.empty());
  }
  CHECK(split_statements(sql) == pieces);  // deterministic
  (void)split_statements(sql, false);      // the other string syntax
}

}  // namespace

TEST_CASE("random and mutated SQL: no crash, pieces inside the text, deterministic") {
  const std::uint64_t seed = env_number("SANDPOOL_FUZZ_SEED", std::random_device{}());
  const std::uint64_t cases = env_number("SANDPOOL_FUZZ_CASES", 100000);
  MESSAGE("seed ", seed, " (replay with SANDPOOL_FUZZ_SEED=", seed, "), ", cases, " cases");
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < cases; ++i) {
    std::string sql = generate(rng);
    CAPTURE(i);
    check_one(sql);
    // Mutations of the same text: a byte flipped, cut short, doubled.
    if (!sql.empty()) {
      std::string flipped = sql;
      flipped[rng() % flipped.size()] = static_cast<char>(rng() % 256);
      check_one(flipped);
      check_one(std::string_view(sql).substr(0, rng() % sql.size()));
      check_one(sql + sql);
    }
  }
}

}  // namespace sandpool
