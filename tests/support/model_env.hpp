// Settings the model-based tests read from the environment: a seed to
// replay and how many sequences to run.
#pragma once

#include <cstdint>
#include <cstdlib>

namespace sandpool::test {

// The number in environment variable `name` (decimal, or 0x hex), or
// `fallback` if it is unset or empty.
inline std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  return std::strtoull(text, nullptr, 0);
}

}  // namespace sandpool::test
