// The SQLSTATE payload and the SQLSTATE -> canonical code table. This file is
// the only place that decides which absl code a server error gets; the table
// is documented next to code_for_sqlstate in sandpool/pq/sqlstate.hpp.
#include "sandpool/pq/sqlstate.hpp"


#include "absl/strings/cord.h"

namespace sandpool::pq {

std::string sqlstate(const absl::Status& status) {
  const auto payload = status.GetPayload(
      absl::string_view(sqlstate_type_url.data(), sqlstate_type_url.size()));
  return payload ? std::string(*payload) : std::string();
}

absl::StatusCode code_for_sqlstate(std::string_view state) {
  using code = absl::StatusCode;
  if (state.size() != 5) return code::kUnknown;
  // Exact codes first: they refine their class.
  if (state == "57014") return code::kCancelled;
  if (state == "57P01" || state == "57P02" || state == "57P03") {
    return code::kUnavailable;
  }
  if (state == "42501") return code::kPermissionDenied;
  if (state == "3D000") return code::kNotFound;
  if (state == "23505") return code::kAlreadyExists;

  const std::string_view cls = state.substr(0, 2);
  if (cls == "08") return code::kUnavailable;
  if (cls == "28") return code::kPermissionDenied;
  if (cls == "23" || cls == "25" || cls == "55") return code::kFailedPrecondition;
  if (cls == "40") return code::kAborted;
  if (cls == "53" || cls == "54") return code::kResourceExhausted;
  if (cls == "22" || cls == "42") return code::kInvalidArgument;
  if (cls == "0A") return code::kUnimplemented;
  if (cls == "58" || cls == "XX") return code::kInternal;
  return code::kUnknown;
}

}  // namespace sandpool::pq
