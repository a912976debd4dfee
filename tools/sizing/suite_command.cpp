// `sandpool-size suite` (see suite_command.hpp).
#include "suite_command.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "activity_file.hpp"
#include "sandpool/core/activity.hpp"
#include "suite_report.hpp"
#include "suite_usage.hpp"

extern char** environ;

namespace sandpool::sizing {
namespace {

namespace fs = std::filesystem;

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "sandpool-size suite: %s\n", message.c_str());
  return code;
}

// The export directory: --dir (created if missing, refused if it holds
// files of an earlier run), or a fresh temporary one.
absl::StatusOr<std::string> export_dir(const std::string& requested) {
  if (requested.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                       "/sandpool-size-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return absl::UnavailableError("cannot create a temporary directory " + tmpl + ": " +
                                    std::strerror(errno) + "; set TMPDIR or pass --dir");
    }
    return tmpl;
  }
  std::error_code ec;
  fs::create_directories(requested, ec);
  if (ec || !fs::is_directory(requested)) {
    return absl::InvalidArgumentError("--dir: cannot use " + requested + " as the export " +
                                      "directory" + (ec ? ": " + ec.message() : std::string()) +
                                      "; give a writable directory");
  }
  if (const auto old = activity_files_in(requested); !old.empty()) {
    return absl::InvalidArgumentError(
        "--dir: " + requested + " already holds " + std::to_string(old.size()) +
        " activity file(s) from an earlier run (e.g. " + fs::path(old[0]).filename().string() +
        "), which would be counted again; empty it or pick another directory");
  }
  return fs::absolute(requested).string();
}

// Runs argv with the export variable set; returns its exit status (128 +
// signal if killed). Errors: it could not be started.
absl::StatusOr<int> run_child(const std::vector<std::string>& argv, const std::string& dir) {
  ::setenv(activity_export_env, dir.c_str(), 1);
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  // While the command runs, Ctrl-C is for it: the tool ignores SIGINT and
  // SIGQUIT (as system() does) and the child gets the default actions back.
  struct sigaction ignore {}, old_int {}, old_quit {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGINT, &ignore, &old_int);
  ::sigaction(SIGQUIT, &ignore, &old_quit);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGQUIT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, cargv[0], nullptr, &attr, cargv.data(), environ);
  posix_spawnattr_destroy(&attr);
  int status = 0;
  if (err == 0) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  if (err != 0) {
    return absl::InvalidArgumentError("cannot run '" + argv[0] + "': " + std::strerror(err) +
                                      "; check the command after -- (is it on PATH, or give "
                                      "its path)");
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

int run_suite(const suite_args& args) {
  auto dir = export_dir(args.dir);
  if (!dir.ok()) {
    return fail(dir.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1,
                std::string(dir.status().message()));
  }
  const bool kept = !args.dir.empty();
  struct remover {
    std::string path;
    bool keep;
    ~remover() {
      std::error_code ec;
      if (!keep) fs::remove_all(path, ec);
    }
  } cleanup{*dir, kept};

  auto code = run_child(args.command, *dir);
  if (!code.ok()) return fail(2, std::string(code.status().message()));

  suite_run run;
  run.command = shell_words(args.command);
  run.exit_code = *code;
  run.dir = *dir;
  run.dir_kept = kept;
  const int command_status = *code;

  auto found = read_activity_dir(*dir);
  if (!found.ok()) {
    fail(1, std::string(found.status().message()));
    return command_status != 0 ? command_status : 1;
  }
  if (found->files.empty()) {
    for (const std::string& p : found->problems) fail(1, "left out: " + p);
    fail(1, no_activity_message(run));
    return command_status != 0 ? command_status : 1;
  }
  const std::string report =
      suite_report_text(aggregate(found->files), run, found->problems, args.format);
  std::fputs(report.c_str(), stdout);
  std::fflush(stdout);
  return command_status;
}

}  // namespace sandpool::sizing
