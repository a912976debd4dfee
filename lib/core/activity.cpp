// Activity export: the process-wide test label and the per-pool recorder
// that writes one file per pool (format in sandpool/core/activity.hpp).
#include "sandpool/core/activity.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "sandpool/core/detail/activity_recorder.hpp"

namespace sandpool {
namespace {

// Labels are interned: slots keep a 32-bit id, the file gets the text.
// Append-only, so an id stays valid for the life of the process.
struct label_table {
  std::mutex lock;  // guards texts
  std::deque<std::string> texts{"-"};  // id 0: outside any test
  std::atomic<std::uint32_t> current{0};
};

label_table& labels() {
  static label_table* t = new label_table;  // outlives pools destroyed at exit
  return *t;
}

std::string label_text(std::uint32_t id) {
  label_table& t = labels();
  std::lock_guard lk(t.lock);
  return id < t.texts.size() ? t.texts[id] : std::string("-");
}

// Tabs and line breaks would break the file's columns.
std::string one_field(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out.empty() ? std::string("-") : out;
}

// File names keep the pool's name readable but safe.
std::string file_part(std::string_view s) {
  std::string out;
  for (char c : s) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_';
    out += keep ? c : '_';
  }
  return out.empty() ? std::string("pool") : out.substr(0, 64);
}

// Recorders alive now, so that pools never destroyed (a test pool made with
// `new` and left for the process to reclaim) still write their file at exit.
struct live_recorders {
  std::mutex lock;  // guards all
  std::set<detail::activity_recorder*> all;
};

live_recorders& live() {
  static live_recorders* l = new live_recorders;
  return *l;
}

void write_live_at_exit() {
  live_recorders& l = live();
  std::lock_guard lk(l.lock);
  for (detail::activity_recorder* r : l.all) r->write_once();
  l.all.clear();
}

}  // namespace

void set_activity_label(std::string_view label) {
  label_table& t = labels();
  if (label.empty()) {
    t.current.store(0, std::memory_order_relaxed);
    return;
  }
  std::string text = one_field(label);
  std::lock_guard lk(t.lock);
  for (std::size_t i = t.texts.size(); i-- > 1;) {  // recent labels come back most
    if (t.texts[i] == text) {
      t.current.store(static_cast<std::uint32_t>(i), std::memory_order_relaxed);
      return;
    }
  }
  t.texts.push_back(std::move(text));
  t.current.store(static_cast<std::uint32_t>(t.texts.size() - 1), std::memory_order_relaxed);
}

}  // namespace sandpool

namespace sandpool::detail {

std::unique_ptr<activity_recorder> activity_recorder::from_environment(std::string_view pool,
                                                                       std::size_t max_size) {
  const char* dir = std::getenv(activity_export_env);
  if (dir == nullptr || *dir == '\0') return nullptr;
  std::unique_ptr<activity_recorder> r(new activity_recorder(dir, pool, max_size));
  static const bool registered = std::atexit(write_live_at_exit) == 0;
  if (registered) {
    live_recorders& l = live();
    std::lock_guard lk(l.lock);
    l.all.insert(r.get());
  }
  return r;
}

activity_recorder::activity_recorder(std::string dir, std::string_view pool, std::size_t max_size)
    : dir_(std::move(dir)), pool_(pool), max_size_(max_size) {}

activity_recorder::~activity_recorder() {
  {
    live_recorders& l = live();
    std::lock_guard lk(l.lock);
    l.all.erase(this);
  }
  write_once();
}

void activity_recorder::write_once() noexcept {
  {
    std::lock_guard lk(lock_);
    if (written_) return;
  }
  if (absl::Status s = write(); !s.ok())
    std::fprintf(stderr, "sandpool: %.*s\n", static_cast<int>(s.message().size()),
                 s.message().data());
}

std::int64_t activity_recorder::now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::uint32_t activity_recorder::current_label() noexcept {
  return labels().current.load(std::memory_order_relaxed);
}

void activity_recorder::returned(const activity_stamp& stamp, std::int64_t released_ns) {
  std::lock_guard lk(lock_);
  records_.push_back({stamp, released_ns, outcome::ok});
}

void activity_recorder::failed(const activity_stamp& stamp, std::int64_t failed_ns,
                               const absl::Status& why) {
  outcome what = outcome::failed;
  if (why.code() == absl::StatusCode::kDeadlineExceeded) what = outcome::timeout;
  if (why.code() == absl::StatusCode::kResourceExhausted) what = outcome::dropped;
  activity_stamp s = stamp;
  s.granted_ns = failed_ns;
  std::lock_guard lk(lock_);
  records_.push_back({s, failed_ns, what});
}

absl::Status activity_recorder::write(std::string* path) {
  static std::atomic<unsigned> files{0};
  std::lock_guard lk(lock_);
  written_ = true;
  const std::string name = absl::StrCat(dir_, "/", file_part(pool_), ".", ::getpid(), ".",
                                        files.fetch_add(1), ".tsv");
  const auto failure = [&](const char* step) {
    return absl::UnavailableError(absl::StrCat(
        "pool '", pool_, "': could not ", step, " the activity file ", name, " (",
        std::strerror(errno), ") for ", activity_export_env, "=", dir_,
        "; create that directory and make it writable, or unset the variable"));
  };
  // O_EXCL: never overwrite another pool's file.
  const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return failure("create");
  std::FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    return failure("open");
  }
  static constexpr const char* outcomes[] = {"ok", "timeout", "dropped", "failed"};
  std::fprintf(f, "# sandpool activity v1\n# pool\t%s\n# max_size\t%zu\n# pid\t%d\n",
               one_field(pool_).c_str(), max_size_, static_cast<int>(::getpid()));
  std::fprintf(f, "test\trequested_ns\tgranted_ns\treleased_ns\toutcome\n");
  std::uint32_t last_id = 0;
  std::string last = label_text(0);
  for (const record& r : records_) {
    if (r.stamp.label != last_id) {
      last_id = r.stamp.label;
      last = label_text(last_id);
    }
    std::fprintf(f, "%s\t%lld\t%lld\t%lld\t%s\n", last.c_str(),
                 static_cast<long long>(r.stamp.requested_ns),
                 static_cast<long long>(r.stamp.granted_ns),
                 static_cast<long long>(r.released_ns),
                 outcomes[static_cast<int>(r.what)]);
  }
  const bool bad = std::ferror(f) != 0;
  if (std::fclose(f) != 0 || bad) return failure("write");
  if (path != nullptr) *path = name;
  return absl::OkStatus();
}

}  // namespace sandpool::detail
