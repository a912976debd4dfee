// Splitting and classifying with libpg_query. The parse trees come as
// protocol buffers; only the nodes the sandbox acts on are read, by the
// field numbers of pg_query.proto (libpg_query 15-4).
#include "sandbox/sql_parser.hpp"

#include <pg_query.h>

#include <cstdint>
#include <optional>
#include <string>

#include "sandbox/protobuf_reader.hpp"
#include "text.hpp"

// The parser's copy of the standard_conforming_strings setting: exported by
// libpg_query (one per thread) though pg_query.h does not declare it. The
// scanner reads it at the start of each call.
extern "C" __thread bool standard_conforming_strings;

namespace sandpool::sql {
namespace {

// pg_query.proto field numbers.
constexpr std::uint32_t parse_result_stmts = 2;
constexpr std::uint32_t raw_stmt_stmt = 1;
constexpr std::uint32_t node_copy = 70, node_transaction = 86, node_variable_set = 97,
                        node_discard = 99, node_def_elem = 195, node_a_const = 238;
constexpr std::uint32_t node_close_portal = 68, node_prepare = 119, node_deallocate = 121,
                        node_declare_cursor = 122;
constexpr std::uint64_t discard_mode_all = 1;
constexpr std::uint64_t cursor_opt_hold = 0x20;  // DeclareCursorStmt.options: WITH HOLD
constexpr std::uint32_t scan_result_tokens = 2, scan_token_start = 1, scan_token_end = 2,
                        scan_token_token = 4;
constexpr std::uint64_t token_sql_comment = 275, token_c_comment = 276, token_semicolon = 59;
// TransactionStmtKind, shifted by one for proto3's "undefined" zero.
enum : std::uint64_t {
  tx_begin = 1, tx_start, tx_commit, tx_rollback, tx_savepoint, tx_release, tx_rollback_to,
  tx_prepare, tx_commit_prepared, tx_rollback_prepared,
};
constexpr std::uint64_t var_set_multi = 4;

// libpg_query wants a C string; the server stops at the first NUL as well.
std::string c_string(std::string_view sql, bool scs) {
  standard_conforming_strings = scs;
  return std::string(sql.substr(0, sql.find('\0')));
}

// The value of an A_Const node: its string, or its integer as text.
std::string constant(protobuf_reader node) {
  std::string out = "0";  // proto3 omits a zero integer
  for (int w; node.more();) {
    if (node.field(w) != node_a_const || w != 2) {
      node.skip(w);
      continue;
    }
    protobuf_reader c = node.nested();
    for (int cw; c.more();) {
      const std::uint32_t f = c.field(cw);
      if ((f == 1 || f == 4) && cw == 2) {  // Integer ival / String sval
        protobuf_reader v = c.nested();
        for (int vw; v.more();) {
          if (v.field(vw) == 1) {
            out = vw == 0 ? std::to_string(static_cast<std::int32_t>(v.varint()))
                          : std::string(v.bytes());
          } else {
            v.skip(vw);
          }
        }
      } else {
        c.skip(cw);
      }
    }
  }
  return out;
}

// One DefElem of a transaction mode list into m.
void read_mode(protobuf_reader def, transaction_modes& m) {
  std::string name, value;
  for (int w; def.more();) {
    const std::uint32_t f = def.field(w);
    if (f == 2 && w == 2) {
      name = std::string(def.bytes());
    } else if (f == 3 && w == 2) {
      value = constant(def.nested());
    } else {
      def.skip(w);
    }
  }
  if (name == "transaction_isolation") m.isolation = text::upper(value);
  if (name == "transaction_read_only") (value == "0" ? m.read_write : m.read_only) = true;
  if (name == "transaction_deferrable") m.deferrable = true;
}

// A list of Node{DefElem} (TransactionStmt.options, VariableSetStmt.args).
void read_modes(protobuf_reader list_item, transaction_modes& m) {
  for (int w; list_item.more();) {
    if (list_item.field(w) == node_def_elem && w == 2) {
      read_mode(list_item.nested(), m);
    } else {
      list_item.skip(w);
    }
  }
}

// One token of PostgreSQL's scanner: its byte range and its kind.
struct token {
  std::uint64_t start = 0, end = 0, kind = 0;
  bool comment() const noexcept { return kind == token_sql_comment || kind == token_c_comment; }
};

// Calls f(token) for each token the scanner finds in text, comments
// included, until f returns false. False if the scanner rejects the text
// (an unterminated quote or comment).
template <class F>
bool scan_tokens(const std::string& text, F f) {
  PgQueryScanResult scan = pg_query_scan(text.c_str());
  bool ok = scan.error == nullptr;
  if (ok) {
    protobuf_reader r(std::string_view(scan.pbuf.data, scan.pbuf.len));
    for (int w; r.more();) {
      if (r.field(w) != scan_result_tokens || w != 2) {
        r.skip(w);
        continue;
      }
      protobuf_reader t = r.nested();
      token tk;
      for (int tw; t.more();) {
        const std::uint32_t f_no = t.field(tw);
        if (f_no == scan_token_start && tw == 0) {
          tk.start = t.varint();
        } else if (f_no == scan_token_end && tw == 0) {
          tk.end = t.varint();
        } else if (f_no == scan_token_token && tw == 0) {
          tk.kind = t.varint();
        } else {
          t.skip(tw);
        }
      }
      if (!f(tk)) break;
    }
    ok = r.ok();
  }
  pg_query_free_scan_result(scan);
  return ok;
}

// The statement's first token as written, upper case ("END", "ABORT"); empty
// if it has none (only whitespace and comments), nullopt if the scanner
// rejects the text.
std::optional<std::string> first_token(const std::string& text) {
  std::string first;
  const bool ok = scan_tokens(text, [&](const token& t) {
    if (t.comment() || t.start >= t.end || t.end > text.size()) return true;
    first = text::upper(text.substr(t.start, t.end - t.start));
    return false;
  });
  if (!ok) return std::nullopt;
  return first;
}

// The end of the last token that is neither a comment nor a semicolon, or
// nullopt if the text needs the parser to split it: a semicolon token comes
// before another token (several statements, or a BEGIN ATOMIC body), or the
// scanner rejects the text. 0 means no token at all.
std::optional<std::size_t> single_statement_end(const std::string& text) {
  std::size_t end = 0;
  bool semicolon = false, single = true;
  const bool ok = scan_tokens(text, [&](const token& t) {
    if (t.comment()) return true;
    if (t.kind == token_semicolon) {
      semicolon = true;
      return true;
    }
    if (semicolon) {
      single = false;
      return false;
    }
    end = t.end;
    return true;
  });
  if (!ok || !single) return std::nullopt;
  return end;
}

statement_info transaction_stmt(protobuf_reader r, std::string_view first) {
  statement_info info;
  std::uint64_t kind = 0;
  for (int w; r.more();) {
    const std::uint32_t f = r.field(w);
    if (f == 1 && w == 0) {
      kind = r.varint();
    } else if (f == 2 && w == 2) {
      read_modes(r.nested(), info.modes);
    } else if (f == 3 && w == 2) {
      info.savepoint = std::string(r.bytes());
    } else if (f == 5 && w == 0) {
      info.chain = r.varint() != 0;
    } else {
      r.skip(w);
    }
  }
  auto as = [&](statement_kind k, std::string command) {
    info.kind = k;
    info.command = std::move(command);
    return info;
  };
  switch (kind) {
    case tx_begin: return as(statement_kind::begin, "BEGIN");
    case tx_start: return as(statement_kind::begin, "START TRANSACTION");
    case tx_commit: return as(statement_kind::commit, first == "END" ? "END" : "COMMIT");
    case tx_rollback:
      return as(statement_kind::rollback, first == "ABORT" ? "ABORT" : "ROLLBACK");
    case tx_savepoint: return as(statement_kind::savepoint, "SAVEPOINT");
    case tx_release: return as(statement_kind::release, "RELEASE SAVEPOINT");
    case tx_rollback_to: return as(statement_kind::rollback_to, "ROLLBACK TO SAVEPOINT");
    case tx_prepare: return as(statement_kind::two_phase, "PREPARE TRANSACTION");
    case tx_commit_prepared: return as(statement_kind::two_phase, "COMMIT PREPARED");
    case tx_rollback_prepared: return as(statement_kind::two_phase, "ROLLBACK PREPARED");
    default: return statement_info{};
  }
}

// SET [LOCAL | SESSION] TRANSACTION ... and SET TRANSACTION SNAPSHOT.
statement_info variable_set_stmt(protobuf_reader r) {
  statement_info info;
  std::uint64_t kind = 0;
  std::string name;
  transaction_modes modes;
  for (int w; r.more();) {
    const std::uint32_t f = r.field(w);
    if (f == 1 && w == 0) {
      kind = r.varint();
    } else if (f == 2 && w == 2) {
      name = std::string(r.bytes());
    } else if (f == 3 && w == 2) {
      read_modes(r.nested(), modes);
    } else {
      r.skip(w);
    }
  }
  if (kind != var_set_multi || (name != "TRANSACTION" && name != "TRANSACTION SNAPSHOT"))
    return info;
  info.kind = statement_kind::set_transaction;
  info.command = "SET TRANSACTION";
  info.modes = std::move(modes);
  info.modes.snapshot = name == "TRANSACTION SNAPSHOT";
  return info;
}

// Parses text and calls fn(node, field, wire type) for each field of each
// statement's Node; returns how many statements there were, or -1 when the
// parser rejected the text or its output was malformed.
template <typename Fn>
int for_each_node(const std::string& text, Fn fn) {
  PgQueryProtobufParseResult parsed = pg_query_parse_protobuf(text.c_str());
  int statements = -1;
  if (parsed.error == nullptr) {
    statements = 0;
    protobuf_reader r(std::string_view(parsed.parse_tree.data, parsed.parse_tree.len));
    for (int w; r.more();) {
      if (r.field(w) != parse_result_stmts || w != 2) {
        r.skip(w);
        continue;
      }
      ++statements;
      protobuf_reader raw = r.nested();
      for (int rw; raw.more();) {
        if (raw.field(rw) != raw_stmt_stmt || rw != 2) {
          raw.skip(rw);
          continue;
        }
        protobuf_reader node = raw.nested();
        for (int nw = 0; node.more();) {
          const std::uint32_t f = node.field(nw);
          fn(node, f, nw);
        }
      }
    }
    if (!r.ok()) statements = -1;
  }
  pg_query_free_protobuf_parse_result(parsed);
  return statements;
}

}  // namespace

split_result split(std::string_view sql, bool standard_strings) {
  const std::string text = c_string(sql, standard_strings);
  split_result out;
  // Most strings hold one statement: the scanner (a tenth of a parse) says
  // so exactly, since only semicolon tokens separate statements.
  if (const std::optional<std::size_t> end = single_statement_end(text)) {
    if (*end > 0 && *end <= text.size()) out.pieces.push_back(sql.substr(0, *end));
    return out;
  }
  PgQuerySplitResult r = pg_query_split_with_parser(text.c_str());
  if (r.error != nullptr) {
    out.parsed = false;
    out.pieces.push_back(sql.substr(0, text.size()));
  } else {
    for (int i = 0; i < r.n_stmts; ++i) {
      const auto at = static_cast<std::size_t>(r.stmts[i]->stmt_location);
      const auto len = static_cast<std::size_t>(r.stmts[i]->stmt_len);
      if (at >= text.size()) continue;
      out.pieces.push_back(sql.substr(at, len == 0 ? text.size() - at : len));
    }
  }
  pg_query_free_split_result(r);
  return out;
}

bool parses(std::string_view sql, bool standard_strings) {
  const std::string text = c_string(sql, standard_strings);
  PgQuerySplitResult r = pg_query_split_with_parser(text.c_str());
  const bool ok = r.error == nullptr;
  pg_query_free_split_result(r);
  return ok;
}

// Whether a statement starting with this token can be one the sandbox acts
// on; only those are parsed in full (the scan costs a tenth of a parse).
bool may_matter(std::string_view first) {
  for (std::string_view k : {";", "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT",
                             "SAVEPOINT", "RELEASE", "PREPARE", "SET", "COPY", "DISCARD"})
    if (first == k) return true;
  return false;
}

statement_info classify(std::string_view statement, bool standard_strings) {
  const std::string text = c_string(statement, standard_strings);
  // The first token by PostgreSQL's own scanner: most statements stop here.
  // A scan error is the server's to report; no token means only whitespace
  // and comments.
  const std::optional<std::string> first = first_token(text);
  if (!first) return statement_info{};
  if (first->empty()) return {statement_kind::empty, "", {}, false, {}};
  if (!may_matter(*first)) return statement_info{};
  statement_info info;  // other: also what the parser rejects, sent as written
  const int statements = for_each_node(text, [&](protobuf_reader& node, std::uint32_t f, int nw) {
    if (f == node_transaction && nw == 2) {
      info = transaction_stmt(node.nested(), *first);
    } else if (f == node_variable_set && nw == 2) {
      info = variable_set_stmt(node.nested());
    } else if (f == node_discard && nw == 2) {
      protobuf_reader d = node.nested();
      for (int dw; d.more();) {
        if (d.field(dw) != 1 || dw != 0) {
          d.skip(dw);
        } else if (d.varint() == discard_mode_all) {
          info = {statement_kind::discard_all, "DISCARD ALL", {}, false, {}};
        }
      }
    } else if (f == node_copy && nw == 2) {
      info = {statement_kind::copy, "COPY", {}, false, {}};
      node.skip(nw);
    } else {
      node.skip(nw);
    }
  });
  if (statements == 0) info.kind = statement_kind::empty;
  if (statements != 1 && statements != 0) info = statement_info{};
  return info;
}

named_object named_object_of(std::string_view statement, bool standard_strings) {
  const std::string text = c_string(statement, standard_strings);
  const std::optional<std::string> first = first_token(text);
  named_object out;
  if (!first || (*first != "PREPARE" && *first != "DEALLOCATE" && *first != "DECLARE" &&
                 *first != "CLOSE"))
    return out;
  const int statements = for_each_node(text, [&](protobuf_reader& node, std::uint32_t f, int nw) {
    named_object::kind_type k = named_object::none;
    if (f == node_prepare) k = named_object::prepare;
    if (f == node_deallocate) k = named_object::deallocate;
    if (f == node_declare_cursor) k = named_object::declare;
    if (f == node_close_portal) k = named_object::close;
    if (k == named_object::none || nw != 2) {
      node.skip(nw);
      return;
    }
    out.kind = k;
    protobuf_reader m = node.nested();  // the name is field 1 of all four
    for (int mw = 0; m.more();) {
      const std::uint32_t mf = m.field(mw);
      if (mf == 1 && mw == 2) {
        out.name = std::string(m.bytes());
      } else if (mf == 2 && mw == 0 && k == named_object::declare) {
        out.hold = (m.varint() & cursor_opt_hold) != 0;
      } else {
        m.skip(mw);
      }
    }
  });
  if (statements != 1) out = named_object{};
  return out;
}

}  // namespace sandpool::sql
