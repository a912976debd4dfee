// sandpool-size's outputs: the per-size table (plain and markdown), the
// CSV file, the SVG chart and the progress bar.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "csv.hpp"
#include "progress.hpp"
#include "repeats.hpp"
#include "run_report.hpp"
#include "svg_chart.hpp"
#include "text_table.hpp"

namespace sandpool::sizing {
namespace {

using namespace std::chrono_literals;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    out.push_back(text.substr(at, nl - at));
  return out;
}

size_result row(std::size_t size, double throughput, std::chrono::nanoseconds p99) {
  size_result r;
  r.size = size;
  r.seconds = 2;
  r.operations = static_cast<std::uint64_t>(throughput * 2);
  r.throughput = throughput;
  r.wait_p50 = p99 / 4;
  r.wait_p95 = p99 / 2;
  r.wait_p99 = p99;
  r.query_p99 = 80us;
  r.high_water = size;
  return r;
}

TEST_CASE("a plain table aligns its columns; markdown escapes pipes and marks numbers") {
  text_table t;
  t.headers = {"name", "n"};
  t.aligns = {align::left, align::right};
  t.rows = {{"a|b", "1"}, {"longer", "1000"}, {"short"}};
  const auto plain = lines_of(render(t, output_format::table));
  REQUIRE(plain.size() == 5);
  CHECK(plain[0] == "name       n");
  CHECK(plain[1] == "------  ----");
  CHECK(plain[2] == "a|b        1");
  CHECK(plain[3] == "longer  1000");
  CHECK(plain[4] == "short");
  const auto md = lines_of(render(t, output_format::markdown));
  REQUIRE(md.size() == 5);
  CHECK(md[0] == "| name | n |");
  CHECK(md[1] == "| --- | ---: |");
  CHECK(md[2] == "| a\\|b | 1 |");
  CHECK(md[4] == "| short |  |");
}

TEST_CASE("the results table has a row per size in order, with notes") {
  const std::vector<size_result> rows = {row(4, 3000, 300us), row(1, 1000, 5ms),
                                         row(2, 2950, 900us)};
  const recommendation r = recommend(rows, 5, 1ms);
  const std::vector<rule_of_thumb> rules = {{"rule of thumb (seed)", "", 4}};
  const auto md = lines_of(results_table(rows, r, rules, output_format::markdown));
  REQUIRE(md.size() == 5);
  CHECK(md[0] == "| size | ops/s | wait p50 | wait p95 | wait p99 | query p99 | high-water | "
                 "timeouts | drops | note |");
  CHECK(md[2] == "| 1 | 1,000 | 1.25 ms | 2.50 ms | 5.00 ms | 80.0 us | 1 | 0 | 0 |  |");
  CHECK(md[3] == "| 2 | 2,950 | 225 us | 450 us | 900 us | 80.0 us | 2 | 0 | 0 | recommended |");
  CHECK(md[4] == "| 4 | 3,000 | 75.0 us | 150 us | 300 us | 80.0 us | 4 | 0 | 0 | best "
                 "throughput, rule of thumb (seed) |");
  const auto plain = lines_of(results_table(rows, r, rules, output_format::table));
  REQUIRE(plain.size() == 5);
  CHECK(plain[0].rfind("size  ops/s", 0) == 0);

  const std::string closing = closing_text({"a", "b"}, output_format::markdown);
  CHECK(closing == "- a\n- b\n");
  CHECK(closing_text({"a"}, output_format::table) == "a\n");
}

TEST_CASE("with repeats, the table, CSV and chart show each size's median and spread") {
  auto repeated = [](std::size_t size, double a, double b, double c) {
    return summarize_repeats({row(size, a, 300us), row(size, b, 200us), row(size, c, 900us)});
  };
  const std::vector<size_result> rows = {repeated(1, 1000, 900, 1100), repeated(2, 2950, 2000,
                                                                                3000)};
  const recommendation r = recommend(rows, 5, 1ms);
  const auto md = lines_of(results_table(rows, r, {}, output_format::markdown));
  REQUIRE(md.size() == 4);
  CHECK(md[0] == "| size | ops/s | ops/s min\u2013max | wait p50 | wait p95 | wait p99 | "
                 "wait p99 min\u2013max | query p99 | query p99 min\u2013max | high-water | "
                 "timeouts | drops | note |");
  CHECK(md[2] == "| 1 | 1,000 | 900\u20131,100 | 75.0 us | 150 us | 300 us | 200 us\u2013900 us | "
                 "80.0 us | 80.0 us\u201380.0 us | 1 | 0 | 0 |  |");
  CHECK(md[3].rfind("| 2 | 2,950 | 2,000\u20133,000 | ", 0) == 0);

  const auto csv = lines_of(to_csv(rows, {"rw", 2, 4}));
  REQUIRE(csv.size() == 3);
  CHECK(csv[1] == "1,1000.0,6000,6.000,75.000,150.000,300.000,80.000,1,0,0,rw,2,4,3,900.0,"
                  "1100.0,200.000,900.000,80.000,80.000");

  const std::string svg = svg_chart(rows, {"t", 2});
  CHECK(contains(svg, "size 2: 2,950 ops/s (median of 3 repeats, 2,000\u20133,000)"));
  CHECK(contains(svg, "size 1: p99 wait 300 us (median of 3 repeats, 200 us\u2013900 us)"));
  CHECK(count(svg, "<line x1=") > count(svg_chart({row(1, 1000, 300us), row(2, 2950, 300us)},
                                                 {"t", 2}),
                                       "<line x1="));  // the spread bars
  CHECK(count(svg, "<g") == count(svg, "</g>"));

  run_description d{"rw", "host=/tmp", 2, 4, 3, 0.5, 5s, 3};
  CHECK(contains(header_text(d, output_format::table),
                 "3 repeats in rounds across the sizes, each a fresh pool with 0.167 s warm-up, "
                 "then 1 s measured (3 s measured per size); figures are the repeats' medians; "
                 "checkout_timeout 5.00 s"));
}

TEST_CASE("the header names the workload, server, concurrency, timing and timeout") {
  run_description d{"rw", "host=/tmp dbname=t (PostgreSQL 15.2)", 2, 4, 3, 0.5, 5s};
  const std::string h = header_text(d, output_format::table);
  CHECK(contains(h, "workload rw on host=/tmp dbname=t (PostgreSQL 15.2)"));
  CHECK(contains(h, "2 threads x 4 fibers = 8 concurrent callers"));
  CHECK(contains(h, "0.5 s warm-up, then 3 s measured"));
  CHECK(contains(h, "checkout_timeout 5.00 s"));
}

TEST_CASE("CSV: a header and a line per size in order, microseconds, quoted fields") {
  const std::string csv =
      to_csv({row(2, 2000.25, 1500ns), row(1, 1000, 2ms)}, {"script a,b.sql", 2, 4});
  const auto lines = lines_of(csv);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "pool_size,throughput_ops_per_s,operations,seconds,wait_p50_us,wait_p95_us,"
                    "wait_p99_us,query_p99_us,high_water,timeouts,drops,workload,threads,fibers,"
                    "repeats,throughput_min,throughput_max,wait_p99_min_us,wait_p99_max_us,"
                    "query_p99_min_us,query_p99_max_us");
  CHECK(lines[1] == "1,1000.0,2000,2.000,500.000,1000.000,2000.000,80.000,1,0,0,\"script "
                    "a,b.sql\",2,4,1,1000.0,1000.0,2000.000,2000.000,80.000,80.000");
  CHECK(lines[2].rfind("2,2000.2,4000,2.000,0.375,0.750,1.500,80.000,2,0,0,", 0) == 0);
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
}

TEST_CASE("the SVG chart is self-contained, with both series, axes, legend and marker") {
  const std::vector<size_result> rows = {row(1, 1000, 5ms), row(2, 1900, 2ms),
                                         row(4, 3500, 800us), row(16, 4000, 10us)};
  const std::string svg = svg_chart(rows, {"select-1 <2 threads> & \"more\"", 4});
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(contains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(contains(svg, "</svg>"));
  // Nothing to fetch or run.
  CHECK_FALSE(contains(svg, "href"));
  CHECK_FALSE(contains(svg, "<script"));
  CHECK_FALSE(contains(svg, "@import"));
  CHECK_FALSE(contains(svg, "url("));
  // The title is escaped, the axes and the legend are labelled.
  CHECK(contains(svg, "select-1 &lt;2 threads&gt; &amp; &quot;more&quot;"));
  CHECK_FALSE(contains(svg, "<2 threads>"));
  CHECK(contains(svg, "pool size (max_size), log scale"));
  CHECK(contains(svg, ">throughput (ops/s)<"));
  CHECK(contains(svg, ">p99 checkout wait (ms)<"));
  CHECK(contains(svg, "throughput (ops/s, left axis)"));
  CHECK(contains(svg, "p99 checkout wait (ms, right axis)"));
  CHECK(contains(svg, "recommended: 4"));
  // Two lines, and a point per size on each.
  CHECK(count(svg, "<polyline") == 2);
  CHECK(count(svg, "<circle") == 4);
  CHECK(count(svg, "<rect x=") == 1 + 4);  // the background, then one square per size
  CHECK(contains(svg, "size 16: 4,000 ops/s"));
  CHECK(contains(svg, "size 1: p99 wait 5.00 ms"));
  // Every opened element is closed: the document is balanced.
  CHECK(count(svg, "<g") == count(svg, "</g>"));
  CHECK(count(svg, "<text") == count(svg, "</text>"));

  const std::string linear = svg_chart({row(1, 10, 1us), row(2, 20, 2us)}, {"t", std::nullopt});
  CHECK(contains(linear, ">pool size (max_size)<"));
  CHECK_FALSE(contains(linear, "recommended:"));
  CHECK(contains(linear, "(us, right axis)"));
  CHECK(contains(svg_chart({}, {"t", std::nullopt}), "no pool size was measured"));
}

TEST_CASE("nice steps and escaping") {
  CHECK(nice_step(10, 5) == 2);
  CHECK(nice_step(4050, 5) == 1000);
  CHECK(nice_step(12, 5) == 2.5);
  CHECK(nice_step(0.7, 5) == doctest::Approx(0.2));
  CHECK(nice_step(0, 5) == 1);
  CHECK(xml_escape("a<b>&'\"\x01") == "a&lt;b&gt;&amp;&apos;&quot;");
}

TEST_CASE("the progress bar shows the fraction, the size and the time left") {
  CHECK(render_bar(0.5, {3, 7, 8}, 12.4, 10) == "[#####-----]  50%  size 8 (4/7)  12 s left");
  CHECK(render_bar(1.5, {6, 7, 16}, -1, 4) == "[####] 100%  size 16 (7/7)  0 s left");
  CHECK(render_bar(0, {0, 2, 1}, 150, 2) == "[--]   0%  size 1 (1/2)  3 min left");
  CHECK(render_bar(0.5, {3, 7, 8, 1, 3}, 12.4, 10) ==
        "[#####-----]  50%  size 8 (4/7), repeat 2/3  12 s left");
  CHECK(done_line(row(8, 12345, 210us), {3, 7, 8}) ==
        "size 8 (4/7): 12,345 ops/s, p99 wait 210 us, query p99 80.0 us");
  CHECK(done_line(row(8, 12345, 210us), {3, 7, 8, 2, 3}) ==
        "size 8 (4/7), repeat 3/3: 12,345 ops/s, p99 wait 210 us, query p99 80.0 us");
  CHECK(resolve_style(progress_style::automatic, true) == progress_style::bar);
  CHECK(resolve_style(progress_style::automatic, false) == progress_style::lines);
  CHECK(resolve_style(progress_style::none, true) == progress_style::none);
}

}  // namespace
}  // namespace sandpool::sizing
