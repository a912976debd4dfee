// A reader for the protocol-buffer wire format, just enough to walk the parse
// trees libpg_query returns (Debian ships libpg_query without protobuf-c's
// headers). It owns one rule: a malformed or truncated buffer never reads
// past its end; it sets ok() to false and every later read returns nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sandpool::sql {

class protobuf_reader {
 public:
  protobuf_reader() = default;
  explicit protobuf_reader(std::string_view bytes)
      : p_(reinterpret_cast<const std::uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool ok() const noexcept { return ok_; }
  bool more() const noexcept { return ok_ && p_ < end_; }

  // The next field's number; its wire type goes to `wire`.
  std::uint32_t field(int& wire) noexcept {
    const std::uint64_t tag = varint();
    wire = static_cast<int>(tag & 7);
    return static_cast<std::uint32_t>(tag >> 3);
  }
  std::uint64_t varint() noexcept {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64 && ok_; shift += 7) {
      if (p_ >= end_) break;
      const std::uint8_t b = *p_++;
      v |= std::uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok_ = false;
    return 0;
  }
  // A length-delimited field: a nested message or a string.
  protobuf_reader nested() noexcept {
    const std::string_view b = bytes();
    protobuf_reader r(b);
    r.ok_ = ok_;
    return r;
  }
  std::string_view bytes() noexcept {
    const std::uint64_t n = varint();
    if (!ok_ || n > static_cast<std::uint64_t>(end_ - p_)) {
      ok_ = false;
      return {};
    }
    const std::string_view out(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(n));
    p_ += n;
    return out;
  }
  void skip(int wire) noexcept {
    switch (wire) {
      case 0: (void)varint(); return;
      case 1: advance(8); return;
      case 2: (void)bytes(); return;
      case 5: advance(4); return;
      default: ok_ = false;
    }
  }

 private:
  void advance(std::size_t n) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < n) {
      ok_ = false;
      return;
    }
    p_ += n;
  }

  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  bool ok_ = true;
};

}  // namespace sandpool::sql
