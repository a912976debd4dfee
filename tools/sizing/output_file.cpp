// Writing report files (see output_file.hpp).
#include "output_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sandpool::sizing {

absl::Status write_file(const std::string& path, std::string_view text, std::string_view what) {
  auto failed = [&](int err) {
    return absl::UnavailableError("could not write the " + std::string(what) + " " + path + ": " +
                                  std::strerror(err) +
                                  "; check that its directory exists and is writable");
  };
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return failed(errno);
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!wrote || !closed) {
    const int err = wrote ? errno : write_errno;
    std::remove(path.c_str());
    return failed(err);
  }
  return absl::OkStatus();
}

}  // namespace sandpool::sizing
