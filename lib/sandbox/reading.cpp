// reading_cache::of: a reading made once per string and settings.
#include "sandbox/reading.hpp"

namespace sandpool {

reading& reading_cache::of(std::string_view sql, bool standard_strings, bool extended) {
  const bool remember = sql.size() <= longest;
  if (remember) {
    key_.assign(sql);
    key_.push_back(static_cast<char>((standard_strings ? 1 : 0) | (extended ? 2 : 0)));
    if (auto it = map_.find(std::string_view(key_)); it != map_.end()) return it->second;
  }
  reading r;
  for (std::string_view p : split_statements(sql, standard_strings)) {
    r.pieces.emplace_back(static_cast<std::size_t>(p.data() - sql.data()), p.size());
  }
  if (extended && r.pieces.size() > 1) {
    r.infos.emplace_back();
  } else {
    r.infos.reserve(r.pieces.size());
    for (const auto& [at, len] : r.pieces)
      r.infos.push_back(classify_statement(sql.substr(at, len), standard_strings));
  }
  if (!remember) {
    scratch_ = std::move(r);
    return scratch_;
  }
  if (map_.size() >= limit) map_.clear();
  return map_.emplace(key_, std::move(r)).first->second;
}

}  // namespace sandpool
