// PostgreSQL's own grammar for the sandbox: splitting SQL text into the
// statements the server would run, and reading transaction control out of
// their parse trees. The one interface over libpg_query (PostgreSQL 15's
// parser); nothing else in sandpool reads SQL syntax.
//
// It owns the rule that the sandbox reads a string exactly as the server
// does: the text ends at its first NUL byte (libpq sends C strings), and
// string literals follow the session's standard_conforming_strings. Text the
// parser rejects is one piece, sent as written: the server rejects the whole
// string before running any of it, so its own syntax error comes back.
//
// Thread-safe: libpg_query keeps its memory per thread (a few KiB, freed at
// thread exit).
#pragma once

#include <string_view>
#include <vector>

#include "sandpool/sandbox/statement.hpp"

namespace sandpool::sql {

struct split_result {
  std::vector<std::string_view> pieces;  // into the input; no semicolons
  bool parsed = true;                    // false: the parser rejected the text
};

// The statements of sql; pieces holding only whitespace and comments are
// dropped, so "" and ";;" give none.
[[nodiscard]] split_result split(std::string_view sql, bool standard_conforming_strings);

// Whether the server's parser accepts sql (up to its first NUL) as a whole:
// then a string holding it between statements of the sandbox's own parses
// too, and runs them in order. A full parse, ten times a scan.
[[nodiscard]] bool parses(std::string_view sql, bool standard_conforming_strings);

// What one statement means to the sandbox (see statement_info).
[[nodiscard]] statement_info classify(std::string_view statement,
                                      bool standard_conforming_strings);

// A statement that names a session-level object the server keeps by name:
// PREPARE name, DEALLOCATE [PREPARE] name | ALL, DECLARE name CURSOR, CLOSE
// name | ALL. Names are as the server stores them (folded to lower case
// unless double-quoted); empty for ALL.
struct named_object {
  enum kind_type { none, prepare, deallocate, declare, close } kind = none;
  std::string name;
  bool hold = false;  // declare: WITH HOLD
};
[[nodiscard]] named_object named_object_of(std::string_view statement,
                                           bool standard_conforming_strings);

}  // namespace sandpool::sql
