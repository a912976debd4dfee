// What a statement means to the sandbox: splitting SQL text into statements
// and recognising transaction control in any spelling PostgreSQL accepts
// (any case, whitespace and comments between words, WORK / TRANSACTION,
// transaction modes, AND [NO] CHAIN, trailing semicolons). It owns the rule
// that a statement which starts like transaction control but does not parse
// is reported as unparsed_control, never as `other`: the sandbox refuses to
// send what it does not understand rather than risk ending its transaction.
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
  unparsed_control,  // starts like transaction control but does not parse
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

// Splits sql at the semicolons that end statements, the way psql does:
// not inside quotes ('', E'', "", $tag$), comments (--, nested /* */),
// parentheses, or BEGIN ... END / CASE ... END blocks (SQL-standard function
// bodies). Pieces hold no semicolon; pieces with only whitespace and
// comments are dropped, so "" and ";;" give none.
[[nodiscard]] std::vector<std::string_view> split_statements(std::string_view sql);

// Classifies one statement (trailing semicolons are ignored).
[[nodiscard]] statement_info classify_statement(std::string_view statement);

// The canonical name of an isolation level written in any case and spacing
// ("repeatable  read" -> "REPEATABLE READ"); nullopt if it is not one of
// PostgreSQL's four.
[[nodiscard]] std::optional<std::string> canonical_isolation(std::string_view level);

}  // namespace sandpool

#pragma GCC visibility pop
