// How the sizing tool reads and writes quantities: durations given on the
// command line ("1ms", "250us", "0.5s"), and durations, rates and counts
// printed in tables. It owns the rule that a printed figure always carries
// its unit and keeps three significant digits, so columns stay comparable.
// Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sandpool::sizing {

// A duration with a unit: ns, us (or µs), ms, s, m; a decimal number is
// allowed ("0.5ms"). "0" alone is zero. Errors: InvalidArgument naming the
// text and the accepted forms.
[[nodiscard]] absl::StatusOr<std::chrono::nanoseconds> parse_duration(std::string_view text);

// Seconds: a plain number ("3", "0.5") or a duration with a unit ("500ms").
[[nodiscard]] absl::StatusOr<double> parse_seconds(std::string_view text);

// A whole number in [min, max]. Errors name what it is for (`what`).
[[nodiscard]] absl::StatusOr<std::int64_t> parse_count(std::string_view text, std::string_view what,
                                                       std::int64_t min, std::int64_t max);

// A decimal number (no unit). Errors name `what`.
[[nodiscard]] absl::StatusOr<double> parse_decimal(std::string_view text, std::string_view what);

// "850 ns", "12.3 us", "1.20 ms", "2.50 s": three significant digits.
[[nodiscard]] std::string format_duration(std::chrono::nanoseconds d);

// The same duration as a plain number of microseconds for CSV ("12.345").
[[nodiscard]] std::string microseconds_text(std::chrono::nanoseconds d);

// Thousands separated by commas, rounded: 12345.6 -> "12,346".
[[nodiscard]] std::string format_count(double value);

// A signed percentage with one decimal: "+4.2%", "-0.5%".
[[nodiscard]] std::string format_percent_change(double from, double to);

// A percentage as given, without trailing zeros: 5 -> "5%", 2.5 -> "2.5%".
[[nodiscard]] std::string format_percent(double percent);

// Seconds for messages, three significant digits: "3 s", "0.5 s", "0.167 s",
// "1 min 30 s".
[[nodiscard]] std::string format_seconds(double seconds);

}  // namespace sandpool::sizing
