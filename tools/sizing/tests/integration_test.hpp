// Running sandpool-size (or any program) from a test: the program's exit
// status, stdout and stderr, with chosen environment variables set or
// removed. The tool's path comes from SANDPOOL_SIZE_TOOL, which meson sets
// for this test; without it the test fails, saying so.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace sandpool::test {

struct program_run {
  int status = -1;  // exit status; 128 + signal if killed
  std::string out, err;
};

// Variables to set (a value) or remove (nullopt) for the child.
using env_changes = std::map<std::string, std::optional<std::string>>;

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh directory under the temporary directory, removed with the object.
struct scratch_dir {
  scratch_dir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "sandpool-size-it-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::filesystem::path path;
};

inline program_run run_program(const std::vector<std::string>& argv,
                               const env_changes& changes = {}) {
  scratch_dir io;
  const std::string out = io.file("stdout"), err = io.file("stderr");
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (!changes.contains(entry.substr(0, entry.find('=')))) env_text.push_back(entry);
  }
  for (const auto& [name, value] : changes)
    if (value) env_text.push_back(name + "=" + *value);
  std::vector<char*> envp, args;
  for (std::string& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&files, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, args[0], &files, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  REQUIRE_MESSAGE(spawned == 0, "cannot start " << argv[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  program_run r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The sandpool-size executable under test.
inline std::string size_tool() {
  const char* p = std::getenv("SANDPOOL_SIZE_TOOL");
  REQUIRE_MESSAGE(p != nullptr,
                  "SANDPOOL_SIZE_TOOL is not set; run this test through meson (`meson test -C "
                  "build size_tool`), which points it at tools/sizing/sandpool-size");
  return p;
}

inline program_run run_tool(std::vector<std::string> args, const env_changes& changes = {}) {
  args.insert(args.begin(), size_tool());
  program_run r = run_program(args, changes);
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  return r;
}

// The lines of text, without their newlines.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

inline std::size_t occurrences(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace sandpool::test
