// The chart of a run as a self-contained SVG: throughput (left axis) and p99
// checkout wait (right axis) against pool size, with labelled axes, a
// legend and a marker at the recommended size; a size measured more than
// once is drawn at its medians, with a bar from its lowest to its highest
// repeat. It owns the rule that the
// file needs nothing else to display: no scripts, fonts, stylesheets or
// links, and every text from outside (the title) is XML-escaped. Pure,
// thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "size_result.hpp"

namespace sandpool::sizing {

struct chart_labels {
  std::string title;                       // e.g. "select-1, 2 threads x 4 fibers"
  std::optional<std::size_t> recommended;  // draws a marker at this size
};

// The whole SVG document. Sizes spread over a log2 axis when the largest is
// at least 8 times the smallest, else a linear one.
[[nodiscard]] std::string svg_chart(const std::vector<size_result>& rows,
                                    const chart_labels& labels);

// &, <, >, " and ' as entities; control characters other than tab and
// newline dropped (XML does not allow them).
[[nodiscard]] std::string xml_escape(std::string_view s);

// The smallest "nice" tick step (1, 2, 2.5 or 5 times a power of ten) that
// covers `max` in at most `ticks` steps; 1 when max <= 0.
[[nodiscard]] double nice_step(double max, int ticks);

}  // namespace sandpool::sizing
