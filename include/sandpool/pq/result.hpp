// The result of one query: a move-only owner of a PGresult. It owns the rule
// that a PGresult is cleared exactly once, and that views returned by get()
// and column_name() live exactly as long as the result they came from.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::pq {

class result {
 public:
  // An empty result: no rows, no columns, status PGRES_EMPTY_QUERY.
  result() noexcept = default;
  // Takes ownership of r (may be null).
  explicit result(PGresult* r) noexcept : res_(r) {}
  ~result();

  // A command's result with no rows and this command tag, for a statement
  // hook that carried a command out as other statements and returns what the
  // server would have (the sandbox's COMMIT is a RELEASE SAVEPOINT). tag must
  // outlive the result: pass a string literal.
  [[nodiscard]] static result command(const char* tag) noexcept;

  result(result&& other) noexcept : res_(other.res_), tag_(other.tag_) {
    other.res_ = nullptr;
    other.tag_ = nullptr;
  }
  result& operator=(result&& other) noexcept;
  result(const result&) = delete;
  result& operator=(const result&) = delete;

  // Number of rows and columns returned (0 for commands without rows).
  [[nodiscard]] int rows() const noexcept;
  [[nodiscard]] int columns() const noexcept;

  // Name of column c; empty if c is out of range.
  [[nodiscard]] std::string_view column_name(int c) const noexcept;
  // Index of the column with this name, or -1.
  [[nodiscard]] int column_index(std::string_view name) const;

  // Whether the value at (row, c) is SQL NULL. Out of range counts as NULL.
  [[nodiscard]] bool is_null(int row, int c) const noexcept;
  // The value at (row, c) in text form; empty for NULL or out of range.
  // Valid while this result lives.
  [[nodiscard]] std::string_view get(int row, int c) const noexcept;

  // Rows affected by INSERT/UPDATE/DELETE/MERGE/SELECT/COPY/..., 0 for
  // commands that report none.
  [[nodiscard]] std::uint64_t affected_rows() const noexcept;

  // libpq's status of the result (PGRES_TUPLES_OK, PGRES_COMMAND_OK, ...).
  [[nodiscard]] ExecStatusType status() const noexcept;

  // The command tag, e.g. "INSERT 0 1"; empty if none.
  [[nodiscard]] std::string_view command_tag() const noexcept;

  // The owned PGresult, still owned by this object.
  [[nodiscard]] PGresult* native() const noexcept { return res_; }

 private:
  PGresult* res_ = nullptr;
  const char* tag_ = nullptr;  // overrides the PGresult's tag (see command())
};

}  // namespace sandpool::pq

#pragma GCC visibility pop
