// The SVG line chart of a run (see svg_chart.hpp).
#include "svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "repeats.hpp"
#include "units.hpp"

namespace sandpool::sizing {
namespace {

// Canvas and plot area, in pixels.
constexpr double canvas_w = 800, canvas_h = 480;
constexpr double plot_left = 90, plot_right = 700, plot_top = 80, plot_bottom = 410;
const char* const throughput_colour = "#1f6fb4";
const char* const wait_colour = "#d2461e";

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tick_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The unit the wait axis is drawn in: the largest that keeps values >= 1.
struct time_unit {
  const char* name;
  double ns;
};
time_unit unit_for(double max_ns) {
  if (max_ns >= 1e9) return {"s", 1e9};
  if (max_ns >= 1e6) return {"ms", 1e6};
  if (max_ns >= 1e3) return {"us", 1e3};
  return {"ns", 1};
}

std::string text_at(double x, double y, std::string_view anchor, const std::string& body,
                    const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" +
         std::string(anchor) + "\"" + extra + ">" + body + "</text>\n";
}

// " (median of 3 repeats, 3,900–4,100)"; empty for a single measurement.
template <class T, class F>
std::string spread_note(const spread<T>& s, F format) {
  if (s.repeats <= 1) return "";
  return " (median of " + std::to_string(s.repeats) + " repeats, " + format(s.low) + "\u2013" +
         format(s.high) + ")";
}

// A vertical bar with short caps, from y1 to y2 at x.
std::string whisker(double x, double y1, double y2, const char* colour) {
  auto seg = [&](double xa, double ya, double xb, double yb) {
    return "<line x1=\"" + num(xa) + "\" y1=\"" + num(ya) + "\" x2=\"" + num(xb) +
           "\" y2=\"" + num(yb) + "\" stroke=\"" + colour + "\"/>\n";
  };
  return seg(x, y1, x, y2) + seg(x - 3, y1, x + 3, y1) + seg(x - 3, y2, x + 3, y2);
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') break;
        out += c;
    }
  }
  return out;
}

double nice_step(double max, int ticks) {
  if (!(max > 0) || ticks < 1) return 1;
  const double raw = max / ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * power >= raw * (1 - 1e-12)) return m * power;
  return 10 * power;
}

std::string svg_chart(const std::vector<size_result>& input, const chart_labels& labels) {
  std::vector<size_result> rows = input;
  std::sort(rows.begin(), rows.end(),
            [](const size_result& a, const size_result& b) { return a.size < b.size; });

  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(canvas_w) + "\" height=\"" +
      num(canvas_h) + "\" viewBox=\"0 0 " + num(canvas_w) + " " + num(canvas_h) +
      "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<title>" + xml_escape(labels.title) + "</title>\n"
      "<rect x=\"0\" y=\"0\" width=\"" + num(canvas_w) + "\" height=\"" + num(canvas_h) +
      "\" fill=\"#ffffff\"/>\n" +
      text_at(canvas_w / 2, 24, "middle", xml_escape(labels.title),
              " font-size=\"15\" font-weight=\"bold\"");
  if (rows.empty()) {
    out += text_at(canvas_w / 2, canvas_h / 2, "middle", "no pool size was measured");
    return out + "</svg>\n";
  }

  // x: pool size.
  const double lo = static_cast<double>(rows.front().size);
  const double hi = static_cast<double>(rows.back().size);
  const bool log_x = hi >= 8 * lo;
  auto fx = [&](double s) { return log_x ? std::log2(s) : s; };
  const double span = fx(hi) - fx(lo);
  const double pad = (plot_right - plot_left) * 0.04;
  auto x_of = [&](std::size_t size) {
    if (span <= 0) return (plot_left + plot_right) / 2;
    return plot_left + pad +
           (fx(static_cast<double>(size)) - fx(lo)) / span * (plot_right - plot_left - 2 * pad);
  };

  // y: throughput on the left, p99 wait on the right, both from zero.
  double max_tp = 0, max_wait = 0;
  for (const size_result& r : rows) {
    max_tp = std::max(max_tp, throughput_spread(r).high);
    max_wait = std::max(max_wait, static_cast<double>(wait_p99_spread(r).high.count()));
  }
  const double tp_step = nice_step(max_tp, 5);
  const double tp_top = tp_step * std::max(1.0, std::ceil(max_tp / tp_step - 1e-9));
  const time_unit unit = unit_for(max_wait);
  const double wait_max_u = max_wait / unit.ns;
  const double wait_step = nice_step(wait_max_u, 5);
  const double wait_top = wait_step * std::max(1.0, std::ceil(wait_max_u / wait_step - 1e-9));
  auto y_tp = [&](double v) { return plot_bottom - v / tp_top * (plot_bottom - plot_top); };
  auto y_wait = [&](double ns) {
    return plot_bottom - ns / unit.ns / wait_top * (plot_bottom - plot_top);
  };

  // Grid and ticks.
  out += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double v = 0; v <= tp_top * (1 + 1e-9); v += tp_step)
    out += "<line x1=\"" + num(plot_left) + "\" y1=\"" + num(y_tp(v)) + "\" x2=\"" +
           num(plot_right) + "\" y2=\"" + num(y_tp(v)) + "\"/>\n";
  out += "</g>\n";
  out += "<g fill=\"" + std::string(throughput_colour) + "\">\n";
  for (double v = 0; v <= tp_top * (1 + 1e-9); v += tp_step)
    out += text_at(plot_left - 8, y_tp(v) + 4, "end", format_count(v));
  out += "</g>\n<g fill=\"" + std::string(wait_colour) + "\">\n";
  for (double v = 0; v <= wait_top * (1 + 1e-9); v += wait_step)
    out += text_at(plot_right + 8, y_wait(v * unit.ns) + 4, "start", tick_text(v));
  out += "</g>\n<g fill=\"#333333\">\n";
  double last_label_x = -1e9;
  for (const size_result& r : rows) {
    const double x = x_of(r.size);
    if (x - last_label_x < 26) continue;  // keep labels legible; the point is still drawn
    out += text_at(x, plot_bottom + 18, "middle", std::to_string(r.size));
    last_label_x = x;
  }
  out += "</g>\n";

  // Axes and their labels.
  out += "<g stroke=\"#333333\" stroke-width=\"1\" fill=\"none\">\n"
         "<line x1=\"" + num(plot_left) + "\" y1=\"" + num(plot_bottom) + "\" x2=\"" +
         num(plot_right) + "\" y2=\"" + num(plot_bottom) + "\"/>\n"
         "<line x1=\"" + num(plot_left) + "\" y1=\"" + num(plot_top) + "\" x2=\"" +
         num(plot_left) + "\" y2=\"" + num(plot_bottom) + "\"/>\n"
         "<line x1=\"" + num(plot_right) + "\" y1=\"" + num(plot_top) + "\" x2=\"" +
         num(plot_right) + "\" y2=\"" + num(plot_bottom) + "\"/>\n</g>\n";
  out += text_at((plot_left + plot_right) / 2, plot_bottom + 42, "middle",
                 std::string("pool size (max_size)") + (log_x ? ", log scale" : ""));
  out += text_at(0, 0, "middle", "throughput (ops/s)",
                 " fill=\"" + std::string(throughput_colour) + "\" transform=\"translate(22 " +
                     num((plot_top + plot_bottom) / 2) + ") rotate(-90)\"");
  out += text_at(0, 0, "middle", "p99 checkout wait (" + std::string(unit.name) + ")",
                 " fill=\"" + std::string(wait_colour) + "\" transform=\"translate(" +
                     num(canvas_w - 22) + " " + num((plot_top + plot_bottom) / 2) +
                     ") rotate(90)\"");

  // The recommended size.
  if (labels.recommended) {
    const auto it = std::find_if(rows.begin(), rows.end(), [&](const size_result& r) {
      return r.size == *labels.recommended;
    });
    if (it != rows.end()) {
      const double x = x_of(it->size);
      out += "<line x1=\"" + num(x) + "\" y1=\"" + num(plot_top) + "\" x2=\"" + num(x) +
             "\" y2=\"" + num(plot_bottom) +
             "\" stroke=\"#2a9d3a\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\n" +
             // Beside the line, on the side with room for the text.
             (x > (plot_left + plot_right) / 2
                  ? text_at(x - 4, plot_top + 12, "end", "recommended: " + std::to_string(it->size),
                            " fill=\"#2a9d3a\"")
                  : text_at(x + 4, plot_top + 12, "start",
                            "recommended: " + std::to_string(it->size), " fill=\"#2a9d3a\""));
    }
  }

  // The two series.
  std::string tp_points, wait_points;
  for (const size_result& r : rows) {
    tp_points += num(x_of(r.size)) + "," + num(y_tp(r.throughput)) + " ";
    wait_points += num(x_of(r.size)) + "," +
                   num(y_wait(static_cast<double>(r.wait_p99.count()))) + " ";
  }
  tp_points.pop_back();
  wait_points.pop_back();
  out += "<polyline points=\"" + tp_points + "\" fill=\"none\" stroke=\"" + throughput_colour +
         "\" stroke-width=\"2\"/>\n";
  out += "<polyline points=\"" + wait_points + "\" fill=\"none\" stroke=\"" + wait_colour +
         "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n";
  // The spread of the repeats: a bar from the lowest to the highest.
  std::string bars;
  for (const size_result& r : rows) {
    const double x = x_of(r.size);
    const spread<double> tp = throughput_spread(r);
    const spread<std::chrono::nanoseconds> wait = wait_p99_spread(r);
    if (tp.low < tp.high)
      bars += whisker(x - 2, y_tp(tp.low), y_tp(tp.high), throughput_colour);
    if (wait.low < wait.high)
      bars += whisker(x + 2, y_wait(static_cast<double>(wait.low.count())),
                      y_wait(static_cast<double>(wait.high.count())), wait_colour);
  }
  if (!bars.empty()) out += "<g stroke-width=\"1\">\n" + bars + "</g>\n";
  out += "<g fill=\"" + std::string(throughput_colour) + "\">\n";
  for (const size_result& r : rows)
    out += "<circle cx=\"" + num(x_of(r.size)) + "\" cy=\"" + num(y_tp(r.throughput)) +
           "\" r=\"3.5\"><title>size " + std::to_string(r.size) + ": " +
           format_count(r.throughput) + " ops/s" +
           spread_note(throughput_spread(r), format_count) + "</title></circle>\n";
  out += "</g>\n<g fill=\"" + std::string(wait_colour) + "\">\n";
  for (const size_result& r : rows) {
    const double y = y_wait(static_cast<double>(r.wait_p99.count()));
    out += "<rect x=\"" + num(x_of(r.size) - 3) + "\" y=\"" + num(y - 3) +
           "\" width=\"6\" height=\"6\"><title>size " + std::to_string(r.size) +
           ": p99 wait " + format_duration(r.wait_p99) +
           spread_note(wait_p99_spread(r), format_duration) + "</title></rect>\n";
  }
  out += "</g>\n";

  // Legend.
  const double ly = 50;
  out += "<line x1=\"" + num(plot_left) + "\" y1=\"" + num(ly) + "\" x2=\"" +
         num(plot_left + 28) + "\" y2=\"" + num(ly) + "\" stroke=\"" + throughput_colour +
         "\" stroke-width=\"2\"/>\n" +
         text_at(plot_left + 34, ly + 4, "start", "throughput (ops/s, left axis)");
  const double lx = plot_left + 260;
  out += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 28) +
         "\" y2=\"" + num(ly) + "\" stroke=\"" + wait_colour +
         "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n" +
         text_at(lx + 34, ly + 4, "start",
                 "p99 checkout wait (" + std::string(unit.name) + ", right axis)");
  return out + "</svg>\n";
}

}  // namespace sandpool::sizing
