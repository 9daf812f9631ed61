#include "message_codec.hpp"

#include <string>
#include <utility>

#include "msgpack_io.hpp"

namespace capsule::cluster {
namespace {

bool is_direct(const WireMessage& m) {
  return m.batch.empty() && m.outcomes.empty() && m.entries.empty() &&
         (m.kind == WireMessage::Kind::kSend || m.kind == WireMessage::Kind::kRequest ||
          m.kind == WireMessage::Kind::kReply || m.kind == WireMessage::Kind::kPublish);
}

// Which keys a map had, one bit each: a key twice is not the direct form.
enum Key : std::uint16_t {
  kB = 1 << 0,
  kC = 1 << 1,
  kE = 1 << 2,
  kK = 1 << 3,
  kL = 1 << 4,
  kO = 1 << 5,
  kP = 1 << 6,
  kR = 1 << 7,
  kS = 1 << 8,
  kT = 1 << 9,
  kW = 1 << 10,
};

}  // namespace

std::optional<std::vector<std::uint8_t>> encode_direct(const WireMessage& m) {
  if (!is_direct(m)) return std::nullopt;
  // The general encoder's keys and conditions (wire.cpp), in its order: sorted by key.
  const bool payload = m.kind != WireMessage::Kind::kReply || !m.error;
  const bool boot = !m.origin_boot.empty();
  const bool correlation = m.correlation != 0;
  const bool timeout = m.timeout_ms != 0;
  const bool topic = !m.topic.empty();
  const bool error = m.error.has_value();
  const std::size_t keys = 4 + (payload ? 2 : 0) + (boot ? 1 : 0) + (correlation ? 1 : 0) +
                           (timeout ? 1 : 0) + (topic ? 1 : 0) + (error ? 1 : 0);
  msgpack::Writer w(96 + m.payload.bytes.size() + m.origin_host.size() + m.origin_boot.size() +
                    m.topic.size() + (error ? m.error->message.size() : 0));
  w.map(keys);
  if (payload) {
    w.str("b");
    w.bin(m.payload.bytes);
    w.str("c");
    w.uint(m.payload.codec);
  }
  if (error) {
    w.str("e");
    w.array(2);
    w.uint(static_cast<std::uint64_t>(m.error->code));
    w.str(m.error->message);
  }
  w.str("k");
  w.uint(static_cast<std::uint64_t>(m.kind));
  if (boot) {
    w.str("l");
    w.str(m.origin_boot);
  }
  w.str("o");
  w.str(m.origin_host);
  if (topic) {
    w.str("p");
    w.str(m.topic);
  }
  if (correlation) {
    w.str("r");
    w.uint(m.correlation);
  }
  w.str("s");
  w.id(m.sender);
  w.str("t");
  w.id(m.target);
  if (timeout) {
    w.str("w");
    w.uint(m.timeout_ms);
  }
  return w.take();
}

std::optional<WireMessage> decode_direct(std::span<const std::uint8_t> bytes) {
  msgpack::Reader r(bytes);
  const auto keys = r.map();
  if (!keys || *keys > 11) return std::nullopt;
  WireMessage m;
  std::uint16_t seen = 0;
  std::uint64_t kind = 0;
  std::uint64_t codec = 0;
  for (std::size_t i = 0; i < *keys && r.ok(); ++i) {
    const auto key = r.str();
    if (!key || key->size() != 1) return std::nullopt;
    Key bit{};
    switch ((*key)[0]) {
      case 'b':
        bit = kB;
        r.bin(m.payload.bytes);
        break;
      case 'c': {
        bit = kC;
        const auto v = r.uint();
        if (!v || *v > 0xffffffffULL) return std::nullopt;
        codec = *v;
        break;
      }
      case 'e': {
        bit = kE;
        const auto n = r.array();
        const auto code = r.uint();
        auto text = r.str();
        if (n != std::size_t{2} || !code || !text) return std::nullopt;
        // A code this host does not know is internal (as the general decoder reads it).
        const bool known = *code <= static_cast<std::uint64_t>(ErrorCode::kInternal);
        m.error =
            Error{known ? static_cast<ErrorCode>(*code) : ErrorCode::kInternal, std::move(*text)};
        break;
      }
      case 'k': {
        bit = kK;
        const auto v = r.uint();
        if (!v) return std::nullopt;
        kind = *v;
        break;
      }
      case 'l': {
        bit = kL;
        auto v = r.str();
        if (!v) return std::nullopt;
        m.origin_boot = std::move(*v);
        break;
      }
      case 'o': {
        bit = kO;
        auto v = r.str();
        if (!v) return std::nullopt;
        m.origin_host = std::move(*v);
        break;
      }
      case 'p': {
        bit = kP;
        auto v = r.str();
        if (!v) return std::nullopt;
        m.topic = std::move(*v);
        break;
      }
      case 'r': {
        bit = kR;
        const auto v = r.uint();
        if (!v) return std::nullopt;
        m.correlation = *v;
        break;
      }
      case 's':
        bit = kS;
        r.id(m.sender);
        break;
      case 't':
        bit = kT;
        r.id(m.target);
        break;
      case 'w': {
        bit = kW;
        const auto v = r.uint();
        if (!v || *v > 0xffffffffULL) return std::nullopt;
        m.timeout_ms = static_cast<std::uint32_t>(*v);
        break;
      }
      default:
        return std::nullopt;  // "m", "x" or a key this form does not have
    }
    if ((seen & bit) != 0) return std::nullopt;
    seen = static_cast<std::uint16_t>(seen | bit);
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  constexpr std::uint16_t kRequired = kK | kO | kS | kT;
  if ((seen & kRequired) != kRequired || ((seen & kB) != 0 && (seen & kC) == 0)) {
    return std::nullopt;
  }
  if (kind < static_cast<std::uint64_t>(WireMessage::Kind::kSend) ||
      kind > static_cast<std::uint64_t>(WireMessage::Kind::kPublish)) {
    return std::nullopt;
  }
  m.kind = static_cast<WireMessage::Kind>(kind);
  if (m.kind == WireMessage::Kind::kRequest && m.origin_boot.empty()) return std::nullopt;
  if ((seen & kB) != 0) m.payload.codec = static_cast<std::uint32_t>(codec);
  return m;
}

}  // namespace capsule::cluster
