// Reading and splitting a user's SQL script (see script.hpp).
#include "script.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sandpool/sandbox/statement.hpp"

namespace sandpool::sizing {

absl::StatusOr<std::vector<std::string>> parse_script(std::string_view text,
                                                      std::string_view path) {
  const std::string name(path);
  // pgbench's meta-commands start a line with a backslash; SQL never does.
  std::size_t line_no = 1;
  for (std::size_t at = 0; at <= text.size(); ++line_no) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] == '\\') {
      std::string_view command = line.substr(first);
      command = command.substr(0, command.find_first_of(" \t\r"));
      return absl::InvalidArgumentError(
          "script " + name + " line " + std::to_string(line_no) + ": the pgbench meta-command " +
          std::string(command) +
          " is not supported; write plain SQL statements ending in ';' (e.g. use "
          "floor(random() * 1000) in place of a \\set variable)");
    }
    at = end + 1;
  }
  std::vector<std::string> out;
  for (std::string_view s : split_statements(text)) {
    const std::size_t b = s.find_first_not_of(" \t\r\n");
    const std::size_t e = s.find_last_not_of(" \t\r\n");
    if (b != std::string_view::npos) out.emplace_back(s.substr(b, e - b + 1));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("script " + name +
                                      " holds no SQL statement; write the statements each "
                                      "iteration runs, ending in ';' (e.g. SELECT 1;)");
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> load_script(const std::string& path) {
  auto unreadable = [&](int err) {
    const std::string why = "cannot read script " + path + ": " + std::strerror(err) +
                            "; check the path and that the file is readable";
    if (err == ENOENT) return absl::NotFoundError(why);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(why);
    return absl::FailedPreconditionError(why);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unreadable(errno);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError("script " + path +
                                         " is a directory; give the SQL file itself");
  }
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return unreadable(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parse_script(text, path);
}

}  // namespace sandpool::sizing
