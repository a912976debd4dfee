// A lease: the move-only handle to one pooled connection for one scope.
// Destroying it (or calling checkin()) returns the connection; the pool
// rolls back or discards it if it comes back dirty or broken. A lease may
// outlive its pool handle: the pool's core stays alive until the last lease
// returns, then closes that connection.
#pragma once

#include <cassert>
#include <utility>

#include <chrono>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/core/detail/messages.hpp"
#include "sandpool/core/detail/waiter.hpp"
#include "sandpool/core/source_location.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

namespace detail {
// A turn on an owned connection. A lease taken in manual or shared mode
// ends the turn when it goes, instead of returning the connection, and
// reaches its connection through the turn: once the ownership layer has
// taken the connection back, that is a stand-in refusing every statement.
class turn {
 public:
  virtual void end_turn() noexcept = 0;
  virtual void* connection() const noexcept = 0;  // the Core::connection to use

 protected:
  ~turn() = default;
};
}  // namespace detail

template <class Core>
class basic_ownership;

template <class Core>
class basic_lease {
 public:
  using connection = typename Core::connection;
  using slot_type = typename Core::slot_type;

  basic_lease() noexcept = default;
  basic_lease(Core* core, slot_type* slot, source_location site,
              detail::turn* turn = nullptr) noexcept
      : core_(core), slot_(slot), turn_(turn), site_(site) {}
  basic_lease(basic_lease&& other) noexcept
      : core_(std::exchange(other.core_, nullptr)),
        slot_(std::exchange(other.slot_, nullptr)),
        turn_(std::exchange(other.turn_, nullptr)),
        site_(other.site_),
        returned_(std::exchange(other.returned_, false)) {}
  basic_lease& operator=(basic_lease&& other) noexcept {
    if (this != &other) {
      give_back();
      core_ = std::exchange(other.core_, nullptr);
      slot_ = std::exchange(other.slot_, nullptr);
      turn_ = std::exchange(other.turn_, nullptr);
      site_ = other.site_;
      returned_ = std::exchange(other.returned_, false);
    }
    return *this;
  }
  ~basic_lease() { give_back(); }

  // Checks a connection of its own out of the core: the checkout of auto
  // mode and of an explicit checkout. Thread-safe. Overload control may shed
  // the caller unless on_overload is wait.
  [[nodiscard]] static absl::StatusOr<basic_lease> take(
      Core& core, std::chrono::nanoseconds timeout, source_location site,
      detail::overload on_overload = detail::overload::shed) {
    auto slot = core.acquire(timeout, site, on_overload);
    if (!slot.ok()) return slot.status();
    if constexpr (requires(connection& c) { c.gate(); }) {
      // A connection taken back from a lease still held stays refused to
      // that lease while it sits in the pool; its next lessee opens it.
      if (auto& gate = (*slot)->conn->gate(); gate.revoked()) [[unlikely]]
        gate.restore();
    }
    return basic_lease(&core, *slot, site);
  }

  // True while the lease holds a connection.
  explicit operator bool() const noexcept { return slot_ != nullptr; }

  // The leased connection. Precondition: the lease holds one (a bug
  // otherwise, checked in debug builds).
  // A reference to it must not outlive the lease.
  connection& operator*() const noexcept {
    assert(slot_ && "lease holds no connection");
    if (turn_ != nullptr) return *static_cast<connection*>(turn_->connection());
    return *slot_->conn;
  }
  connection* operator->() const noexcept { return &**this; }

  // Returns the connection now. Errors: FailedPrecondition if this lease was
  // already returned or holds nothing (the message says where it was
  // checked out). Not thread-safe on one lease; leases are per-caller.
  [[nodiscard]] absl::Status checkin() noexcept {
    if (slot_ == nullptr) return detail::lease_empty_error(site_, returned_);
    give_back();
    return absl::OkStatus();
  }

  // Where this lease was checked out, for diagnostics.
  const source_location& site() const noexcept { return site_; }

  // Returns the connection to be closed rather than reused (e.g. after a
  // cancelled query). A turn lease just ends its turn.
  void discard() noexcept { give_back(true); }

 private:
  friend class basic_ownership<Core>;  // builds turn leases on an owned slot

  void give_back(bool discard = false) noexcept {
    if (slot_ == nullptr) return;
    slot_type* slot = std::exchange(slot_, nullptr);
    if (turn_ != nullptr) {
      std::exchange(turn_, nullptr)->end_turn();
    } else {
      core_->release(slot, discard);
    }
    core_ = nullptr;
    returned_ = true;
  }

  Core* core_ = nullptr;
  slot_type* slot_ = nullptr;
  detail::turn* turn_ = nullptr;
  source_location site_{};
  bool returned_ = false;
};

}  // namespace sandpool

#pragma GCC visibility pop
