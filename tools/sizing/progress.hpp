// Progress of a sweep on stderr, so stdout stays the report: a bar redrawn
// in place (with the size and repeat being measured and the time left) when
// stderr is a terminal, a plain line per measurement otherwise, or nothing. It owns the rule
// that the bar never leaves a half-drawn line behind: finish() (or the
// destructor) clears it before anything else is printed. Used by the main
// thread only; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#include "args.hpp"
#include "size_result.hpp"

namespace sandpool::sizing {

// Which measurement of a sweep is running: size number `index` (from 0) of
// `total` sizes, in round `repeat` (from 0) of `repeats`.
struct sweep_step {
  std::size_t index = 0;
  std::size_t total = 0;
  std::size_t size = 0;
  int repeat = 0;
  int repeats = 1;
};

// "size 8 (4/7)", with ", repeat 2/3" when there are repeats.
[[nodiscard]] std::string step_text(const sweep_step& s);

// The bar line: "[#####-----]  50%  size 8 (4/7), repeat 2/3  12 s left".
// `fraction` is of the whole sweep, clamped to [0, 1]; `bar_width` counts
// the cells between the brackets.
[[nodiscard]] std::string render_bar(double fraction, const sweep_step& s, double seconds_left,
                                     int bar_width = 30);

// The line printed when a measurement is done, e.g.
// "size 8 (4/7), repeat 2/3: 12,345 ops/s, p99 wait 210 us, query p99 95.0 us".
[[nodiscard]] std::string done_line(const size_result& r, const sweep_step& s);

// Resolves auto to bar or lines.
[[nodiscard]] progress_style resolve_style(progress_style requested, bool stderr_is_terminal);

class progress {
 public:
  // per_step_seconds: warm-up plus measured time of one repeat of one size
  // (for the time left).
  progress(progress_style style, std::size_t total_sizes, int repeats, double per_step_seconds,
           std::FILE* out = stderr);
  ~progress();
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

  // Size number `index` (from 0) starts its repeat number `repeat` (from 0).
  void begin_size(std::size_t index, std::size_t size, int repeat = 0);
  // `elapsed` seconds into the current measurement.
  void tick(double elapsed);
  void end_size(const size_result& r);
  // Removes the bar, if drawn. Idempotent.
  void finish();
  // Prints a message on its own line (clearing the bar first).
  void note(const std::string& message);

 private:
  void clear_bar();

  progress_style style_;
  double per_step_;
  std::FILE* out_;
  sweep_step step_;
  bool bar_drawn_ = false;
};

}  // namespace sandpool::sizing
