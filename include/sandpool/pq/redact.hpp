// Password redaction for connection strings, messages and echoed SQL. This
// header owns the library-wide rule that a password never appears in a message
// or log: every text the library builds from a connection string, from
// libpq's error messages or from SQL goes through one of these functions.
// All functions are pure and thread-safe; they never fail, and on malformed
// input they mask more rather than less.
#pragma once

#include <string>
#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::pq {

// Returns conninfo with every password value replaced by `***`. Understands
// the key=value form (`password=secret`, `password = 'se cret'`, backslash
// escapes) and the URI form (`postgresql://user:secret@host/db`, the query
// parameter `?password=secret`). If a password value cannot be delimited (an
// unterminated quote, a missing `=`), everything after `password` is masked.
[[nodiscard]] std::string redact_conninfo(std::string_view conninfo);

// Returns message with every password found in conninfo replaced by `***`,
// in both its written and its decoded (unquoted, percent-decoded) form. Use
// it on any text that may echo part of conninfo, such as libpq's errors.
[[nodiscard]] std::string scrub(std::string_view message,
                                std::string_view conninfo);

// Returns sql with password literals masked: the literal after PASSWORD (as in
// `ALTER ROLE r PASSWORD 'x'`) and `password=value` pairs inside strings (as in
// a dblink connection string). Used before SQL is echoed in an error.
[[nodiscard]] std::string redact_sql(std::string_view sql);

}  // namespace sandpool::pq

#pragma GCC visibility pop
