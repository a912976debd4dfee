// Where a checkout happened, for the messages that name a holder.
// sandpool::source_location is std::source_location wherever the standard
// library provides it. libstdc++ 12 defines std::source_location only for
// compilers with __builtin_source_location, which clang 14 (Debian 12's
// clang, and so clangd in every editor there) lacks; there it is a small
// struct with the same interface, filled by the builtins both compilers
// have. Either way `source_location::current()` as a default argument
// records the caller's position.
#pragma once

#include <cstdint>

#if __has_include(<source_location>)
#include <source_location>
#endif

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

#if defined(__cpp_lib_source_location)
using source_location = std::source_location;
#else
class source_location {
 public:
  static constexpr source_location current(const char* file = __builtin_FILE(),
                                           const char* function = __builtin_FUNCTION(),
                                           std::uint_least32_t line = __builtin_LINE(),
                                           std::uint_least32_t column = __builtin_COLUMN()) noexcept {
    source_location s;
    s.file_ = file;
    s.function_ = function;
    s.line_ = line;
    s.column_ = column;
    return s;
  }
  constexpr source_location() noexcept = default;
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr std::uint_least32_t column() const noexcept { return column_; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  std::uint_least32_t line_ = 0;
  std::uint_least32_t column_ = 0;
};
#endif

}  // namespace sandpool

#pragma GCC visibility pop
