#pragma once
// MessagePack written and read directly, without a document tree: the forms the cluster's
// envelopes use (unsigned integers, strings, binary, arrays, maps), in the smallest encoding of
// each, which is what any MessagePack writer (nlohmann's included) produces.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/core/component_id.hpp>

namespace capsule::cluster::msgpack {

class Writer {
 public:
  explicit Writer(std::size_t reserve) { out_.reserve(reserve); }
  void uint(std::uint64_t v) {
    if (v < 0x80) {
      byte(static_cast<std::uint8_t>(v));
    } else if (v <= 0xff) {
      byte(0xcc);
      big_endian(v, 1);
    } else if (v <= 0xffff) {
      byte(0xcd);
      big_endian(v, 2);
    } else if (v <= 0xffffffffULL) {
      byte(0xce);
      big_endian(v, 4);
    } else {
      byte(0xcf);
      big_endian(v, 8);
    }
  }
  void str(std::string_view s) {
    if (s.size() < 32) {
      byte(static_cast<std::uint8_t>(0xa0 | s.size()));
    } else {
      header(s.size(), 0xd9, 0xda, 0xdb);
    }
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void bin(std::span<const std::uint8_t> b) {
    header(b.size(), 0xc4, 0xc5, 0xc6);
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void array(std::size_t n) {
    if (n < 16) {
      byte(static_cast<std::uint8_t>(0x90 | n));
    } else if (n <= 0xffff) {
      byte(0xdc);
      big_endian(n, 2);
    } else {
      byte(0xdd);
      big_endian(n, 4);
    }
  }
  void map(std::size_t n) {
    if (n < 16) {
      byte(static_cast<std::uint8_t>(0x80 | n));
    } else if (n <= 0xffff) {
      byte(0xde);
      big_endian(n, 2);
    } else {
      byte(0xdf);
      big_endian(n, 4);
    }
  }
  void id(const ComponentId& id) {
    array(3);
    str(id.ns);
    str(id.name);
    str(id.instance);
  }
  void byte(std::uint8_t b) { out_.push_back(b); }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  // 8-, 16- or 32-bit length after its marker (sizes here are far below 4 GiB: max_payload).
  void header(std::size_t n, std::uint8_t m8, std::uint8_t m16, std::uint8_t m32) {
    if (n <= 0xff) {
      byte(m8);
      big_endian(n, 1);
    } else if (n <= 0xffff) {
      byte(m16);
      big_endian(n, 2);
    } else {
      byte(m32);
      big_endian(n, 4);
    }
  }
  void big_endian(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) byte(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t> out_;
};

// Every read checks the bytes left; the first failure sticks (ok() false from then on).
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : in_(bytes) {}
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }

  bool expect(std::span<const std::uint8_t> bytes) {
    if (!has(bytes.size()) || !std::ranges::equal(bytes, in_.subspan(pos_, bytes.size()))) {
      return fail();
    }
    pos_ += bytes.size();
    return true;
  }
  std::optional<std::uint64_t> uint() {
    if (!has(1)) return fail_empty<std::uint64_t>();
    const std::uint8_t m = in_[pos_++];
    if (m < 0x80) return m;
    switch (m) {
      case 0xcc:
        return big_endian(1);
      case 0xcd:
        return big_endian(2);
      case 0xce:
        return big_endian(4);
      case 0xcf:
        return big_endian(8);
      default:
        return fail_empty<std::uint64_t>();
    }
  }
  std::optional<std::string> str() {
    if (!has(1)) return fail_empty<std::string>();
    const std::uint8_t m = in_[pos_++];
    std::optional<std::uint64_t> n;
    if ((m & 0xe0) == 0xa0) {
      n = m & 0x1f;
    } else if (m == 0xd9 || m == 0xda || m == 0xdb) {
      n = big_endian(m == 0xd9 ? 1 : m == 0xda ? 2 : 4);
    }
    if (!n || !has(*n)) return fail_empty<std::string>();
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), *n);
    pos_ += *n;
    return s;
  }
  bool bin(std::vector<std::uint8_t>& out) {
    if (!has(1)) return fail();
    const std::uint8_t m = in_[pos_++];
    if (m != 0xc4 && m != 0xc5 && m != 0xc6) return fail();
    const auto n = big_endian(m == 0xc4 ? 1 : m == 0xc5 ? 2 : 4);
    if (!n || !has(*n)) return fail();
    const auto b = in_.subspan(pos_, *n);
    out.assign(b.begin(), b.end());
    pos_ += *n;
    return true;
  }
  std::optional<std::size_t> array() {
    if (!has(1)) return fail_empty<std::size_t>();
    const std::uint8_t m = in_[pos_++];
    if ((m & 0xf0) == 0x90) return m & 0x0f;
    if (m == 0xdc || m == 0xdd) {
      const auto n = big_endian(m == 0xdc ? 2 : 4);
      if (n) return static_cast<std::size_t>(*n);
    }
    return fail_empty<std::size_t>();
  }
  std::optional<std::size_t> map() {
    if (!has(1)) return fail_empty<std::size_t>();
    const std::uint8_t m = in_[pos_++];
    if ((m & 0xf0) == 0x80) return m & 0x0f;
    if (m == 0xde || m == 0xdf) {
      const auto n = big_endian(m == 0xde ? 2 : 4);
      if (n) return static_cast<std::size_t>(*n);
    }
    return fail_empty<std::size_t>();
  }
  bool id(ComponentId& id) {
    if (array() != std::size_t{3}) return fail();
    auto ns = str();
    auto name = str();
    auto instance = str();
    if (!ns || !name || !instance) return fail();
    id = ComponentId{std::move(*ns), std::move(*name), std::move(*instance)};
    return true;
  }

 private:
  [[nodiscard]] bool has(std::uint64_t n) const { return ok_ && in_.size() - pos_ >= n; }
  bool fail() {
    ok_ = false;
    return false;
  }
  template <typename T>
  std::optional<T> fail_empty() {
    ok_ = false;
    return std::nullopt;
  }
  std::optional<std::uint64_t> big_endian(int bytes) {
    if (!has(static_cast<std::uint64_t>(bytes))) return fail_empty<std::uint64_t>();
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | in_[pos_++];
    return v;
  }

  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace capsule::cluster::msgpack
