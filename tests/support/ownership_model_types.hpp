// The vocabulary of the ownership reference model (ownership_model.hpp):
// the modes, why an owner's hold ended and the words its messages use for
// that, and what an operation must produce.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "sandpool/ownership/owner.hpp"

namespace sandpool::test::model {

enum class mode_kind {
  automatic,  // auto_mode
  manual,     // manual_mode
  shared,     // shared_mode{shared owner}
};

// Why an owner's hold on its connection ended; allowed callers are told.
enum class end_why { checked_in, ended, timed_out, mode_switch };

// The words the owner-gone and lease-revoked errors use for each reason.
inline const char* end_text(end_why w) {
  switch (w) {
    case end_why::checked_in: return "checked its connection in";
    case end_why::ended: return "ended (its thread or fiber exited)";
    case end_why::timed_out: return "lost its connection to the reaper";
    case end_why::mode_switch: return "had its connection checked in by set_mode()";
  }
  return "";
}

// What an operation must produce.
struct expected {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string value;                   // ok: the value it returns, if any
  std::vector<std::string> fragments;  // error: words the message must contain
  bool lease = false;                  // a lease: on conn_of's connection, or fresh if 0
  owner_id conn_of = 0;
  bool waits = false;   // the lease queues for a turn another caller holds
  int unblocks = -1;    // checkin waits for the statement on this held lease
  std::string label;    // the case, for coverage counts
};

inline expected value(std::string v, std::string label) {
  expected e;
  e.value = std::move(v);
  e.label = std::move(label);
  return e;
}

inline expected error(absl::StatusCode code, std::vector<std::string> fragments,
                      std::string label) {
  expected e;
  e.code = code;
  e.fragments = std::move(fragments);
  e.label = std::move(label);
  return e;
}

}  // namespace sandpool::test::model
