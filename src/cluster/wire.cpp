#include <nlohmann/json.hpp>
#include <utility>

#include <capsule/cluster/wire.hpp>

#include "coalesced_codec.hpp"
#include "message_codec.hpp"

namespace capsule::cluster {
namespace {

using nlohmann::json;

json id_to_json(const ComponentId& id) {
  return json::array({id.ns, id.name, id.instance});
}

ComponentId id_from_json(const json& j) {
  return ComponentId{j.at(0).get<std::string>(), j.at(1).get<std::string>(),
                     j.at(2).get<std::string>()};
}

// `[code, text]`; a code this host does not know is internal.
Error error_from_json(const json& j) {
  const int code = j.at(0).get<int>();
  const bool known = code >= 0 && code <= static_cast<int>(ErrorCode::kInternal);
  return Error{known ? static_cast<ErrorCode>(code) : ErrorCode::kInternal,
               j.at(1).get<std::string>()};
}

// MessagePack parse errors surface as exceptions from nlohmann; the one place they become
// Results is here, so a malformed message from the network is an error value, never a crash.
template <typename T, typename F>
Result<T> parse(std::span<const std::uint8_t> bytes, F&& from_json) {
  try {
    const json j = json::from_msgpack(bytes.begin(), bytes.end());
    return from_json(j);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("malformed cluster message: ") + e.what());
  }
}

}  // namespace

std::vector<std::uint8_t> encode(const WireMessage& m) {
  if (m.kind == WireMessage::Kind::kCoalesced) return encode_coalesced(m);
  if (auto direct = encode_direct(m)) return std::move(*direct);
  json j{{"k", static_cast<int>(m.kind)}, {"o", m.origin_host}};
  if (!m.origin_boot.empty()) j["l"] = m.origin_boot;
  j["s"] = id_to_json(m.sender);
  j["t"] = id_to_json(m.target);
  if (m.kind != WireMessage::Kind::kReply || !m.error) {
    j["c"] = m.payload.codec;
    j["b"] = json::binary(m.payload.bytes);
  }
  if (m.correlation != 0) j["r"] = m.correlation;
  if (m.timeout_ms != 0) j["w"] = m.timeout_ms;
  if (!m.topic.empty()) j["p"] = m.topic;
  if (m.error) j["e"] = json::array({static_cast<int>(m.error->code), m.error->message});
  if (!m.batch.empty()) {
    json entries = json::array();
    for (const auto& e : m.batch) {
      entries.push_back(
          json::array({id_to_json(e.to), e.payload.codec, json::binary(e.payload.bytes)}));
    }
    j["m"] = std::move(entries);
  }
  if (!m.outcomes.empty()) {
    json outcomes = json::array();
    for (const auto& o : m.outcomes) {
      outcomes.push_back(o ? json::array({static_cast<int>(o->code), o->message}) : json());
    }
    j["x"] = std::move(outcomes);
  }
  return json::to_msgpack(j);
}

Result<WireMessage> decode_message(std::span<const std::uint8_t> bytes) {
  if (looks_coalesced(bytes)) return decode_coalesced(bytes);
  if (auto direct = decode_direct(bytes)) return std::move(*direct);
  return parse<WireMessage>(bytes, [](const json& j) -> Result<WireMessage> {
    WireMessage m;
    const int kind = j.at("k").get<int>();
    if (kind < 1 || kind > 6) {
      return make_error(ErrorCode::kInvalidArgument, "unknown cluster message kind");
    }
    if (kind == static_cast<int>(WireMessage::Kind::kCoalesced)) {
      // Only in the one encoding encode_coalesced writes (decode_coalesced, above).
      return make_error(ErrorCode::kInvalidArgument, "malformed cluster coalesced envelope");
    }
    m.kind = static_cast<WireMessage::Kind>(kind);
    m.origin_host = j.at("o").get<std::string>();
    m.origin_boot = j.value("l", std::string{});
    if (m.kind == WireMessage::Kind::kRequest && m.origin_boot.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cluster request without the requester's boot id");
    }
    m.sender = id_from_json(j.at("s"));
    m.target = id_from_json(j.at("t"));
    if (j.contains("b")) {
      m.payload.codec = j.at("c").get<std::uint32_t>();
      m.payload.bytes = j.at("b").get_binary();
    }
    m.correlation = j.value("r", CorrelationId{0});
    m.timeout_ms = j.value("w", std::uint32_t{0});
    m.topic = j.value("p", std::string{});
    if (j.contains("e")) m.error = error_from_json(j.at("e"));
    if (j.contains("m")) {
      for (const auto& e : j.at("m")) {
        m.batch.push_back(OutgoingMessage{
            id_from_json(e.at(0)), Payload{e.at(1).get<std::uint32_t>(), e.at(2).get_binary()}});
      }
    }
    if (m.kind == WireMessage::Kind::kSendBatch &&
        (m.batch.empty() || m.batch.size() > kMaxSendBatch)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cluster send batch of " + std::to_string(m.batch.size()) + " messages");
    }
    if (j.contains("x")) {
      for (const auto& o : j.at("x")) {
        m.outcomes.push_back(o.is_null() ? std::nullopt : std::optional<Error>(error_from_json(o)));
      }
    }
    return m;
  });
}

std::vector<std::uint8_t> encode(const Heartbeat& h) {
  json ids = json::array();
  for (const auto& id : h.components) ids.push_back(id_to_json(id));
  return json::to_msgpack(json{{"h", h.host},
                               {"n", h.sequence},
                               {"i", h.interval_ms},
                               {"l", h.leaving},
                               {"c", std::move(ids)},
                               {"g", h.groups},
                               {"v", h.on_demand},
                               {"w", h.wire}});
}

Result<Heartbeat> decode_heartbeat(std::span<const std::uint8_t> bytes) {
  return parse<Heartbeat>(bytes, [](const json& j) -> Result<Heartbeat> {
    Heartbeat h;
    h.host = j.at("h").get<std::string>();
    h.sequence = j.at("n").get<std::uint64_t>();
    h.interval_ms = j.at("i").get<std::uint32_t>();
    h.leaving = j.at("l").get<bool>();
    for (const auto& id : j.at("c")) h.components.push_back(id_from_json(id));
    // Absent in heartbeats of hosts that predate groups: they belong to none.
    if (j.contains("g")) h.groups = j.at("g").get<std::vector<std::string>>();
    // Absent in heartbeats of hosts that predate virtual actors across hosts: they load none.
    if (j.contains("v")) h.on_demand = j.at("v").get<std::vector<std::string>>();
    // Absent in heartbeats of hosts that predate coalesced envelopes: one message per send.
    h.wire = j.value("w", std::uint32_t{1});
    return h;
  });
}

std::string subject_token(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  if (out.empty()) out = "%";  // an empty token would make the subject invalid
  return out;
}

namespace {

std::string prefix(const std::string& cluster, std::string_view from) {
  return "capsule." + subject_token(cluster) + ".f." + std::string(from) + ".";
}

std::string id_tokens(const ComponentId& id) {
  return subject_token(id.ns) + "." + subject_token(id.name) + "." + subject_token(id.instance);
}

}  // namespace

std::string Subjects::component(const ComponentId& id, std::string_view from,
                                std::string_view to) const {
  return prefix(cluster, subject_token(from)) + "c." + subject_token(to) + "." + id_tokens(id);
}

std::string Subjects::batch(std::string_view from, std::string_view to) const {
  // One token after the host: no component subject (three tokens) can have this shape.
  return prefix(cluster, subject_token(from)) + "c." + subject_token(to) + ".batch";
}

std::string Subjects::coalesced(std::string_view from, std::string_view to) const {
  // One token after the host, like batch(): no component subject has this shape.
  return prefix(cluster, subject_token(from)) + "c." + subject_token(to) + ".coalesced";
}

std::string Subjects::host_inbox(std::string_view host) const {
  return prefix(cluster, "*") + "c." + subject_token(host) + ".>";
}

std::string Subjects::reply(std::string_view host, std::string_view boot,
                            std::string_view from) const {
  return prefix(cluster, subject_token(from)) + "h." + subject_token(host) + "." +
         subject_token(boot) + ".reply";
}

std::string Subjects::reply_inbox(std::string_view host, std::string_view boot) const {
  return prefix(cluster, "*") + "h." + subject_token(host) + "." + subject_token(boot) + ".reply";
}

std::string Subjects::topic(std::string_view topic, std::string_view from) const {
  return prefix(cluster, subject_token(from)) + "t." + subject_token(topic);
}

std::string Subjects::all_topics() const {
  return prefix(cluster, "*") + "t.*";
}

std::string Subjects::hosts(std::string_view from) const {
  return prefix(cluster, subject_token(from)) + "hosts";
}

std::string Subjects::all_hosts() const {
  return prefix(cluster, "*") + "hosts";
}

bool Subjects::published_by(std::string_view subject, std::string_view host) const {
  const std::string expected = prefix(cluster, subject_token(host));
  return subject.substr(0, expected.size()) == expected;
}

Subjects::Section Subjects::section_of(std::string_view subject) const {
  const std::string any = "capsule." + subject_token(cluster) + ".f.";  // before the publisher
  if (!subject.starts_with(any)) return Section::kOther;
  subject.remove_prefix(any.size());
  const std::size_t dot = subject.find('.');  // after the publisher's token (escaped: no dot)
  if (dot == std::string_view::npos) return Section::kOther;
  subject.remove_prefix(dot + 1);
  if (subject.starts_with("c.")) return Section::kComponents;
  if (subject.starts_with("h.")) return Section::kReply;
  if (subject.starts_with("t.")) return Section::kTopic;
  if (subject == "hosts") return Section::kHeartbeat;
  return Section::kOther;
}

}  // namespace capsule::cluster
