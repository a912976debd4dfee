// Parsing and printing of durations, counts and rates (see units.hpp).
#include "units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

namespace sandpool::sizing {
namespace {

std::string quoted(std::string_view s) {
  std::string out = "'";
  out.append(s).append("'");
  return out;
}

// A plain decimal number that takes up the whole text.
bool read_decimal(std::string_view text, double& out) {
  if (text.empty() || text.front() == '+') return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out, std::chars_format::fixed);
  return ec == std::errc() && ptr == end && std::isfinite(out);
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// `digits` significant digits, without trailing exponent notation.
std::string significant(double v, int digits) {
  int decimals = 0;
  for (double scale = std::fabs(v); decimals < digits - 1 && scale < std::pow(10.0, digits - 1);
       scale *= 10)
    ++decimals;
  if (v == 0) decimals = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

absl::StatusOr<std::chrono::nanoseconds> parse_duration(std::string_view raw) {
  const std::string text = trimmed(raw);
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        "duration " + quoted(raw) +
        " is not a duration; write a number with a unit: ns, us, ms, s or m (e.g. 1ms, 250us, "
        "0.5s)");
  };
  if (text == "0") return std::chrono::nanoseconds::zero();
  std::size_t unit_at = text.size();
  while (unit_at > 0 && !(text[unit_at - 1] >= '0' && text[unit_at - 1] <= '9') &&
         text[unit_at - 1] != '.')
    --unit_at;
  std::string unit = trimmed(std::string_view(text).substr(unit_at));
  double number = 0;
  if (!read_decimal(trimmed(std::string_view(text).substr(0, unit_at)), number)) return bad();
  double scale = 0;
  if (unit == "ns") scale = 1;
  else if (unit == "us" || unit == "\xC2\xB5s") scale = 1e3;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "s") scale = 1e9;
  else if (unit == "m" || unit == "min") scale = 60e9;
  else return bad();
  if (number < 0) {
    return absl::InvalidArgumentError("duration " + quoted(raw) +
                                      " is negative; give zero or more (e.g. 1ms)");
  }
  const double ns = number * scale;
  if (ns > 1e18) {
    return absl::InvalidArgumentError("duration " + quoted(raw) +
                                      " is too long; give at most a few hours");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

absl::StatusOr<double> parse_seconds(std::string_view raw) {
  const std::string text = trimmed(raw);
  double number = 0;
  if (read_decimal(text, number)) {
    if (number < 0) {
      return absl::InvalidArgumentError("seconds " + quoted(raw) +
                                        " is negative; give zero or more (e.g. 3 or 500ms)");
    }
    return number;
  }
  auto d = parse_duration(text);
  if (!d.ok()) {
    return absl::InvalidArgumentError(
        quoted(raw) + " is not a number of seconds; write e.g. 3, 0.5 or 500ms");
  }
  return std::chrono::duration<double>(*d).count();
}

absl::StatusOr<std::int64_t> parse_count(std::string_view raw, std::string_view what,
                                         std::int64_t min, std::int64_t max) {
  const std::string text = trimmed(raw);
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  const std::string range = "a whole number from " + std::to_string(min) + " to " +
                            std::to_string(max);
  if (text.empty() || ec != std::errc() || ptr != end) {
    if (ec == std::errc::result_out_of_range) {
      return absl::InvalidArgumentError(std::string(what) + " " + quoted(raw) +
                                        " is too large; give " + range);
    }
    return absl::InvalidArgumentError(std::string(what) + " " + quoted(raw) +
                                      " is not a whole number; give " + range);
  }
  if (v < min || v > max) {
    return absl::InvalidArgumentError(std::string(what) + " " + quoted(raw) +
                                      " is out of range; give " + range);
  }
  return v;
}

absl::StatusOr<double> parse_decimal(std::string_view raw, std::string_view what) {
  double v = 0;
  if (!read_decimal(trimmed(raw), v)) {
    return absl::InvalidArgumentError(std::string(what) + " " + quoted(raw) +
                                      " is not a number; write e.g. 5 or 2.5");
  }
  return v;
}

std::string format_duration(std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  const double magnitude = std::fabs(ns);
  if (magnitude < 1e3) return significant(ns, 3) + " ns";
  if (magnitude < 1e6) return significant(ns / 1e3, 3) + " us";
  if (magnitude < 1e9) return significant(ns / 1e6, 3) + " ms";
  return significant(ns / 1e9, 3) + " s";
}

std::string microseconds_text(std::chrono::nanoseconds d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d.count()) / 1e3);
  return buf;
}

std::string format_count(double value) {
  const long long n = std::llround(value);
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string format_percent_change(double from, double to) {
  if (from == 0) return to == 0 ? "+0.0%" : "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.1f%%", (to - from) / from * 100.0);
  return buf;
}

std::string format_percent(double percent) {
  std::string t = std::to_string(percent);
  t.erase(t.find_last_not_of('0') + 1);
  if (!t.empty() && t.back() == '.') t.pop_back();
  return t + "%";
}

std::string format_seconds(double seconds) {
  if (seconds >= 90) {
    const long long total = std::llround(seconds);
    return std::to_string(total / 60) + " min " + std::to_string(total % 60) + " s";
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g s", seconds);
  return buf;
}

}  // namespace sandpool::sizing
