// Rendering of text tables (see text_table.hpp).
#include "text_table.hpp"

#include <algorithm>

namespace sandpool::sizing {
namespace {

// Characters, not bytes: UTF-8 continuation bytes do not count.
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string markdown_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += (c == '\n' || c == '\t') ? ' ' : c;
  }
  return out;
}

std::string pad(const std::string& s, std::size_t w, align a) {
  const std::string fill(w > width(s) ? w - width(s) : 0, ' ');
  return a == align::right ? fill + s : s + fill;
}

}  // namespace

std::string render(const text_table& t, output_format f) {
  const std::size_t columns = t.headers.size();
  auto align_of = [&](std::size_t c) { return c < t.aligns.size() ? t.aligns[c] : align::left; };
  auto cell = [&](const std::vector<std::string>& row, std::size_t c) -> std::string {
    return c < row.size() ? row[c] : std::string();
  };

  std::string out;
  if (f == output_format::markdown) {
    auto line = [&](auto&& text_of) {
      out += '|';
      for (std::size_t c = 0; c < columns; ++c) out += ' ' + text_of(c) + " |";
      out += '\n';
    };
    line([&](std::size_t c) { return markdown_cell(t.headers[c]); });
    line([&](std::size_t c) { return std::string(align_of(c) == align::right ? "---:" : "---"); });
    for (const auto& row : t.rows) line([&](std::size_t c) { return markdown_cell(cell(row, c)); });
    return out;
  }

  std::vector<std::size_t> widths(columns);
  for (std::size_t c = 0; c < columns; ++c) {
    widths[c] = width(t.headers[c]);
    for (const auto& row : t.rows) widths[c] = std::max(widths[c], width(cell(row, c)));
  }
  auto line = [&](auto&& text_of) {
    std::string l;
    for (std::size_t c = 0; c < columns; ++c) {
      if (c > 0) l += "  ";
      l += pad(text_of(c), widths[c], align_of(c));
    }
    l.erase(l.find_last_not_of(' ') + 1);
    out += l + '\n';
  };
  line([&](std::size_t c) { return t.headers[c]; });
  line([&](std::size_t c) { return std::string(widths[c], '-'); });
  for (const auto& row : t.rows) line([&](std::size_t c) { return cell(row, c); });
  return out;
}

}  // namespace sandpool::sizing
