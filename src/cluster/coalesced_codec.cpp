#include "coalesced_codec.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "msgpack_io.hpp"

namespace capsule::cluster {
namespace {

using msgpack::Reader;
using msgpack::Writer;

// The first bytes of every envelope: a map of three entries, "k" = 6.
constexpr std::uint8_t kHead[] = {0x83, 0xa1, 'k', 0x06};

Error malformed(const std::string& what) {
  return Error{ErrorCode::kInvalidArgument, "malformed cluster coalesced envelope: " + what};
}

}  // namespace

std::vector<std::uint8_t> encode_coalesced(const WireMessage& envelope) {
  std::size_t size = 64 + envelope.origin_host.size();
  for (const auto& e : envelope.entries) size += e.payload.bytes.size() + 64;
  Writer w(size);
  for (const std::uint8_t b : kHead) w.byte(b);
  w.str("o");
  w.str(envelope.origin_host);
  w.str("n");
  w.array(envelope.entries.size());
  for (const auto& e : envelope.entries) {
    w.array(5);
    w.uint(static_cast<std::uint64_t>(WireMessage::Kind::kSend));
    w.id(e.sender);
    w.id(e.target);
    w.uint(e.payload.codec);
    w.bin(e.payload.bytes);
  }
  return w.take();
}

bool looks_coalesced(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= sizeof kHead &&
         std::equal(std::begin(kHead), std::end(kHead), bytes.begin());
}

Result<WireMessage> decode_coalesced(std::span<const std::uint8_t> bytes) {
  static constexpr std::uint8_t kOrigin[] = {0xa1, 'o'};
  static constexpr std::uint8_t kEntries[] = {0xa1, 'n'};
  Reader r(bytes);
  WireMessage m;
  m.kind = WireMessage::Kind::kCoalesced;
  r.expect(kHead);
  r.expect(kOrigin);
  auto origin = r.str();
  r.expect(kEntries);
  const auto n = r.array();
  if (!r.ok() || !origin) return malformed("header");
  if (*n == 0 || *n > kMaxCoalesced) return malformed(std::to_string(*n) + " sends");
  m.origin_host = std::move(*origin);
  m.entries.resize(*n);
  for (auto& e : m.entries) {
    // Sends only: anything else in an envelope is refused whole, never guessed at.
    if (r.array() != std::size_t{5} ||
        r.uint() != static_cast<std::uint64_t>(WireMessage::Kind::kSend)) {
      return malformed("an entry that is not a send");
    }
    e.kind = WireMessage::Kind::kSend;
    e.origin_host = m.origin_host;
    r.id(e.sender);
    r.id(e.target);
    const auto codec = r.uint();
    r.bin(e.payload.bytes);
    if (!r.ok() || !codec || *codec > 0xffffffffULL) return malformed("a send");
    e.payload.codec = static_cast<std::uint32_t>(*codec);
  }
  if (!r.at_end()) return malformed("bytes after the last send");
  return m;
}

}  // namespace capsule::cluster
