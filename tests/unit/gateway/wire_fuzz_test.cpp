// The gateway's protocol reader on untrusted bytes: random and mutated
// startup packets and messages (100,000 cases; SANDPOOL_FUZZ_CASES for more,
// SANDPOOL_FUZZ_SEED to replay) give a message or an error, never a crash or
// a read past the buffer (run under ASan+UBSan in CI), and well-formed
// messages read back what was written.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "sandpool/gateway/wire.hpp"

namespace sandpool::wire {
namespace {

std::size_t env_or(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

// Well-formed frontend messages, written with the backend writer's framing.
std::vector<std::string> seeds() {
  std::vector<std::string> out;
  auto add = [&](auto&& build) {
    std::string s;
    writer w(s);
    build(w);
    out.push_back(s);
  };
  add([](writer& w) { w.begin('Q').cstring("SELECT 1; SELECT 2").end(); });
  add([](writer& w) { w.begin('P').cstring("s1").cstring("SELECT $1").int16(1).int32(23).end(); });
  add([](writer& w) {
    w.begin('B').cstring("").cstring("s1").int16(1).int16(1).int16(2).int32(4).bytes("abcd")
        .int32(-1).int16(1).int16(1).end();
  });
  add([](writer& w) { w.begin('D').bytes("P").cstring("").end(); });
  add([](writer& w) { w.begin('E').cstring("").int32(10).end(); });
  add([](writer& w) { w.begin('C').bytes("S").cstring("s1").end(); });
  add([](writer& w) { w.begin('S').end(); });
  add([](writer& w) { w.begin('X').end(); });
  add([](writer& w) { w.begin('f').cstring("no").end(); });
  return out;
}

TEST_CASE("well-formed messages read back what was written") {
  const auto s = seeds();
  auto b = parse_message(s[2]);
  REQUIRE(b.ok());
  const auto& bind_msg = std::get<bind>(*b);
  CHECK(bind_msg.statement == "s1");
  REQUIRE(bind_msg.values.size() == 2);
  CHECK(*bind_msg.values[0] == "abcd");
  CHECK_FALSE(bind_msg.values[1].has_value());
  CHECK(bind_msg.result_formats == std::vector<std::int16_t>{1});
  auto p = parse_message(s[1]);
  REQUIRE(p.ok());
  CHECK(std::get<parse>(*p).param_types == std::vector<std::uint32_t>{23});
  auto n = message_length(s[0], 1 << 20);
  REQUIRE(n.ok());
  CHECK(*n == s[0].size());
  CHECK_FALSE(message_length(std::string("Q\0\0\0\2", 5), 1 << 20).ok());
  CHECK(message_length(std::string("Q\x7f\0\0\0", 5), 1 << 20).status().code() ==
        absl::StatusCode::kResourceExhausted);
  std::string startup("\0\0\0\0\0\3\0\0user\0u\0\0", 16);
  auto st = parse_startup(std::string_view(startup).substr(4));
  REQUIRE(st.ok());
  CHECK(std::get<startup_message>(*st).get("user") == "u");
  CHECK_FALSE(parse_startup(std::string_view("\0\3\0\0user\0", 10)).ok());
  CHECK_FALSE(parse_message(std::string("Z\0\0\0\4", 5)).ok());
}

TEST_CASE("random and mutated bytes give a message or an error") {
  const std::size_t cases = env_or("SANDPOOL_FUZZ_CASES", 100000);
  const std::uint64_t seed = env_or("SANDPOOL_FUZZ_SEED", std::random_device{}());
  INFO("SANDPOOL_FUZZ_SEED=" << seed);
  std::mt19937_64 rng(seed);
  const auto base = seeds();
  std::size_t parsed = 0;
  for (std::size_t i = 0; i < cases; ++i) {
    std::string s;
    if (i % 3 == 0) {
      s.resize(rng() % 64);
      for (char& c : s) c = static_cast<char>(rng());
    } else {
      s = base[rng() % base.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !s.empty(); ++e) {
        const std::size_t at = rng() % s.size();
        switch (rng() % 3) {
          case 0: s[at] = static_cast<char>(rng()); break;
          case 1: s.erase(at, 1 + rng() % 4); break;
          default: s.insert(at, 1, static_cast<char>(rng())); break;
        }
      }
    }
    // Framing first, as the session reads: a whole message only.
    auto n = message_length(s, 1 << 16);
    if (n.ok() && *n != 0 && *n <= s.size()) parsed += parse_message(s.substr(0, *n)).ok();
    (void)parse_message(s);
    (void)startup_length(s, 10000);
    if (s.size() >= 4) (void)parse_startup(std::string_view(s).substr(4));
  }
  MESSAGE(cases << " cases, " << parsed << " read as messages");
  CHECK(parsed > 0);
}

}  // namespace
}  // namespace sandpool::wire
