// `sandpool-size suite -- COMMAND ...`: runs a test command with every
// sandpool pool in it exporting its checkouts (SANDPOOL_METRICS_EXPORT), then
// reports what the pools were asked for. It owns the rule that the command's
// own result is never hidden: its output goes straight to the terminal, its
// exit status is reported, and a non-zero one becomes the tool's, after the
// report. Ctrl-C reaches the command; the tool waits for it and reports.
#pragma once

#include "args.hpp"

namespace sandpool::sizing {

// Exit status: the command's when it is non-zero; else 0, 1 if no pool
// exported anything or the files could not be read, 2 for a bad --dir or a
// command that cannot be started.
[[nodiscard]] int run_suite(const suite_args& args);

}  // namespace sandpool::sizing
