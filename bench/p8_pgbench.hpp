// pgbench as a P8 subject: one run of `pgbench -n -f SCRIPT -c N -j N -T S`
// against a connection string (the server's, or the gateway's with the
// owner's token), and the two figures P8 reads from its report: "latency
// average = X ms" and "tps = X (without initial connection time)". A run
// that fails, or prints neither line, is an error carrying pgbench's last
// words. Runs from any thread; each call forks one child.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace sandpool::bench {

struct pgbench_figures {
  double latency_ms = 0;  // pgbench's "latency average"
  double tps = 0;         // transactions per second, connection time excluded
};

// The number after `key` on the line that starts with it, or a negative value.
inline double pgbench_figure(std::string_view out, std::string_view key) {
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t end = std::min(out.find('\n', at), out.size());
    const std::string_view line = out.substr(at, end - at);
    if (line.substr(0, key.size()) == key)
      return std::strtod(std::string(line.substr(key.size())).c_str(), nullptr);
    at = end + 1;
  }
  return -1;
}

// Runs argv (argv[0] a path) with stdout and stderr captured; returns the
// output, or an error with its end if the command failed or did not start.
inline absl::StatusOr<std::string> run_captured(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe(fds) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (child == 0) {  // only async-signal-safe calls until exec
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  const std::string tail = out.size() > 600 ? out.substr(out.size() - 600) : out;
  return absl::InternalError(absl::StrCat(
      argv[0], " failed (", WIFEXITED(status) ? "exit status " : "signal ",
      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
      WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ", could not be run" : "", "): ", tail));
}

inline absl::StatusOr<pgbench_figures> run_pgbench(const std::string& pgbench,
                                                   const std::string& script, int clients,
                                                   int seconds, const std::string& conninfo) {
  const std::string n = std::to_string(clients);
  absl::StatusOr<std::string> out = run_captured(
      {pgbench, "-n", "-f", script, "-c", n, "-j", n, "-T", std::to_string(seconds), conninfo});
  if (!out.ok()) return out.status();
  pgbench_figures f;
  f.latency_ms = pgbench_figure(*out, "latency average = ");
  f.tps = pgbench_figure(*out, "tps = ");
  if (f.latency_ms <= 0 || f.tps <= 0)
    return absl::InternalError(
        absl::StrCat("pgbench printed no \"latency average\" or \"tps\" line: ", *out));
  return f;
}

}  // namespace sandpool::bench
