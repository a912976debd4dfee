// Progress display of a sweep (see progress.hpp).
#include "progress.hpp"

#include <algorithm>
#include <cmath>

#include "units.hpp"

namespace sandpool::sizing {

std::string step_text(const sweep_step& s) {
  std::string out = "size " + std::to_string(s.size) + " (" + std::to_string(s.index + 1) +
                    "/" + std::to_string(s.total) + ")";
  if (s.repeats > 1)
    out += ", repeat " + std::to_string(s.repeat + 1) + "/" + std::to_string(s.repeats);
  return out;
}

std::string render_bar(double fraction, const sweep_step& s, double seconds_left,
                       int bar_width) {
  const double f = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::lround(f * bar_width));
  std::string bar = "[";
  bar.append(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(bar_width - filled), '-');
  bar += ']';
  char pct[16];
  std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(std::lround(f * 100)));
  const long left = std::lround(std::max(0.0, seconds_left));
  return bar + " " + pct + "  " + step_text(s) + "  " +
         (left >= 90 ? std::to_string((left + 59) / 60) + " min left"
                     : std::to_string(left) + " s left");
}

std::string done_line(const size_result& r, const sweep_step& s) {
  return step_text(s) + ": " + format_count(r.throughput) + " ops/s, p99 wait " +
         format_duration(r.wait_p99) + ", query p99 " + format_duration(r.query_p99);
}

progress_style resolve_style(progress_style requested, bool stderr_is_terminal) {
  if (requested != progress_style::automatic) return requested;
  return stderr_is_terminal ? progress_style::bar : progress_style::lines;
}

progress::progress(progress_style style, std::size_t total_sizes, int repeats,
                   double per_step_seconds, std::FILE* out)
    : style_(style), per_step_(per_step_seconds), out_(out) {
  step_.total = total_sizes;
  step_.repeats = std::max(1, repeats);
}

progress::~progress() { finish(); }

void progress::begin_size(std::size_t index, std::size_t size, int repeat) {
  step_.index = index;
  step_.size = size;
  step_.repeat = repeat;
  if (style_ == progress_style::lines) {
    std::fprintf(out_, "sandpool-size: %s: measuring for %s\n", step_text(step_).c_str(),
                 format_seconds(per_step_).c_str());
    std::fflush(out_);
  }
  tick(0);
}

void progress::tick(double elapsed) {
  if (style_ != progress_style::bar || step_.total == 0) return;
  // Rounds run across every size, so the steps done are whole rounds plus
  // this round's sizes.
  const double steps_done =
      static_cast<double>(static_cast<std::size_t>(step_.repeat) * step_.total + step_.index);
  const double done = steps_done * per_step_ + std::min(elapsed, per_step_);
  const double whole =
      static_cast<double>(step_.total * static_cast<std::size_t>(step_.repeats)) * per_step_;
  const std::string line = render_bar(whole > 0 ? done / whole : 1, step_, whole - done);
  std::fprintf(out_, "\r\x1b[2K%s", line.c_str());
  std::fflush(out_);
  bar_drawn_ = true;
}

void progress::end_size(const size_result& r) {
  // The bar keeps a log of finished sizes above it.
  if (style_ == progress_style::lines || style_ == progress_style::bar) {
    clear_bar();
    std::fprintf(out_, "sandpool-size: %s\n", done_line(r, step_).c_str());
    std::fflush(out_);
  }
}

void progress::note(const std::string& message) {
  if (style_ == progress_style::none) return;
  clear_bar();
  std::fprintf(out_, "sandpool-size: %s\n", message.c_str());
  std::fflush(out_);
}

void progress::finish() { clear_bar(); }

void progress::clear_bar() {
  if (!bar_drawn_) return;
  std::fprintf(out_, "\r\x1b[2K");
  std::fflush(out_);
  bar_drawn_ = false;
}

}  // namespace sandpool::sizing
