// What a statement means to the sandbox: splitting SQL text into statements
// and recognising transaction control, both by PostgreSQL 15's own grammar
// (libpg_query), so the sandbox reads a string exactly as the server does:
// every spelling the server accepts, nothing inside quotes, comments or
// routine bodies, the text up to its first NUL byte (what libpq sends), and
// string literals as the session's standard_conforming_strings says. A
// statement the parser rejects is `other`: it is sent as written and the
// server rejects it with its own syntax error (before running anything else
// in the same string). The safety net is not this reading but the server:
// the sandbox's commit guard refuses any COMMIT however it gets through.
// Pure functions, no I/O, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

enum class statement_kind {
  other,             // anything else: runs as written
  empty,             // only whitespace, comments or semicolons
  begin,             // BEGIN [WORK | TRANSACTION] [modes], START TRANSACTION [modes]
  commit,            // COMMIT / END [WORK | TRANSACTION] [AND [NO] CHAIN]
  rollback,          // ROLLBACK / ABORT [WORK | TRANSACTION] [AND [NO] CHAIN]
  savepoint,         // SAVEPOINT name
  release,           // RELEASE [SAVEPOINT] name
  rollback_to,       // ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name
  set_transaction,   // SET [LOCAL | SESSION] TRANSACTION modes | SNAPSHOT 'id'
  two_phase,         // PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED
  copy,              // COPY (cannot be pipelined)
  discard_all,       // DISCARD ALL (cannot run in a transaction block)
};

// The transaction modes of BEGIN / START TRANSACTION / SET TRANSACTION.
struct transaction_modes {
  // "READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ" or "SERIALIZABLE".
  std::optional<std::string> isolation;
  bool read_only = false;   // READ ONLY
  bool read_write = false;  // READ WRITE
  bool deferrable = false;  // DEFERRABLE or NOT DEFERRABLE was given
  bool snapshot = false;    // SET TRANSACTION SNAPSHOT
};

struct statement_info {
  statement_kind kind = statement_kind::other;
  // The command as PostgreSQL names it, upper case: "BEGIN", "START
  // TRANSACTION", "END", "ABORT", "ROLLBACK TO SAVEPOINT", "COMMIT PREPARED",
  // ...; empty for other and empty.
  std::string command;
  transaction_modes modes;
  bool chain = false;     // AND CHAIN (commit, rollback)
  std::string savepoint;  // savepoint, release, rollback_to: the name, folded
                          // to lower case unless it was double-quoted
};

// Splits sql into the statements the server would run: at the semicolons
// outside quotes, comments, parentheses and routine bodies. Pieces hold no
// semicolon; pieces with only whitespace and comments are dropped, so "" and
// ";;" give none. Text the parser rejects is one piece.
[[nodiscard]] std::vector<std::string_view> split_statements(
    std::string_view sql, bool standard_conforming_strings = true);

// Classifies one statement (trailing semicolons are ignored).
[[nodiscard]] statement_info classify_statement(std::string_view statement,
                                                bool standard_conforming_strings = true);

// The canonical name of an isolation level written in any case and spacing
// ("repeatable  read" -> "REPEATABLE READ"); nullopt if it is not one of
// PostgreSQL's four.
[[nodiscard]] std::optional<std::string> canonical_isolation(std::string_view level);

}  // namespace sandpool

#pragma GCC visibility pop
