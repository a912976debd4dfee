// Activity export (SANDPOOL_METRICS_EXPORT): each pool writes one file of
// its checkouts, labelled with the running test, when it is destroyed.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/fiber/fiber.hpp>

#include "fake_pool.hpp"
#include "sandpool/core/activity.hpp"

namespace sandpool::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A fresh export directory, set in the environment for the scope.
struct export_dir {
  export_dir() {
    std::string tmpl = (fs::temp_directory_path() / "sandpool-activity-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
    ::setenv(activity_export_env, path.c_str(), 1);
  }
  ~export_dir() {
    ::unsetenv(activity_export_env);
    set_activity_label({});
    fs::remove_all(path);
  }
  std::vector<fs::path> files() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path());
    return out;
  }
  fs::path path;
};

std::vector<std::vector<std::string>> rows_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, '\t');) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

TEST_CASE("a pool exports each checkout with its test label, in order, when destroyed") {
  export_dir dir;
  {
    pool_options o = warm_options(1);
    o.name = "orders db";
    fixture f(o);
    f.pool.maintain();
    set_activity_label("orders/places an order");
    { REQUIRE(f.pool.checkout().ok()); }
    set_activity_label("orders/tab\there");
    { REQUIRE(f.pool.checkout().ok()); }
    set_activity_label({});
    { REQUIRE(f.pool.checkout().ok()); }
    CHECK(dir.files().empty());  // written when the pool goes
  }
  const auto files = dir.files();
  REQUIRE(files.size() == 1);
  const std::string name = files[0].filename().string();
  CHECK(name.rfind("orders_db." + std::to_string(::getpid()) + ".", 0) == 0);
  CHECK(files[0].extension() == ".tsv");

  const auto rows = rows_of(files[0]);
  REQUIRE(rows.size() == 8);
  CHECK(rows[0] == std::vector<std::string>{"# sandpool activity v1"});
  CHECK(rows[1] == std::vector<std::string>{"# pool", "orders db"});
  CHECK(rows[2] == std::vector<std::string>{"# max_size", "1"});
  CHECK(rows[3] == std::vector<std::string>{"# pid", std::to_string(::getpid())});
  CHECK(rows[4] == std::vector<std::string>{"test", "requested_ns", "granted_ns", "released_ns",
                                            "outcome"});
  CHECK(rows[5][0] == "orders/places an order");
  CHECK(rows[6][0] == "orders/tab here");
  CHECK(rows[7][0] == "-");
  for (std::size_t i = 5; i < 8; ++i) {
    REQUIRE(rows[i].size() == 5);
    const long long asked = std::stoll(rows[i][1]), granted = std::stoll(rows[i][2]),
                    released = std::stoll(rows[i][3]);
    CHECK(asked > 0);
    CHECK(asked <= granted);
    CHECK(granted <= released);
    CHECK(rows[i][4] == "ok");
    if (i > 5) CHECK(std::stoll(rows[i - 1][3]) <= asked);  // one after another
  }
}

TEST_CASE("a checkout that waits and one that times out are exported as such") {
  export_dir dir;
  {
    pool_options o = warm_options(1);
    o.checkout_timeout = 1s;
    fixture f(o);
    f.pool.maintain();
    auto held = f.pool.checkout();
    REQUIRE(held.ok());
    absl::Status late;
    boost::fibers::fiber caller([&] { late = f.pool.checkout().status(); });
    fixture::settle();
    f.clock.advance(1s);
    f.pool.maintain();
    caller.join();
    CHECK(late.code() == absl::StatusCode::kDeadlineExceeded);
  }
  const auto files = dir.files();
  REQUIRE(files.size() == 1);
  const auto rows = rows_of(files[0]);
  REQUIRE(rows.size() == 7);
  // The timeout is recorded when it happens, the held lease when it returns.
  CHECK(rows[5][4] == "timeout");
  CHECK(rows[5][2] == rows[5][3]);
  CHECK(rows[6][4] == "ok");
}

TEST_CASE("a pool the program never destroys writes its file at exit") {
  export_dir dir;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    pool_options o = warm_options(1);
    auto p = fake_pool::create(fake::driver{}, o);
    if (!p.ok()) std::_Exit(3);
    auto* leaked = new fake_pool(std::move(*p));  // never deleted, as test pools often are
    leaked->maintain();
    { auto l = leaked->checkout(); }
    std::exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const auto files = dir.files();
  REQUIRE(files.size() == 1);
  const auto rows = rows_of(files[0]);
  REQUIRE(rows.size() == 6);
  CHECK(rows[5][4] == "ok");
}

TEST_CASE("without the variable a pool writes nothing") {
  export_dir dir;
  ::unsetenv(activity_export_env);
  {
    pool_options o = warm_options(1);
    fixture f(o);
    f.pool.maintain();
    REQUIRE(f.pool.checkout().ok());
  }
  CHECK(dir.files().empty());
}

TEST_CASE("an export directory that does not exist is reported, naming it and the fix") {
  ::setenv(activity_export_env, "/nonexistent/sandpool-export", 1);
  auto r = detail::activity_recorder::from_environment("p", 2);
  ::unsetenv(activity_export_env);
  REQUIRE(r != nullptr);
  const absl::Status s = r->write();
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  INFO(s.message());
  CHECK(contains(s, "pool 'p': could not create the activity file /nonexistent/sandpool-export/"));
  CHECK(contains(s, "No such file or directory"));
  CHECK(contains(s, "SANDPOOL_METRICS_EXPORT=/nonexistent/sandpool-export"));
  CHECK(contains(s, "create that directory and make it writable, or unset the variable"));
}

}  // namespace
}  // namespace sandpool::test
