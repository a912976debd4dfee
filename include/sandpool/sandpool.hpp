// The umbrella header: the PostgreSQL pool most applications want.
//   auto driver = sandpool::pq::driver::create("host=/run/postgresql dbname=app");
//   auto pool = sandpool::pool::create(*driver, {.max_size = 16});
//   auto lease = pool->checkout();
//   auto rows = (*lease)->exec("SELECT 1");
#pragma once

#include "sandpool/pool.hpp"
#include "sandpool/pq/driver.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool {

using pool = basic_pool<pq::driver>;
using lease = pool::lease_type;

}  // namespace sandpool
