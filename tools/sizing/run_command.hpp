// `sandpool-size run`: checks the arguments against the server, measures
// every pool size of the sweep, prints the report and writes the CSV and
// SVG files. It owns the order of failure: bad input (no server given, an
// unreadable script, a sweep the server cannot serve) is reported before
// anything is measured, and whatever the run created on the server is
// dropped however it ends (success, failure, Ctrl-C).
#pragma once

#include "args.hpp"

namespace sandpool::sizing {

// Exit status: 0 done, 1 the run failed (or a file could not be written),
// 2 bad arguments, 130 interrupted.
[[nodiscard]] int run_sizing(const run_args& args);

}  // namespace sandpool::sizing
