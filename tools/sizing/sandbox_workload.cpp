// The sandbox workload: what one sandboxed test costs the pool. The pool is
// in manual mode with the sandbox installed; each iteration is a "test":
// ownership().checkout() (a connection, then BEGIN and the base savepoint),
// an INSERT into the workload's table and a SELECT through a lease (each
// under the sandbox's pipelined statement savepoint), then
// ownership().checkin() (ROLLBACK). Checkout wait ends when the connection
// is granted, before the sandbox's BEGIN: a decorator around the sandbox
// stamps that instant in fiber-local storage, because fibers of one thread
// interleave their checkouts.
//
// Every statement of a test runs inside its sandbox transaction, yet the
// fibers of a thread still take turns between statements: the workload's
// INSERTs get distinct keys and its SELECTs take no row locks, so no fiber
// ever waits for a lock another fiber of its own thread holds (which would
// stop the thread for good; see between_statements()).
//
// The safeguard is told to allow any database: the workload writes only to
// its own table, and every write is rolled back.
#include <boost/fiber/fss.hpp>
#include <boost/fiber/operations.hpp>

#include "sandpool/sandbox/sandbox.hpp"
#include "workload.hpp"

namespace sandpool::sizing {
namespace {

// Forwards to the sandbox, noting when each owner was granted its connection.
class grant_stamp final : public checkout_decorator<pq::connection> {
 public:
  explicit grant_stamp(std::shared_ptr<sandbox> inner) : inner_(std::move(inner)) {}

  absl::Status on_checkout(pq::connection& c, const checkout_options& o) override {
    if (granted_.get() == nullptr) granted_.reset(new steady::time_point());
    *granted_ = steady::now();
    return inner_->on_checkout(c, o);
  }
  absl::Status on_checkin(pq::connection& c) override { return inner_->on_checkin(c); }
  void on_release(pq::connection& c) noexcept override { inner_->on_release(c); }

  // When the calling fiber's last checkout was granted.
  std::optional<steady::time_point> last_grant() const {
    if (granted_.get() == nullptr) return std::nullopt;
    return *granted_;
  }

 private:
  std::shared_ptr<sandbox> inner_;
  boost::fibers::fiber_specific_ptr<steady::time_point> granted_;
};

class sandboxed_test final : public workload {
 public:
  sandboxed_test() : table_(table_for_this_process("sandpool_size_sandbox")) {}

  std::string description() const override {
    return "sandbox (per test: checkout with BEGIN; INSERT; SELECT; checkin with ROLLBACK)";
  }

  absl::Status prepare(pq::connection& c) override {
    auto r = c.exec("DROP TABLE IF EXISTS " + table_ + "; CREATE TABLE " + table_ +
                    " (id bigserial PRIMARY KEY, caller int NOT NULL, n int NOT NULL)");
    return r.ok() ? absl::OkStatus() : r.status();
  }

  void cleanup(pq::connection& c) noexcept override {
    (void)c.exec("DROP TABLE IF EXISTS " + table_);
  }

  absl::Status configure(pool& p) override {
    sandbox_options o;
    o.safeguard.allow_any = true;
    auto box = sandbox::create(std::move(o));
    if (!box.ok()) return box.status();
    stamp_ = std::make_shared<grant_stamp>(*box);
    p.ownership().set_decorator(stamp_);
    return p.ownership().set_mode(manual_mode{});
  }

  absl::Status iterate(pool& p, caller_state& me, iteration& it) override {
    me.scratch = std::to_string(me.id);
    const pq::connection::param caller = me.scratch;
    it.requested = steady::now();
    auto owned = p.ownership().checkout();
    if (!owned.ok()) {
      // Granted but refused by the sandbox (BEGIN failed): not a checkout failure.
      if (auto g = stamp_->last_grant(); g && *g >= it.requested) it.granted = g;
      return owned.status();
    }
    it.granted = stamp_->last_grant().value_or(steady::now());
    boost::this_fiber::yield();  // after BEGIN
    absl::Status s = run_test(p, caller);
    absl::Status in = p.ownership().checkin();
    it.done = steady::now();
    if (!s.ok()) return s;
    return in;
  }

 private:
  absl::Status run_test(pool& p, const pq::connection::param& caller) {
    auto lease = p.checkout();
    if (!lease.ok()) return lease.status();
    auto ins = (*lease)->exec(insert_, {caller});
    if (!ins.ok()) return ins.status();
    boost::this_fiber::yield();
    auto sel = (*lease)->exec(select_, {caller});
    if (!sel.ok()) return sel.status();
    boost::this_fiber::yield();
    return lease->checkin();
  }

  std::string table_;
  std::string insert_ = "INSERT INTO " + table_ + " (caller, n) VALUES ($1, 1)";
  std::string select_ = "SELECT count(*) FROM " + table_ + " WHERE caller = $1";
  std::shared_ptr<grant_stamp> stamp_;
};

}  // namespace

std::unique_ptr<workload> make_sandbox_workload() { return std::make_unique<sandboxed_test>(); }

}  // namespace sandpool::sizing
