// The sandbox decorator: checkout, checkin, release and the suite-level
// savepoints. It owns the session map (under lock_) and the checkout and
// checkin round trips; translation lives in session.cpp, the commit guard
// in guard.cpp.
#include "sandpool/sandbox/sandbox.hpp"

#include <vector>

#include "sandbox/guard.hpp"
#include "sandbox/messages.hpp"
#include "sandbox/session.hpp"
#include "sandpool/pq/session_reset.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "sandpool/sandbox/statement.hpp"
#include "text.hpp"

namespace sandpool {
namespace {

namespace msg = sandbox_messages;
using text::concat;

// What a ROLLBACK leaves behind, undone between owners: prepared
// statements, session advisory locks, settings, LISTEN, cursors, temp
// tables, cached plans and sequence state of the session (not sequence
// values, which no rollback undoes). The pool's reset machinery, with
// DISCARD ALL whatever the pool's own policy (except an unsandboxed lease
// returned inside a transaction, which the pool rolls back and resets by
// its own policy): tests share nothing.
const pq::session_reset& between_owners() {
  static const pq::session_reset reset = pq::session_reset::discard_all();
  return reset;
}

}  // namespace

std::string_view sandbox_guard_sql() noexcept { return guard::setup_sql; }

absl::StatusOr<std::shared_ptr<sandbox>> sandbox::create(sandbox_options o) {
  if (o.isolation) {
    auto level = canonical_isolation(*o.isolation);
    if (!level) {
      return absl::InvalidArgumentError(concat(
          "sandbox_options.isolation is \"", *o.isolation, "\", which is not an isolation "
          "level; use \"READ UNCOMMITTED\", \"READ COMMITTED\", \"REPEATABLE READ\" or "
          "\"SERIALIZABLE\" (any case), or leave it unset for the server's default"));
    }
    o.isolation = *level;
  }
  if (absl::Status s = validate_safeguard_options(o.safeguard); !s.ok()) return s;
  return std::shared_ptr<sandbox>(new sandbox(std::move(o)));
}

sandbox::sandbox(sandbox_options o) : options_(std::move(o)) {}
sandbox::~sandbox() = default;

sandbox_session& sandbox::session_for(const pq::connection& c) {
  std::lock_guard lk(lock_);
  auto& s = sessions_[&c];
  if (!s) s = std::make_unique<sandbox_session>(options_);
  return *s;
}

sandbox_session* sandbox::active_session(const pq::connection& c) const {
  std::lock_guard lk(lock_);
  auto it = sessions_.find(&c);
  return it != sessions_.end() && it->second->active ? it->second.get() : nullptr;
}

absl::Status sandbox::on_checkout(pq::connection& c, const checkout_options& o) {
  if (!o.sandbox) return absl::OkStatus();
  sandbox_session& s = session_for(c);
  if (s.opened_pid != 0 && s.opened_pid == c.backend_pid()) {
    // This backend passed the safeguard and has the guard's function: the
    // transaction opens with the test's first statement, in its round trip
    // (a test that sends nothing costs none).
    c.defer_opening({begin_sql(), std::string(guard::arm_sql)});
    std::lock_guard lk(lock_);  // is_sandboxed() may read `active` from any thread
    s.in_block = false;
    s.marks = 0;
    s.guard_closed = false;
    s.active = true;
    c.set_hook(&s);
    return absl::OkStatus();
  }
  absl::Status opened = open_transaction(c, s);
  if (guard::missing(opened)) {
    // First sandboxed checkout in this database: make the guard, then open
    // again. The failed attempt's transaction is rolled back first.
    if (auto r = c.exec_direct("ROLLBACK"); !r.ok()) {
      return msg::while_doing(r.status(), "checkout (ROLLBACK before creating the guard)");
    }
    if (auto r = c.exec_direct(guard::setup_sql); !r.ok()) {
      (void)c.exec_direct("ROLLBACK");
      return guard::setup_failed(r.status(), c.target());
    }
    opened = open_transaction(c, s);
  }
  if (!opened.ok()) return opened;
  s.opened_pid = c.backend_pid();
  std::lock_guard lk(lock_);  // is_sandboxed() may read `active` from any thread
  s.in_block = false;
  s.marks = 0;
  s.guard_closed = false;
  s.active = true;
  c.set_hook(&s);
  return absl::OkStatus();
}

std::string sandbox::begin_sql() const {
  return options_.isolation ? concat("BEGIN ISOLATION LEVEL ", *options_.isolation) : "BEGIN";
}

absl::Status sandbox::open_transaction(pq::connection& c, sandbox_session& s) {
  const std::string begin = begin_sql();
  // The safeguard's query rides along the first time a backend is seen,
  // after BEGIN (before it, it would take the snapshot and an isolation
  // level could no longer be set) and before the guard, which it must judge
  // the database for before the guard is ever created there.
  const bool check = !options_.safeguard.allow_any && s.verified_pid != c.backend_pid();
  std::vector<pq::pipeline_step> steps = {{begin}};
  if (check) steps.push_back({safeguard_query});
  // No base savepoint: a statement of the code under test runs under a
  // savepoint of its own, and rollback_to() without a mark restarts the
  // transaction instead, so the state at checkout needs no savepoint.
  steps.push_back({guard::arm_sql});
  auto out = c.exec_pipeline(steps);
  if (!out.ok()) return msg::while_doing(out.status(), "checkout (BEGIN)");
  if (check) {
    if (!(*out)[1].ok()) return msg::while_doing((*out)[1].status(), "checkout (safeguard)");
    auto who = read_server_identity(*(*out)[1]);
    if (!who.ok()) return who.status();
    // Refused: the pool rolls back the transaction just opened.
    if (absl::Status v = judge_safeguard(*who, options_.safeguard, "sandbox"); !v.ok()) return v;
    s.verified_pid = c.backend_pid();
  }
  for (const auto& step : *out) {
    if (step.ok()) continue;
    if (guard::missing(step.status())) return step.status();  // the caller creates it
    return msg::while_doing(step.status(), concat("checkout (", begin, ")"));
  }
  return absl::OkStatus();
}

absl::Status sandbox::on_checkin(pq::connection& c) {
  if (active_session(c) == nullptr) {
    // Checked out unsandboxed: its commits stand, but its session state
    // (settings, prepared statements, locks, LISTEN, temp tables) must not
    // reach the next owner.
    if (c.server_transaction_status() != tx_status::idle) return absl::OkStatus();  // the pool resets it
    return msg::while_doing(c.send_reset(between_owners().statements(), false), "checkin (DISCARD ALL)");
  }
  // Opened at the first statement, and none came: nothing to undo.
  if (c.opening_failed_before()) {
    // The opening failed and was rolled back (e.g. the guard's function was
    // dropped): the next checkout opens at once, making it again.
    if (sandbox_session* s = active_session(c); s != nullptr) s->opened_pid = 0;
    (void)c.drop_opening();
    return msg::while_doing(c.send_reset(between_owners().statements(), false),
                            "checkin (DISCARD ALL)");
  }
  if (c.drop_opening()) return absl::OkStatus();
  switch (c.server_transaction_status()) {
    case tx_status::idle:
      // Ended behind the sandbox's back: still, the next owner starts clean.
      (void)c.send_reset(between_owners().statements(), false);
      return msg::transaction_gone(c.target(), "at checkin");
    case tx_status::active:
      return msg::busy_at_checkin(c.target());
    case tx_status::broken:
      return msg::lost_at_checkin(c.exec_direct("ROLLBACK").status());
    case tx_status::in_error:  // deferred checks cannot run in a failed transaction
      break;
    case tx_status::in_transaction:
      if (!options_.check_deferred_constraints) break;
      {
        // A sync after each, so a violation does not skip the rollback and
        // the reset runs outside the transaction block.
        const pq::pipeline_step steps[] = {{"SET CONSTRAINTS ALL IMMEDIATE", {}, true},
                                           {"ROLLBACK", {}, true},
                                           {between_owners().statements().front()}};
        auto out = c.exec_pipeline(steps);
        if (!out.ok()) return msg::while_doing(out.status(), "checkin (ROLLBACK)");
        if (const absl::Status& check = (*out)[0].status(); !check.ok()) {
          return pq::sqlstate(check).starts_with("23")
                     ? msg::deferred_violation(check)
                     : msg::while_doing(check, "checkin (SET CONSTRAINTS ALL IMMEDIATE)");
        }
        if (!(*out)[1].ok()) return msg::while_doing((*out)[1].status(), "checkin (ROLLBACK)");
        if ((*out)[2].ok()) c.note_session_reset();
        return msg::while_doing((*out)[2].status(), "checkin (DISCARD ALL)");
      }
  }
  // Not waited for: the next use of the connection reads the answer, and
  // the next sandboxed checkout's BEGIN shares its round trip.
  return msg::while_doing(c.send_reset(between_owners().statements(), true), "checkin (ROLLBACK)");
}

void sandbox::on_release(pq::connection& c) noexcept {
  std::lock_guard lk(lock_);
  auto it = sessions_.find(&c);
  if (it == sessions_.end()) return;
  sandbox_session& s = *it->second;
  if (c.hook() == &s) c.set_hook(nullptr);
  (void)c.drop_opening();  // the test sent nothing: its transaction never opened
  s.active = false;
  s.in_block = false;
  s.marks = 0;
}

bool sandbox::is_sandboxed(const pq::connection& c) const { return active_session(c) != nullptr; }

bool sandbox::in_block(const pq::connection& c) const {
  const sandbox_session* s = active_session(c);
  return s != nullptr && s->in_block;
}

absl::Status sandbox::begin_suite_savepoint(pq::connection& c) {
  sandbox_session* s = active_session(c);
  if (s == nullptr) return msg::not_sandboxed("begin_suite_savepoint", c.target());
  if (s->in_block) return msg::block_open("begin_suite_savepoint");
  const std::string sql = concat("SAVEPOINT ", sandbox_session::mark_name(s->marks + 1));
  auto r = c.exec_direct(sql);
  if (!r.ok()) return msg::while_doing(r.status(), sql);
  ++s->marks;
  return absl::OkStatus();
}

absl::Status sandbox::rollback_to(pq::connection& c) {
  sandbox_session* s = active_session(c);
  if (s == nullptr) return msg::not_sandboxed("rollback_to", c.target());
  // Without a mark, back to the state at checkout: the transaction is
  // restarted and the guard armed again, in one simple-protocol string (the
  // safeguard already accepted this backend).
  // Not opened yet: the state at checkout is where it is.
  if (s->marks == 0 && c.opening_deferred()) return absl::OkStatus();
  const std::string begin = begin_sql();
  const std::string sql =
      s->marks > 0 ? concat("ROLLBACK TO SAVEPOINT ", sandbox_session::mark_name(s->marks))
                   : concat("ROLLBACK; ", begin, "; ", guard::arm_sql);
  auto r = c.exec_direct(sql);
  if (!r.ok()) return msg::while_doing(r.status(), sql);
  s->in_block = false;  // the block's savepoint came after the mark: it is gone
  // A guard declared again after the mark went with it; a restart declared
  // a new one.
  if (s->marks == 0) s->guard_closed = false;
  if (s->guard_closed) return msg::while_doing(s->rearm_guard(c), "rollback_to (the commit guard)");
  return absl::OkStatus();
}

absl::Status sandbox::release_suite_savepoint(pq::connection& c) {
  sandbox_session* s = active_session(c);
  if (s == nullptr) return msg::not_sandboxed("release_suite_savepoint", c.target());
  if (s->marks == 0) return msg::no_mark();
  if (s->in_block) return msg::block_open("release_suite_savepoint");
  const std::string sql = concat("RELEASE SAVEPOINT ", sandbox_session::mark_name(s->marks));
  auto r = c.exec_direct(sql);
  if (!r.ok()) return msg::while_doing(r.status(), sql);
  --s->marks;
  return absl::OkStatus();
}

}  // namespace sandpool
