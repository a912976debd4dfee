// A pool of exactly `connections`, all open before it is returned (up to
// 10 s), for benchmarks that must not time connects. Production options
// otherwise. Errors: the pool's, or Unavailable with the checkout error that
// explains why the pool did not fill (it carries the last connect error).
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "sandpool/sandpool.hpp"

namespace sandpool::bench {

inline absl::StatusOr<pool> open_warm_pool(pq::driver driver, std::string name,
                                           std::size_t connections) {
  pool_options o;
  o.name = std::move(name);
  o.max_size = connections;
  o.min_idle = connections;
  absl::StatusOr<pool> p = pool::create(std::move(driver), o);
  if (!p.ok()) return p.status();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (p->metrics().idle < connections) {
    if (std::chrono::steady_clock::now() > give_up) {
      absl::StatusOr<lease> l = p->checkout(std::chrono::milliseconds(1));
      return absl::UnavailableError(absl::StrCat(
          o.name, ": the pool did not open ", connections, " connections in 10 s; ",
          p->metrics().to_string(), "; ", l.ok() ? "checkout works" : l.status().ToString()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return p;
}

}  // namespace sandpool::bench
