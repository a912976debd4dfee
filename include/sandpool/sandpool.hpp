// The umbrella header: sandpool's whole public API.
//   auto driver = sandpool::pq::driver::create("host=/run/postgresql dbname=app");
//   auto pool = sandpool::pool::create(*driver, {.max_size = 16});
//   auto lease = pool->checkout();
//   auto rows = (*lease)->exec("SELECT 1");
//
// Two headers stay out because they need their test framework:
// sandpool/testing/doctest.hpp and sandpool/testing/gtest.hpp. No header of
// the library includes this one; each includes only the layers below it.
#pragma once

#include "sandpool/core/activity.hpp"
#include "sandpool/core/clock.hpp"
#include "sandpool/core/driver.hpp"
#include "sandpool/core/events.hpp"
#include "sandpool/core/fiber_io.hpp"
#include "sandpool/core/lease.hpp"
#include "sandpool/core/metrics.hpp"
#include "sandpool/core/options.hpp"
#include "sandpool/core/prometheus.hpp"
#include "sandpool/core/source_location.hpp"
#include "sandpool/fake/driver.hpp"
#include "sandpool/ownership/decorator.hpp"
#include "sandpool/ownership/mode.hpp"
#include "sandpool/ownership/options.hpp"
#include "sandpool/ownership/owner.hpp"
#include "sandpool/ownership/ownership.hpp"
#include "sandpool/ownership/route.hpp"
#include "sandpool/ownership/spawn.hpp"
#include "sandpool/ownership/token.hpp"
#include "sandpool/pool.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/gateway/gateway.hpp"
#include "sandpool/gateway/wire.hpp"
#include "sandpool/pq/driver.hpp"
#include "sandpool/pq/redact.hpp"
#include "sandpool/pq/result.hpp"
#include "sandpool/pq/server_error.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "sandpool/pq/session_reset.hpp"
#include "sandpool/pq/statement_hook.hpp"
#include "sandpool/sandbox/fixture.hpp"
#include "sandpool/sandbox/safeguard.hpp"
#include "sandpool/sandbox/sandbox.hpp"
#include "sandpool/sandbox/statement.hpp"
#include "sandpool/sandbox/unboxed.hpp"
#include "sandpool/testing/cleanup.hpp"
#include "sandpool/testing/fk_order.hpp"
#include "sandpool/testing/owner_thread.hpp"
#include "sandpool/testing/suite.hpp"
