// One-line rendering of a metrics snapshot, for logs.
#include "sandpool/core/metrics.hpp"

#include "absl/strings/str_cat.h"

namespace sandpool {

std::string metrics::to_string() const {
  auto us = [](std::chrono::nanoseconds d) {
    return absl::StrCat(std::chrono::duration<double, std::micro>(d).count(), "us");
  };
  return absl::StrCat("size=", size, " idle=", idle, " in_use=", in_use, " waiting=", waiting,
                      " connecting=", connecting, " max_in_use=", max_in_use,
                      " wait_p50=", us(wait_p50), " wait_p95=", us(wait_p95),
                      " wait_p99=", us(wait_p99), " checkouts=", checkouts,
                      " kept_checkouts=", kept_checkouts,
                      " timeouts=", timeouts, " drops=", drops, " refused=", refused,
                      " connects=", connects, " connect_failures=", connect_failures,
                      " discarded=", discarded, " resets=", resets,
                      " validation_failures=", validation_failures);
}

}  // namespace sandpool
