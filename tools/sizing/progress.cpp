// Progress display of a sweep (see progress.hpp).
#include "progress.hpp"

#include <algorithm>
#include <cmath>

#include "units.hpp"

namespace sandpool::sizing {

std::string render_bar(double fraction, std::size_t index, std::size_t total, std::size_t size,
                       double seconds_left, int bar_width) {
  const double f = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::lround(f * bar_width));
  std::string bar = "[";
  bar.append(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(bar_width - filled), '-');
  bar += ']';
  char pct[16];
  std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(std::lround(f * 100)));
  const long left = std::lround(std::max(0.0, seconds_left));
  return bar + " " + pct + "  size " + std::to_string(size) + " (" + std::to_string(index + 1) +
         "/" + std::to_string(total) + ")  " +
         (left >= 90 ? std::to_string((left + 59) / 60) + " min left"
                     : std::to_string(left) + " s left");
}

std::string done_line(const size_result& r, std::size_t index, std::size_t total) {
  return "size " + std::to_string(r.size) + " (" + std::to_string(index + 1) + "/" +
         std::to_string(total) + "): " + format_count(r.throughput) + " ops/s, p99 wait " +
         format_duration(r.wait_p99) + ", query p99 " + format_duration(r.query_p99);
}

progress_style resolve_style(progress_style requested, bool stderr_is_terminal) {
  if (requested != progress_style::automatic) return requested;
  return stderr_is_terminal ? progress_style::bar : progress_style::lines;
}

progress::progress(progress_style style, std::size_t total_sizes, double per_size_seconds,
                   std::FILE* out)
    : style_(style), total_(total_sizes), per_size_(per_size_seconds), out_(out) {}

progress::~progress() { finish(); }

void progress::begin_size(std::size_t index, std::size_t size) {
  index_ = index;
  size_ = size;
  if (style_ == progress_style::lines) {
    std::fprintf(out_, "sandpool-size: size %zu (%zu/%zu): measuring for %s\n", size, index + 1,
                 total_, format_seconds(per_size_).c_str());
    std::fflush(out_);
  }
  tick(0);
}

void progress::tick(double elapsed) {
  if (style_ != progress_style::bar || total_ == 0) return;
  const double done = static_cast<double>(index_) * per_size_ + std::min(elapsed, per_size_);
  const double whole = static_cast<double>(total_) * per_size_;
  const std::string line = render_bar(whole > 0 ? done / whole : 1, index_, total_, size_,
                                      whole - done);
  std::fprintf(out_, "\r\x1b[2K%s", line.c_str());
  std::fflush(out_);
  bar_drawn_ = true;
}

void progress::end_size(const size_result& r) {
  // The bar keeps a log of finished sizes above it.
  if (style_ == progress_style::lines || style_ == progress_style::bar) {
    clear_bar();
    std::fprintf(out_, "sandpool-size: %s\n", done_line(r, index_, total_).c_str());
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
