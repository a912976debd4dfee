// Writing the Prometheus text format: one family at a time, a sample per
// pool, label values escaped, durations in seconds.
#include "sandpool/core/prometheus.hpp"

#include <charconv>
#include <cstdint>
#include <functional>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace sandpool {
namespace {

std::string escaped(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

double seconds(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

// Appends text and numbers (Debian's Abseil takes no std::string_view).
void put_one(std::string& out, std::string_view s) { out.append(s); }
template <class N>
  requires std::is_integral_v<N>
void put_one(std::string& out, N n) {
  absl::StrAppend(&out, n);
}
// The shortest text that reads back as the same double: no precision lost
// in a large _sum.
void put_one(std::string& out, double d) {
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}
template <class... Parts>
void put(std::string& out, const Parts&... parts) {
  (put_one(out, parts), ...);
}

class writer {
 public:
  explicit writer(std::span<const named_metrics> pools) : pools_(pools) {}

  template <class Value>
  void scalar(std::string_view name, std::string_view type, std::string_view help,
              Value (*read)(const metrics&)) {
    header(name, type, help);
    for (const named_metrics& p : pools_)
      put(out_, name, "{pool=\"", escaped(p.pool), "\"} ", read(p.metrics), "\n");
  }

  void discards() {
    static constexpr std::string_view name = "sandpool_connections_discarded_total";
    header(name, "counter", "Connections closed, by reason.");
    for (const named_metrics& p : pools_) {
      for (std::size_t r = 0; r < discard_reason_count; ++r) {
        put(out_, name, "{pool=\"", escaped(p.pool), "\",reason=\"",
                        to_string(static_cast<discard_reason>(r)), "\"} ",
                        p.metrics.discarded_by[r], "\n");
      }
    }
  }

  void histogram(std::string_view name, std::string_view help,
                 const duration_histogram metrics::*which) {
    header(name, "histogram", help);
    for (const named_metrics& p : pools_) {
      const duration_histogram& h = p.metrics.*which;
      const std::string pool = escaped(p.pool);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < duration_histogram::bounds_ns.size(); ++i) {
        cumulative += h.counts[i];
        put(out_, name, "_bucket{pool=\"", pool, "\",le=\"",
                        seconds(duration_histogram::bounds_ns[i]), "\"} ", cumulative, "\n");
      }
      put(out_, name, "_bucket{pool=\"", pool, "\",le=\"+Inf\"} ", h.count, "\n");
      put(out_, name, "_sum{pool=\"", pool, "\"} ", seconds(h.sum.count()), "\n");
      put(out_, name, "_count{pool=\"", pool, "\"} ", h.count, "\n");
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    put(out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }

  std::span<const named_metrics> pools_;
  std::string out_;
};

}  // namespace

std::string prometheus_text(std::span<const named_metrics> pools) {
  writer w(pools);
  using m = const metrics&;
  w.scalar<std::size_t>("sandpool_connections_open", "gauge",
                        "Open connections (idle, in use or being reset).",
                        [](m x) { return x.size; });
  w.scalar<std::size_t>("sandpool_connections_idle", "gauge", "Connections ready for checkout.",
                        [](m x) { return x.idle; });
  w.scalar<std::size_t>("sandpool_connections_in_use", "gauge", "Connections leased to callers.",
                        [](m x) { return x.in_use; });
  w.scalar<std::size_t>("sandpool_connections_connecting", "gauge",
                        "Connections being opened.", [](m x) { return x.connecting; });
  w.scalar<std::size_t>("sandpool_connections_max", "gauge",
                        "The pool's limit on open connections (max_size).",
                        [](m x) { return x.max_size; });
  w.scalar<std::size_t>("sandpool_connections_in_use_peak", "gauge",
                        "The most connections in use at once since the pool started.",
                        [](m x) { return x.max_in_use; });
  w.scalar<std::size_t>("sandpool_checkouts_waiting", "gauge",
                        "Callers queued for a connection.", [](m x) { return x.waiting; });
  w.scalar<std::uint64_t>("sandpool_checkouts_total", "counter", "Successful checkouts.",
                          [](m x) { return x.checkouts; });
  w.scalar<std::uint64_t>("sandpool_checkouts_kept_total", "counter",
                          "Successful checkouts served from the calling thread's kept "
                          "connection without the pool's lock; their holds are not timed.",
                          [](m x) { return x.kept_checkouts; });
  w.scalar<std::uint64_t>("sandpool_checkout_timeouts_total", "counter",
                          "Checkouts that waited out checkout_timeout.",
                          [](m x) { return x.timeouts; });
  w.scalar<std::uint64_t>("sandpool_checkouts_shed_total", "counter",
                          "Checkouts failed by overload control.", [](m x) { return x.drops; });
  w.scalar<std::uint64_t>("sandpool_checkouts_refused_total", "counter",
                          "Checkouts failed at once because connecting fails in a way no wait "
                          "fixes (wrong password, no such database).",
                          [](m x) { return x.refused; });
  w.scalar<std::uint64_t>("sandpool_connects_total", "counter", "Connections opened.",
                          [](m x) { return x.connects; });
  w.scalar<std::uint64_t>("sandpool_connect_failures_total", "counter",
                          "Failed attempts to open a connection.",
                          [](m x) { return x.connect_failures; });
  w.discards();
  w.scalar<std::uint64_t>("sandpool_resets_total", "counter",
                          "Connections returned inside a transaction, rolled back and reused.",
                          [](m x) { return x.resets; });
  w.scalar<std::uint64_t>("sandpool_validation_failures_total", "counter",
                          "Idle connections found dead before a checkout.",
                          [](m x) { return x.validation_failures; });
  w.histogram("sandpool_checkout_wait_seconds",
              "Time a successful checkout waited for a connection.", &metrics::wait_time);
  w.histogram("sandpool_hold_seconds", "Time from checkout to return, per lease.",
              &metrics::hold_time);
  w.histogram("sandpool_connect_seconds", "Time to open a connection, successful or not.",
              &metrics::connect_time);
  return w.take();
}

}  // namespace sandpool
