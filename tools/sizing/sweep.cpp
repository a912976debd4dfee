// Parsing and planning of pool-size sweeps (see sweep.hpp).
#include "sweep.hpp"

#include <algorithm>
#include <string>

#include "units.hpp"

namespace sandpool::sizing {
namespace {

const char* const how_to_write =
    "; write sizes like 1,2,4,8 or ranges like 1-16 or 1-16:2 (from 1 to 10000)";

absl::Status bad_item(std::string_view item, const std::string& why) {
  return absl::InvalidArgumentError("--sizes item '" + std::string(item) + "' " + why +
                                    how_to_write);
}

// One size of an item: a whole number from 1 to max_pool_size.
absl::StatusOr<std::size_t> read_size(std::string_view item, std::string_view text) {
  auto n = parse_count(text, "size", 0, static_cast<std::int64_t>(max_pool_size));
  if (!n.ok()) {
    if (!text.empty() && text.find_first_not_of("0123456789 ") == std::string_view::npos)
      return bad_item(item, "asks for more than " + std::to_string(max_pool_size) +
                                " connections, more than any server serves");
    return bad_item(item, "is not a size");
  }
  if (*n == 0)
    return bad_item(item, "asks for a pool of 0 connections; a pool needs at least 1");
  return static_cast<std::size_t>(*n);
}

absl::Status add_item(std::string_view item, std::vector<std::size_t>& out) {
  const std::size_t dash = item.find('-');
  if (dash == std::string_view::npos) {
    auto n = read_size(item, item);
    if (!n.ok()) return n.status();
    out.push_back(*n);
    return absl::OkStatus();
  }
  std::string_view to_text = item.substr(dash + 1);
  std::string_view step_text = "1";
  if (const std::size_t colon = to_text.find(':'); colon != std::string_view::npos) {
    step_text = to_text.substr(colon + 1);
    to_text = to_text.substr(0, colon);
  }
  auto from = read_size(item, item.substr(0, dash));
  if (!from.ok()) return from.status();
  auto to = read_size(item, to_text);
  if (!to.ok()) return to.status();
  auto step = parse_count(step_text, "step", 0, static_cast<std::int64_t>(max_pool_size));
  if (!step.ok()) return bad_item(item, "has a step that is not a whole number");
  if (*step == 0) return bad_item(item, "has a step of 0, which never advances");
  if (*from > *to) {
    return bad_item(item, "runs downward; write the smaller size first (" + std::to_string(*to) +
                              "-" + std::to_string(*from) + ")");
  }
  for (std::size_t s = *from; s <= *to; s += static_cast<std::size_t>(*step)) out.push_back(s);
  return absl::OkStatus();
}

void sort_unique(std::vector<std::size_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

absl::StatusOr<std::vector<std::size_t>> parse_sizes(std::string_view text) {
  std::vector<std::size_t> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) {
      return absl::InvalidArgumentError("--sizes '" + std::string(text) +
                                        "' has an empty item" + how_to_write);
    }
    if (absl::Status s = add_item(item, out); !s.ok()) return s;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  sort_unique(out);
  return out;
}

std::vector<std::size_t> default_sizes(std::size_t concurrency) {
  const std::size_t c = std::clamp<std::size_t>(concurrency, 1, max_pool_size);
  const std::size_t top = std::min(2 * c, max_pool_size);
  std::vector<std::size_t> out;
  for (std::size_t s = 1; s <= top; s *= 2) out.push_back(s);
  out.push_back(c);
  out.push_back(top);
  sort_unique(out);
  return out;
}

std::vector<std::size_t> with_sizes(std::vector<std::size_t> sweep,
                                    const std::vector<std::size_t>& extra, std::size_t cap) {
  for (std::size_t s : extra)
    if (s >= 1 && s <= cap) sweep.push_back(s);
  sort_unique(sweep);
  return sweep;
}

std::size_t auto_add_cap(const std::vector<std::size_t>& sweep, std::size_t server_limit) {
  const std::size_t largest = sweep.empty() ? 0 : *std::max_element(sweep.begin(), sweep.end());
  std::size_t cap = std::max<std::size_t>(64, 2 * largest);
  if (server_limit > 0) cap = std::min(cap, server_limit);
  return std::min(cap, max_pool_size);
}

}  // namespace sandpool::sizing
