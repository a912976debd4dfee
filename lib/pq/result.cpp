// Accessors over a PGresult. Every accessor checks its indices itself rather
// than relying on libpq's checks, which print a notice on stderr: an out of
// range access yields an empty value, never a crash or stray output.
#include "sandpool/pq/result.hpp"

#include <charconv>
#include <string>

namespace sandpool::pq {

result::~result() {
  if (res_ != nullptr) PQclear(res_);
}

result& result::operator=(result&& other) noexcept {
  if (this != &other) {
    if (res_ != nullptr) PQclear(res_);
    res_ = other.res_;
    tag_ = other.tag_;
    other.res_ = nullptr;
    other.tag_ = nullptr;
  }
  return *this;
}

result result::command(const char* tag) noexcept {
  result r(PQmakeEmptyPGresult(nullptr, PGRES_COMMAND_OK));
  r.tag_ = tag;
  return r;
}

int result::rows() const noexcept {
  return res_ == nullptr ? 0 : PQntuples(res_);
}

int result::columns() const noexcept {
  return res_ == nullptr ? 0 : PQnfields(res_);
}

std::string_view result::column_name(int c) const noexcept {
  if (c < 0 || c >= columns()) return {};
  const char* name = PQfname(res_, c);
  return name == nullptr ? std::string_view() : std::string_view(name);
}

int result::column_index(std::string_view name) const {
  if (res_ == nullptr) return -1;
  // PQfnumber would fold case and parse quotes; match the name exactly.
  for (int c = 0; c < columns(); ++c) {
    if (column_name(c) == name) return c;
  }
  return -1;
}

bool result::is_null(int row, int c) const noexcept {
  if (row < 0 || row >= rows() || c < 0 || c >= columns()) return true;
  return PQgetisnull(res_, row, c) != 0;
}

std::string_view result::get(int row, int c) const noexcept {
  if (is_null(row, c)) return {};
  return std::string_view(PQgetvalue(res_, row, c),
                          static_cast<std::size_t>(PQgetlength(res_, row, c)));
}

std::uint64_t result::affected_rows() const noexcept {
  if (res_ == nullptr) return 0;
  const std::string_view text = PQcmdTuples(res_);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  (void)end;
  return ec == std::errc() ? n : 0;
}

ExecStatusType result::status() const noexcept {
  return res_ == nullptr ? PGRES_EMPTY_QUERY : PQresultStatus(res_);
}

std::string_view result::command_tag() const noexcept {
  if (tag_ != nullptr) return tag_;
  if (res_ == nullptr) return {};
  const char* tag = PQcmdStatus(res_);
  return tag == nullptr ? std::string_view() : std::string_view(tag);
}

}  // namespace sandpool::pq
