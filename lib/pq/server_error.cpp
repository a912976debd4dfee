// The server's error fields, read from a PGresult and carried on a status
// as one payload: each field is its code byte, its value and a NUL, as in
// the protocol's ErrorResponse.
#include "sandpool/pq/server_error.hpp"

#include <charconv>

#include "text.hpp"

namespace sandpool::pq {
namespace {

constexpr char codes[] = {'S', 'V', 'C', 'M', 'D', 'H', 'P', 'p', 'q',
                          'W', 's', 't', 'c', 'd', 'n', 'F', 'L', 'R'};

}  // namespace

error_fields fields_of(const PGresult* res) {
  error_fields out;
  if (res == nullptr) return out;
  for (char code : codes) {
    const char* v = PQresultErrorField(res, code);
    if (v != nullptr) out.emplace_back(code, v);
  }
  return out;
}

error_fields server_error_fields(const absl::Status& status) {
  error_fields out;
  const auto payload = status.GetPayload(text::to_absl(error_fields_type_url));
  if (!payload) return out;
  const std::string flat(*payload);
  std::string_view rest = flat;
  while (rest.size() >= 2) {
    const char code = rest.front();
    const std::size_t nul = rest.find('\0', 1);
    if (nul == std::string_view::npos) break;
    out.emplace_back(code, std::string(rest.substr(1, nul - 1)));
    rest.remove_prefix(nul + 1);
  }
  return out;
}

void attach_error_fields(absl::Status& status, const error_fields& fields) {
  if (status.ok() || fields.empty()) return;
  std::string flat;
  for (const auto& [code, value] : fields) {
    flat += code;
    flat.append(value.substr(0, value.find('\0')));
    flat += '\0';
  }
  status.SetPayload(text::to_absl(error_fields_type_url), absl::Cord(flat));
}

void move_error_position(absl::Status& status, long by, long limit) {
  error_fields fields = server_error_fields(status);
  bool changed = false;
  for (auto it = fields.begin(); it != fields.end();) {
    if (it->first != 'P') {
      ++it;
      continue;
    }
    changed = true;
    long at = 0;
    (void)std::from_chars(it->second.data(), it->second.data() + it->second.size(), at);
    at += by;
    if (at >= 1 && at <= limit) {
      it->second = std::to_string(at);
      ++it;
    } else {
      it = fields.erase(it);
    }
  }
  if (changed) attach_error_fields(status, fields);
}

}  // namespace sandpool::pq
