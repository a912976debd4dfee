// Parsing activity export files (see activity_file.hpp).
#include "activity_file.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace sandpool::sizing {
namespace {

constexpr std::string_view magic = "# sandpool activity v";
constexpr std::string_view columns = "test\trequested_ns\tgranted_ns\treleased_ns\toutcome";

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t at = 0;;) {
    const std::size_t tab = line.find('\t', at);
    out.push_back(line.substr(at, tab == std::string_view::npos ? std::string_view::npos
                                                                : tab - at));
    if (tab == std::string_view::npos) return out;
    at = tab + 1;
  }
}

bool read_int(std::string_view s, std::int64_t& out) {
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return !s.empty() && ec == std::errc() && ptr == end;
}

bool read_outcome(std::string_view s, checkout_outcome& out) {
  if (s == "ok") out = checkout_outcome::ok;
  else if (s == "timeout") out = checkout_outcome::timeout;
  else if (s == "dropped") out = checkout_outcome::dropped;
  else if (s == "failed") out = checkout_outcome::failed;
  else return false;
  return true;
}

}  // namespace

absl::StatusOr<activity_file> parse_activity(std::string_view text, std::string_view path) {
  activity_file f;
  f.path = std::string(path);
  std::size_t line_no = 0;
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError("activity file " + f.path + " line " +
                                      std::to_string(line_no) + ": " + what);
  };
  bool seen_columns = false, seen_pool = false;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    if (line_no == 1) {
      if (line.substr(0, magic.size()) != magic) {
        return bad("this is not a sandpool activity file (it does not start with '" +
                   std::string(magic) + "1'); keep only files pools wrote in the export "
                   "directory");
      }
      if (line.substr(magic.size()) != "1") {
        return bad("format v" + std::string(line.substr(magic.size())) +
                   " is not the v1 this sandpool-size reads; use the sandpool-size built with "
                   "the sandpool that wrote it");
      }
      continue;
    }
    if (!seen_columns) {
      if (line.empty()) continue;
      if (line.front() == '#') {
        const auto fields = split_tabs(line);
        if (fields.size() < 2) continue;  // a comment; later versions may add some
        const std::string_view key = fields[0];
        if (key == "# pool") {
          f.pool = std::string(line.substr(line.find('\t') + 1));  // the name may hold tabs
          seen_pool = true;
        } else if (key == "# max_size") {
          std::int64_t n = 0;
          if (!read_int(fields[1], n) || n < 0) return bad("max_size is not a whole number");
          f.max_size = static_cast<std::size_t>(n);
        } else if (key == "# pid") {
          if (!read_int(fields[1], f.pid)) return bad("pid is not a whole number");
        }
        continue;
      }
      if (line != columns) {
        return bad("expected the column line '" + std::string(columns) +
                   "' after the header; the file is damaged");
      }
      if (!seen_pool) return bad("the header names no pool ('# pool<TAB>name' is missing)");
      seen_columns = true;
      continue;
    }
    if (line.empty()) continue;
    const auto fields = split_tabs(line);
    if (fields.size() != 5) {
      return bad("expected 5 tab-separated fields (test, requested_ns, granted_ns, "
                 "released_ns, outcome), found " + std::to_string(fields.size()) +
                 "; the file is damaged or was cut short");
    }
    checkout_record r;
    r.test = std::string(fields[0]);
    if (!read_int(fields[1], r.requested_ns) || !read_int(fields[2], r.granted_ns) ||
        !read_int(fields[3], r.released_ns))
      return bad("a time is not a whole number of nanoseconds");
    if (!read_outcome(fields[4], r.outcome)) {
      return bad("unknown outcome '" + std::string(fields[4]) +
                 "'; expected ok, timeout, dropped or failed");
    }
    if (r.granted_ns < r.requested_ns || r.released_ns < r.granted_ns)
      return bad("times out of order (requested <= granted <= released must hold)");
    f.records.push_back(std::move(r));
  }
  if (line_no == 0) {
    line_no = 1;
    return bad("the file is empty; the process may have been killed while writing it");
  }
  if (!seen_columns) {
    return bad("the file ends before its column line; the process may have been killed while "
               "writing it");
  }
  return f;
}

std::vector<std::string> activity_files_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::filesystem::path& p = it->path();
    if (p.extension() == activity_extension && it->is_regular_file(ec))
      names.push_back(p.string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<activity_set> read_activity_dir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError("the activity directory " + dir +
                               " does not exist or is not a directory" +
                               (ec ? ": " + ec.message() : std::string()));
  }
  activity_set out;
  for (const std::string& path : activity_files_in(dir)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      out.problems.push_back("cannot read " + path + "; it was left out");
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto f = parse_activity(text.str(), path);
    if (!f.ok()) {
      out.problems.push_back(std::string(f.status().message()) + "; the file was left out");
      continue;
    }
    out.files.push_back(*std::move(f));
  }
  return out;
}

}  // namespace sandpool::sizing
