// Splitting and classifying statements for the sandbox. The grammar followed
// is PostgreSQL's TransactionStmt (and SET TRANSACTION): after a keyword
// that opens transaction control, every token must be accounted for, or the
// statement is unparsed_control.
#include "sandpool/sandbox/statement.hpp"

#include <algorithm>
#include <iterator>
#include <span>

#include "sandbox/sql_lexer.hpp"

namespace sandpool {
namespace {

using sql::token;
using sql::token_kind;

class cursor {
 public:
  explicit cursor(std::span<const token> t) : t_(t) {}
  bool done() const { return i_ >= t_.size(); }
  std::size_t left() const { return t_.size() - i_; }
  bool at(std::string_view keyword) const { return !done() && sql::is_keyword(t_[i_], keyword); }
  bool accept(std::string_view keyword) {
    if (!at(keyword)) return false;
    ++i_;
    return true;
  }
  bool accept(token_kind k) {
    if (done() || t_[i_].kind != k) return false;
    ++i_;
    return true;
  }
  const token* peek(std::size_t ahead = 0) const {
    return i_ + ahead < t_.size() ? &t_[i_ + ahead] : nullptr;
  }
  void skip() { ++i_; }

 private:
  std::span<const token> t_;
  std::size_t i_ = 0;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

// ISOLATION LEVEL's argument, after the two keywords.
bool parse_level(cursor& c, std::optional<std::string>& level) {
  if (c.accept("serializable")) {
    level = "SERIALIZABLE";
  } else if (c.accept("repeatable")) {
    if (!c.accept("read")) return false;
    level = "REPEATABLE READ";
  } else if (c.accept("read")) {
    if (c.accept("committed")) {
      level = "READ COMMITTED";
    } else if (c.accept("uncommitted")) {
      level = "READ UNCOMMITTED";
    } else {
      return false;
    }
  } else {
    return false;
  }
  return true;
}

// transaction_mode_list_or_empty: items separated by commas or spaces.
bool parse_modes(cursor& c, transaction_modes& m) {
  bool first = true;
  while (!c.done()) {
    if (!first && c.accept(token_kind::comma) && c.done()) return false;
    first = false;
    if (c.accept("isolation")) {
      if (!c.accept("level") || !parse_level(c, m.isolation)) return false;
    } else if (c.accept("read")) {
      if (c.accept("only")) {
        m.read_only = true;
      } else if (c.accept("write")) {
        m.read_write = true;
      } else {
        return false;
      }
    } else if (c.accept("deferrable")) {
      m.deferrable = true;
    } else if (c.accept("not")) {
      if (!c.accept("deferrable")) return false;
      m.deferrable = true;
    } else {
      return false;
    }
  }
  return true;
}

void opt_transaction(cursor& c) {
  if (!c.accept("work")) (void)c.accept("transaction");
}

// opt_transaction_chain: AND CHAIN | AND NO CHAIN | nothing.
bool parse_chain(cursor& c, bool& chain) {
  if (!c.accept("and")) return true;
  const bool no = c.accept("no");
  if (!c.accept("chain")) return false;
  chain = !no;
  return true;
}

// [SAVEPOINT] name; "SAVEPOINT" alone is itself a valid name.
bool parse_savepoint_name(cursor& c, std::string& name) {
  if (c.left() >= 2 && c.at("savepoint")) c.skip();
  const token* t = c.peek();
  if (t == nullptr) return false;
  if (t->kind == token_kind::word) {
    name = lower(t->text);
  } else if (t->kind == token_kind::quoted_ident && t->text.size() >= 2 &&
             t->text.back() == '"') {
    for (std::size_t i = 1; i + 1 < t->text.size(); ++i) {
      name += t->text[i];
      if (t->text[i] == '"') ++i;  // "" stands for one quote
    }
  } else {
    return false;
  }
  c.skip();
  return true;
}

bool is_string(const token* t) { return t != nullptr && t->kind == token_kind::string; }

statement_info classify_tokens(cursor& c) {
  statement_info info;
  auto as = [&](statement_kind k, std::string_view command) {
    info.kind = k;
    info.command = std::string(command);
  };
  auto finish = [&](bool parsed) {
    if (!parsed || !c.done()) info.kind = statement_kind::unparsed_control;
    return info;
  };
  auto string_arg = [&] {
    const bool ok = is_string(c.peek());
    if (ok) c.skip();
    return ok;
  };
  if (c.accept("begin")) {
    as(statement_kind::begin, "BEGIN");
    opt_transaction(c);
    return finish(parse_modes(c, info.modes));
  }
  if (c.accept("start")) {
    as(statement_kind::begin, "START TRANSACTION");
    return finish(c.accept("transaction") && parse_modes(c, info.modes));
  }
  if (c.accept("commit") || c.at("end") || c.at("abort")) {
    if (c.accept("end")) {
      as(statement_kind::commit, "END");
    } else if (c.accept("abort")) {
      as(statement_kind::rollback, "ABORT");
    } else if (c.accept("prepared")) {
      as(statement_kind::two_phase, "COMMIT PREPARED");
      return finish(string_arg());
    } else {
      as(statement_kind::commit, "COMMIT");
    }
    opt_transaction(c);
    return finish(parse_chain(c, info.chain));
  }
  if (c.accept("rollback")) {
    if (c.accept("prepared")) {
      as(statement_kind::two_phase, "ROLLBACK PREPARED");
      return finish(string_arg());
    }
    opt_transaction(c);
    if (c.accept("to")) {
      as(statement_kind::rollback_to, "ROLLBACK TO SAVEPOINT");
      return finish(parse_savepoint_name(c, info.savepoint));
    }
    as(statement_kind::rollback, "ROLLBACK");
    return finish(parse_chain(c, info.chain));
  }
  if (c.accept("savepoint")) {
    as(statement_kind::savepoint, "SAVEPOINT");
    return finish(parse_savepoint_name(c, info.savepoint));
  }
  if (c.accept("release")) {
    as(statement_kind::release, "RELEASE SAVEPOINT");
    return finish(parse_savepoint_name(c, info.savepoint));
  }
  if (c.at("prepare") && c.peek(1) != nullptr && sql::is_keyword(*c.peek(1), "transaction") &&
      is_string(c.peek(2))) {
    as(statement_kind::two_phase, "PREPARE TRANSACTION");
    c.skip();
    c.skip();
    c.skip();
    return finish(true);
  }
  if (c.accept("set")) {
    if (!c.accept("local")) (void)c.accept("session");
    if (!c.accept("transaction")) return info;  // an ordinary SET
    as(statement_kind::set_transaction, "SET TRANSACTION");
    if (c.accept("snapshot")) {
      info.modes.snapshot = true;
      return finish(string_arg());
    }
    return finish(!c.done() && parse_modes(c, info.modes));
  }
  if (c.accept("copy")) as(statement_kind::copy, "COPY");
  return info;
}

}  // namespace

std::vector<std::string_view> split_statements(std::string_view text) {
  std::vector<std::string_view> out;
  const std::vector<token> tokens = sql::tokenize(text);
  std::size_t start = 0;
  bool any = false;
  int parens = 0, blocks = 0, words = 0;
  const token* head[4] = {};  // the statement's first words
  auto kw = [&](int i, std::string_view k) {
    return head[i] != nullptr && sql::is_keyword(*head[i], k);
  };
  auto routine_word = [&](int i) { return kw(i, "function") || kw(i, "procedure"); };
  for (const token& t : tokens) {
    if (t.kind == token_kind::semicolon && parens == 0 && blocks == 0) {
      if (any) out.push_back(text.substr(start, t.begin - start));
      start = t.end;
      any = false;
      parens = blocks = words = 0;
      std::fill(std::begin(head), std::end(head), nullptr);
      continue;
    }
    any = true;
    if (t.kind == token_kind::open_paren) ++parens;
    if (t.kind == token_kind::close_paren && parens > 0) --parens;
    if (t.kind != token_kind::word) continue;
    if (words < 4) head[words] = &t;
    ++words;
    // SQL-standard routine bodies (BEGIN ATOMIC ... END) hold semicolons;
    // like psql, count BEGIN / CASE ... END only in CREATE [OR REPLACE]
    // FUNCTION | PROCEDURE, outside parentheses.
    const bool routine = kw(0, "create") && (routine_word(1) || (kw(1, "or") &&
                                                                 kw(2, "replace") &&
                                                                 routine_word(3)));
    if (!routine || parens != 0) continue;
    if (sql::is_keyword(t, "begin")) {
      ++blocks;
    } else if (sql::is_keyword(t, "case") && blocks > 0) {
      ++blocks;
    } else if (sql::is_keyword(t, "end") && blocks > 0) {
      --blocks;
    }
  }
  if (any) out.push_back(text.substr(start));
  return out;
}

statement_info classify_statement(std::string_view statement) {
  std::vector<token> tokens = sql::tokenize(statement);
  std::size_t first = 0;
  while (first < tokens.size() && tokens[first].kind == token_kind::semicolon) ++first;
  while (tokens.size() > first && tokens.back().kind == token_kind::semicolon) tokens.pop_back();
  if (first == tokens.size()) return {statement_kind::empty, "", {}, false, {}};
  cursor c(std::span<const token>(tokens).subspan(first));
  return classify_tokens(c);
}

std::optional<std::string> canonical_isolation(std::string_view level) {
  const std::vector<token> tokens = sql::tokenize(level);
  cursor c(tokens);
  std::optional<std::string> out;
  if (!parse_level(c, out) || !c.done()) return std::nullopt;
  return out;
}

}  // namespace sandpool
