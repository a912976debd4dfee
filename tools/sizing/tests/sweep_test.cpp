// sandpool-size's sweeps: --sizes lists and ranges, the impossible ones
// refused with a reason, the default doubling sweep, and the sizes the
// rules of thumb add.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "rules_of_thumb.hpp"
#include "sweep.hpp"

namespace sandpool::sizing {
namespace {

using sizes = std::vector<std::size_t>;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string error(std::string_view text) {
  auto r = parse_sizes(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST_CASE("lists, ranges and stepped ranges, sorted and without repeats") {
  CHECK(*parse_sizes("1,2,4,8") == sizes{1, 2, 4, 8});
  CHECK(*parse_sizes("8,4,4,1") == sizes{1, 4, 8});
  CHECK(*parse_sizes("1-5") == sizes{1, 2, 3, 4, 5});
  CHECK(*parse_sizes("1-16:4") == sizes{1, 5, 9, 13});
  CHECK(*parse_sizes("2-2") == sizes{2});
  CHECK(*parse_sizes("1-3, 10") == sizes{1, 2, 3, 10});
  CHECK(*parse_sizes("10000") == sizes{10000});
}

TEST_CASE("impossible sweeps are refused, naming the item and the fix") {
  const std::string zero = error("0,1");
  CHECK(contains(zero, "item '0'"));
  CHECK(contains(zero, "a pool needs at least 1"));
  CHECK(contains(error("0-4"), "a pool needs at least 1"));

  const std::string down = error("16-1");
  CHECK(contains(down, "item '16-1' runs downward"));
  CHECK(contains(down, "(1-16)"));

  CHECK(contains(error("1-16:0"), "a step of 0"));
  CHECK(contains(error("1-16:x"), "step that is not a whole number"));
  CHECK(contains(error("10001"), "more than 10000 connections"));
  CHECK(contains(error("1-20000"), "more than 10000 connections"));
  CHECK(contains(error("abc"), "item 'abc' is not a size"));
  CHECK(contains(error("-3"), "is not a size"));
  CHECK(contains(error("1,,2"), "an empty item"));
  CHECK(contains(error(""), "an empty item"));
  CHECK(contains(error("abc"), "write sizes like 1,2,4,8 or ranges like 1-16 or 1-16:2"));
}

TEST_CASE("the default sweep doubles up to twice the concurrency and includes it") {
  CHECK(default_sizes(8) == sizes{1, 2, 4, 8, 16});
  CHECK(default_sizes(6) == sizes{1, 2, 4, 6, 8, 12});
  CHECK(default_sizes(1) == sizes{1, 2});
  CHECK(default_sizes(0) == sizes{1, 2});
  CHECK(default_sizes(3) == sizes{1, 2, 3, 4, 6});
  CHECK(default_sizes(8000).back() == max_pool_size);
}

TEST_CASE("rule-of-thumb sizes join the sweep up to the cap") {
  CHECK(with_sizes({1, 2, 4}, {12, 5}, 64) == sizes{1, 2, 4, 5, 12});
  CHECK(with_sizes({1, 2, 4}, {4, 100}, 64) == sizes{1, 2, 4});
  CHECK(auto_add_cap({1, 2, 4}, 0) == 64);
  CHECK(auto_add_cap({1, 100}, 0) == 200);
  CHECK(auto_add_cap({1, 100}, 150) == 150);
  CHECK(auto_add_cap({1, 2}, 10) == 10);
}

TEST_CASE("the rules of thumb: concurrency x repos per test x 1.5, and 2 x cores + spindles") {
  const rule_of_thumb seed = seed_rule(8, 1);
  CHECK(seed.size == 12);
  CHECK(seed.formula == "8 concurrent tests x 1 repo per test x 1.5 = 12");
  CHECK(seed_rule(3, 1).size == 5);  // 4.5 rounded up
  CHECK(seed_rule(4, 3).size == 18);
  CHECK(seed_rule(1, 1).formula == "1 concurrent test x 1 repo per test x 1.5 = 2");
  const rule_of_thumb cores = cores_rule(4, 1);
  CHECK(cores.size == 9);
  CHECK(cores.formula == "2 x 4 cores + 1 spindle = 9");
  CHECK(cores_rule(0, 0).size == 2);  // unknown core count counts as 1
  CHECK(cores_rule(1, 2).formula == "2 x 1 core + 2 spindles = 4");
}

}  // namespace
}  // namespace sandpool::sizing
