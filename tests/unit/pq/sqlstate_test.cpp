// The SQLSTATE -> canonical code table and the sqlstate() payload reader,
// without a server: each class named in sqlstate.hpp maps as documented, and
// exact codes refine their class.
#include <doctest/doctest.h>

#include "absl/strings/cord.h"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::pq {

TEST_CASE("code_for_sqlstate follows the documented table") {
  using code = absl::StatusCode;
  CHECK(code_for_sqlstate("08006") == code::kUnavailable);
  CHECK(code_for_sqlstate("57P01") == code::kUnavailable);
  CHECK(code_for_sqlstate("57P03") == code::kUnavailable);
  CHECK(code_for_sqlstate("57014") == code::kCancelled);
  CHECK(code_for_sqlstate("28P01") == code::kPermissionDenied);
  CHECK(code_for_sqlstate("42501") == code::kPermissionDenied);
  CHECK(code_for_sqlstate("3D000") == code::kNotFound);
  CHECK(code_for_sqlstate("23505") == code::kAlreadyExists);
  CHECK(code_for_sqlstate("23503") == code::kFailedPrecondition);
  CHECK(code_for_sqlstate("25P02") == code::kFailedPrecondition);
  CHECK(code_for_sqlstate("55P03") == code::kFailedPrecondition);
  CHECK(code_for_sqlstate("40001") == code::kAborted);
  CHECK(code_for_sqlstate("40P01") == code::kAborted);
  CHECK(code_for_sqlstate("53300") == code::kResourceExhausted);
  CHECK(code_for_sqlstate("54000") == code::kResourceExhausted);
  CHECK(code_for_sqlstate("22012") == code::kInvalidArgument);
  CHECK(code_for_sqlstate("42P01") == code::kInvalidArgument);
  CHECK(code_for_sqlstate("0A000") == code::kUnimplemented);
  CHECK(code_for_sqlstate("XX000") == code::kInternal);
  CHECK(code_for_sqlstate("58030") == code::kInternal);
  CHECK(code_for_sqlstate("P0001") == code::kUnknown);
  CHECK(code_for_sqlstate("") == code::kUnknown);
  CHECK(code_for_sqlstate("2350") == code::kUnknown);
}

TEST_CASE("sqlstate reads the payload, empty when there is none") {
  absl::Status s = absl::InvalidArgumentError("query failed");
  CHECK(sqlstate(s).empty());
  s.SetPayload("sandpool/sqlstate", absl::Cord("42P01"));
  CHECK(sqlstate(s) == "42P01");
  CHECK(sqlstate(absl::OkStatus()).empty());
}

}  // namespace sandpool::pq
