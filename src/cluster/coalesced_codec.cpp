#include "coalesced_codec.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

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
    const bool request = e.kind == WireMessage::Kind::kRequest;
    w.array(request ? 8 : 5);
    w.uint(static_cast<std::uint64_t>(request ? WireMessage::Kind::kRequest
                                              : WireMessage::Kind::kSend));
    w.id(e.sender);
    w.id(e.target);
    w.uint(e.payload.codec);
    w.bin(e.payload.bytes);
    if (request) {
      w.uint(e.correlation);
      w.uint(e.timeout_ms);
      w.str(e.origin_boot);
    }
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
    // Sends and requests only: anything else in an envelope is refused whole, never guessed at.
    const auto fields = r.array();
    const auto kind = r.uint();
    const bool send =
        fields == std::size_t{5} && kind == static_cast<std::uint64_t>(WireMessage::Kind::kSend);
    const bool request =
        fields == std::size_t{8} && kind == static_cast<std::uint64_t>(WireMessage::Kind::kRequest);
    if (!send && !request) return malformed("an entry that is neither a send nor a request");
    e.kind = request ? WireMessage::Kind::kRequest : WireMessage::Kind::kSend;
    e.origin_host = m.origin_host;
    r.id(e.sender);
    r.id(e.target);
    const auto codec = r.uint();
    r.bin(e.payload.bytes);
    if (!r.ok() || !codec || *codec > 0xffffffffULL) return malformed("a send");
    e.payload.codec = static_cast<std::uint32_t>(*codec);
    if (!request) continue;
    const auto correlation = r.uint();
    const auto timeout = r.uint();
    auto boot = r.str();
    // As a request alone: the requester's boot id is required (replies go to that life only).
    if (!r.ok() || !correlation || !timeout || *timeout > 0xffffffffULL || !boot || boot->empty()) {
      return malformed("a request");
    }
    e.correlation = *correlation;
    e.timeout_ms = static_cast<std::uint32_t>(*timeout);
    e.origin_boot = std::move(*boot);
  }
  if (!r.at_end()) return malformed("bytes after the last send");
  return m;
}

}  // namespace capsule::cluster
