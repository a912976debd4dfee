// Random sequences of SQL strings for differential tests: transaction
// control in every spelling (nested, stray, chained), savepoints by name,
// DML on one scratch table that succeeds or fails, multi-statement strings,
// comments, literals and quoting of every kind, CR/LF and NUL bytes. Every
// statement behaves the same on a plain session and in the sandbox; what the
// sandbox refuses on purpose (other isolation levels, READ ONLY, COPY,
// two-phase commit, DISCARD ALL, sandpool_ savepoint names, statements that
// cannot run in a transaction block) is never generated. Deterministic: one
// seed, one sequence.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sandpool::test {

class sql_generator {
 public:
  sql_generator(std::uint64_t seed, std::string table) : rng_(seed), table_(std::move(table)) {}

  // One sequence: the strings a client sends, one exec() each.
  std::vector<std::string> sequence() {
    std::vector<std::string> out;
    const int calls = 1 + pick(14);
    for (int i = 0; i < calls; ++i) out.push_back(string());
    return out;
  }

  // A string a client sends: one to three statements.
  std::string string() {
    const int n = chance(25) ? 2 + pick(2) : 1;
    std::string s = chance(20) ? space() : "";
    for (int i = 0; i < n; ++i) {
      if (i > 0) s += ";" + space();
      const std::string one = statement();
      s += one;
      // The sandbox refuses to go on in a string after this (see README).
      if (one.find("standard_conforming_strings") != std::string::npos) break;
    }
    if (chance(30)) s += ";";
    if (chance(15)) s += space();
    if (chance(4)) s += std::string(1, '\0') + "; COMMIT; SELECT 'after the NUL'";
    return s;
  }

  std::string statement() {
    const int r = pick(100);
    if (r < 38) return control();
    if (r < 88) return dml();
    return odd();
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < percent; }
  template <class... T>
  std::string_view one_of(T... options) {
    const std::string_view all[] = {options...};
    return all[pick(static_cast<int>(sizeof...(T)))];
  }

  // A keyword in upper, lower or mixed case.
  std::string kw(std::string_view word) {
    std::string out(word);
    const int style = pick(3);
    for (std::size_t i = 0; i < out.size(); ++i) {
      char& c = out[i];
      const bool lower = style == 1 || (style == 2 && pick(2) == 0);
      if (lower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }

  // Space between tokens: blanks, line breaks of every kind, comments.
  std::string space() {
    switch (pick(10)) {
      case 0: return "\n";
      case 1: return "\r\n";
      case 2: return "\t";
      case 3: return " -- a comment; COMMIT\n";
      case 4: return " --to CR; COMMIT\r";
      case 5: return " /* block; COMMIT */ ";
      case 6: return " /* nested /* ROLLBACK; */ still; */ ";
      default: return " ";
    }
  }

  std::string savepoint_name() {
    return std::string(one_of("a", "b", "c", "\"a\"", "\"Mixed\"", "long_savepoint_name"));
  }

  std::string control() {
    std::string s;
    switch (pick(22)) {
      case 0: return kw("BEGIN");
      case 1: return kw("BEGIN WORK");
      case 2: return kw("BEGIN TRANSACTION");
      case 3: return kw("START TRANSACTION");
      case 4: return kw("BEGIN ISOLATION LEVEL READ COMMITTED");
      case 5: return kw("START TRANSACTION READ WRITE");
      case 6: return kw("COMMIT");
      case 7: return kw("COMMIT WORK");
      case 8: return kw("END");
      case 9: return kw("END TRANSACTION");
      case 10: return kw("COMMIT AND CHAIN");
      case 11: return kw("COMMIT AND NO CHAIN");
      case 12: return kw("ROLLBACK");
      case 13: return kw("ABORT");
      case 14: return kw("ROLLBACK AND CHAIN");
      case 15: return kw("ROLLBACK WORK");
      case 16: return kw("SAVEPOINT") + " " + savepoint_name();
      case 17: return kw(one_of("RELEASE", "RELEASE SAVEPOINT")) + " " + savepoint_name();
      case 18:
        return kw(one_of("ROLLBACK TO", "ROLLBACK TO SAVEPOINT", "ROLLBACK WORK TO SAVEPOINT")) +
               " " + savepoint_name();
      case 19: return kw("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
      case 20: return kw("SET TRANSACTION READ WRITE");
      default: return kw("SAVEPOINT") + " " + savepoint_name();
    }
  }

  // A string literal of some kind, with quotes, semicolons and keywords
  // inside.
  std::string literal() {
    switch (pick(11)) {
      case 0: return "'plain'";
      case 1: return "'it''s; COMMIT'";
      case 2: return "E'back\\\\slash\\n; ROLLBACK'";
      case 3: return "E'quote\\'; COMMIT'";
      case 4: return "$$dollar; COMMIT$$";
      case 5: return "$q$x'y; END; $$ $q$";
      case 6: return "U&'d\\0061t; BEGIN'";
      case 7: return "'two'\n'lines'";
      case 8: return "''";
      case 9: return "'-- not a comment'";
      default: return "'/* not a comment */'";
    }
  }

  std::string key() { return std::to_string(1 + pick(6)); }

  std::string dml() {
    const std::string& t = table_;
    switch (pick(12)) {
      case 0:
      case 1:
      case 2:
        return kw("INSERT INTO ") + t + " (id, v) " + kw("VALUES") + " (" + key() + ", " +
               literal() + ")";
      case 3:
        return kw("INSERT INTO ") + t + " (id, v) " + kw("VALUES") + " (" + key() + ", " +
               literal() + ") " + kw("ON CONFLICT DO NOTHING");
      case 4:
        return kw("INSERT INTO ") + t + " (id, v) " + kw("VALUES") + " (" + key() +
               ", 'r') " + kw("RETURNING") + " id, v";
      case 5:
        return kw("UPDATE ") + t + kw(" SET ") + "v = " + literal() + kw(" WHERE ") +
               "id = " + key();
      case 6: return kw("DELETE FROM ") + t + kw(" WHERE ") + "id = " + key();
      case 7:
      case 8: return kw("SELECT") + " id, v " + kw("FROM ") + t + kw(" ORDER BY ") + "id";
      case 9: return kw("SELECT") + " count(*) " + kw("FROM ") + t;
      case 10: return kw("SELECT ") + literal() + " AS v";
      default: return kw("UPDATE ") + t + " SET id = id + 1 WHERE id = " + key();
    }
  }

  // Failures, empty statements, and statements that only look like
  // transaction control.
  std::string odd() {
    switch (pick(16)) {
      case 11:
        return std::string(one_of("SET standard_conforming_strings = off",
                                  "SET standard_conforming_strings = on",
                                  "set standard_conforming_strings to default"));
      // One string, or three statements, by standard_conforming_strings.
      case 12: return R"(SELECT 'a\'; COMMIT; SELECT ''x' AS v)";
      case 13: return "SELECT 'nul " + std::string(1, '\0') + " byte'";
      case 14: return "/* unterminated /* nested */";
      case 15: return R"(SELECT E'\''; ROLLBACK; SELECT ''' AS v)";
      case 0: return "SELECT 1/0";
      case 1: return "SELECT * FROM sandbox_diff_no_such_table";
      case 2: return "SELEC 1";
      case 3: return "/* only a comment */";
      case 4: return "-- only a comment\n";
      case 5: return "SELECT 1 AS begin, 2 AS \"commit\"";
      case 6: return "SELECT 'BEGIN' AS rollback";
      case 7: return "DO $$BEGIN PERFORM 1; END$$";
      case 8: return "SELECT 1 /* unterminated";
      case 9: return "SELECT E'\\x41' AS hex";
      default: return "SELECT id FROM " + table_ + " WHERE v = 'x' FOR UPDATE";
    }
  }

  std::mt19937_64 rng_;
  std::string table_;
};

// s with its control characters written out, for messages.
inline std::string printable(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '\0': out += "\\0"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

}  // namespace sandpool::test
