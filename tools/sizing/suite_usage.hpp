// What a test suite asked of its pools, from their activity files: per pool
// name, per test, and per pool instance (one file: one pool in one process).
// It owns two definitions the report rests on:
//  - high-water mark: the most checkouts holding a connection at once, that
//    is, the most overlapping [granted, released) intervals of ok checkouts;
//  - peak concurrent demand: the most overlapping [requested, released)
//    intervals of all checkouts (failed ones until they gave up). A pool at
//    least that large would have granted every checkout at once, so it is
//    the size that would have avoided waiting.
// Intervals are half-open: one that ends when another starts does not
// overlap it. Across instances of one name (processes of a parallel test
// run, or pools made one after another) the same counts over all their
// intervals give the connections the server saw at once. Pure, thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "activity_file.hpp"

namespace sandpool::sizing {

struct test_usage {
  std::string test;  // the label; "-" outside any test
  std::uint64_t checkouts = 0;  // all outcomes
  std::uint64_t failed = 0;     // timeout, dropped or failed
  std::chrono::nanoseconds wait_total{}, wait_max{};  // requested -> granted (or gave up)
  std::chrono::nanoseconds hold_total{}, hold_max{};  // granted -> released, ok only
};

struct instance_usage {
  std::string path;
  std::int64_t pid = 0;
  std::size_t max_size = 0;
  std::uint64_t checkouts = 0;
  std::uint64_t timeouts = 0, dropped = 0, failed = 0;
  std::size_t high_water = 0;
  std::size_t peak_demand = 0;
};

struct pool_usage {
  std::string pool;
  std::vector<instance_usage> instances;  // in file-name order
  std::vector<test_usage> tests;          // most total wait first, then by label
  std::size_t processes = 0;              // distinct pids
  std::size_t max_size = 0;               // the largest of the instances
  std::size_t instance_high_water = 0;    // the largest of the instances'
  std::size_t instance_peak_demand = 0;   // the largest of the instances': the size to use
  std::size_t combined_high_water = 0;    // over all instances at once
  std::size_t combined_peak_demand = 0;   // over all instances at once: server connections
  std::uint64_t checkouts = 0;
  std::uint64_t failed = 0;               // timeouts + dropped + failed
};

struct suite_usage {
  std::vector<pool_usage> pools;     // by name
  std::size_t files = 0;
  std::size_t processes = 0;         // distinct pids over all files
  std::size_t combined_peak_demand = 0;  // every pool's demand at once
  std::size_t combined_high_water = 0;
};

[[nodiscard]] suite_usage aggregate(const std::vector<activity_file>& files);

// The most intervals [begin, end) that overlap at one instant; empty
// intervals (end <= begin) never count.
struct interval {
  std::int64_t begin = 0, end = 0;
};
[[nodiscard]] std::size_t peak_overlap(std::vector<interval> intervals);

}  // namespace sandpool::sizing
