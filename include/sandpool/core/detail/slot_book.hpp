// The slots' shared bookkeeping and the one transition that keeps it. Every
// change of a slot's state goes through move(), which also keeps the
// invariants the core relies on:
//  - a slot is on the idle list exactly when its state is idle (LIFO: the
//    last returned, warmest connection is at the front);
//  - in_use() counts slots in state leased, connecting() those in state
//    connecting, open() those holding a connection.
// Used under the pool lock; no I/O, no allocation.
#pragma once

#include <algorithm>
#include <cstddef>

#include <boost/intrusive/list.hpp>

#include "sandpool/core/detail/slot.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

template <class Slot>
class slot_book {
 public:
  using idle_list = boost::intrusive::list<Slot>;

  // The transition: moves `s` to `to` and keeps the counts and the list.
  // Always inlined: `to` is a constant at every call, so each call site
  // folds to the two or three updates its transition needs.
  [[gnu::always_inline]] void move(Slot& s, slot_state to) noexcept {
    const slot_state from = s.state;
    if (from == slot_state::idle) idle_.erase(idle_.iterator_to(s));
    adjust(in_use_, from == slot_state::leased, to == slot_state::leased);
    adjust(connecting_, from == slot_state::connecting, to == slot_state::connecting);
    adjust(open_, holds(from), holds(to));
    s.state = to;
    if (to == slot_state::idle) idle_.push_front(s);
    if (to == slot_state::leased) max_in_use_ = std::max(max_in_use_, in_use_);
  }

  // Moves an idle slot to the front of the idle list (per-thread affinity).
  void to_front(Slot& s) noexcept {
    if (s.state != slot_state::idle) return;
    idle_.erase(idle_.iterator_to(s));
    idle_.push_front(s);
  }

  // The idle list, to read; change it only through move().
  const idle_list& idle() const noexcept { return idle_; }
  Slot& idle_front() noexcept { return idle_.front(); }
  template <class F>
  void for_each_idle(F&& f) noexcept {
    for (Slot& s : idle_) f(s);
  }

  std::size_t open() const noexcept { return open_; }
  std::size_t in_use() const noexcept { return in_use_; }
  std::size_t connecting() const noexcept { return connecting_; }
  std::size_t idle_count() const noexcept { return idle_.size(); }
  std::size_t max_in_use() const noexcept { return max_in_use_; }

 private:
  static bool holds(slot_state s) noexcept {
    return s != slot_state::empty && s != slot_state::connecting;
  }
  static void adjust(std::size_t& n, bool was, bool is) noexcept {
    if (was != is) is ? ++n : --n;
  }

  idle_list idle_;
  std::size_t open_ = 0, in_use_ = 0, connecting_ = 0, max_in_use_ = 0;
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
