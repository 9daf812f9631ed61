#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/core/error.hpp>
#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>
#include <capsule/core/send_batch.hpp>

namespace capsule::cluster {

// What travels between hosts, one NATS message each. Encoded as MessagePack (a map with short
// keys), so payload bytes go as binary, without base64.
struct WireMessage {
  // kSendBatch: many sends from one sender to components of one host, in order (`batch`); its
  // acknowledgement is a kReply whose `outcomes` has one entry per message.
  // kCoalesced: unconfirmed sends from any senders of origin_host to components of one host,
  // in the order they were made (`entries`, each a kSend with its own sender and target). Only
  // sent to hosts that announce kWireCoalesced (an older host would drop kind 6 as malformed).
  // Guests' requests travel in them too (kRequest entries with correlation, timeout and boot id),
  // only to hosts that announce kWireCoalescedRequests.
  enum class Kind : std::uint8_t {
    kSend = 1,
    kRequest = 2,
    kReply = 3,
    kPublish = 4,
    kSendBatch = 5,
    kCoalesced = 6
  };
  Kind kind = Kind::kSend;
  std::string origin_host;  // the host that sent it; replies go to its reply subject
  // Which life of origin_host: a random id drawn at each start. Replies go to the subject of
  // that life only, so a late reply to a restarted host's previous life finds no listener.
  std::string origin_boot;
  ComponentId sender;
  ComponentId target;                  // send/request: the addressee; reply: the responder
  Payload payload;                     // send/request/publish; reply when it succeeded
  CorrelationId correlation = 0;       // request/reply: the id in the requester's tracker
  std::uint32_t timeout_ms = 0;        // request: the requester's timeout
  std::string topic;                   // publish
  std::optional<Error> error;          // reply: the responder's failure instead of a payload
  std::vector<OutgoingMessage> batch;  // send batch: the messages, in order
  // The acknowledgement of a send batch: per message, nothing (in the mailbox) or the refusal.
  std::vector<std::optional<Error>> outcomes;
  // Coalesced: the sends it carries (kind, sender, target, payload each; origin_host is this
  // envelope's).
  std::vector<WireMessage> entries;
};

// The most sends one coalesced envelope may carry (a receiver refuses more as malformed).
inline constexpr std::size_t kMaxCoalesced = 1024;

// What a host's heartbeat says it can take. 1 (or absent: hosts that predate the field): one
// NATS message per send. 2: also coalesced envelopes (WireMessage::Kind::kCoalesced).
inline constexpr std::uint32_t kWireCoalesced = 2;
// 3: coalesced envelopes may also carry requests (a host at 2 refuses such an envelope whole).
inline constexpr std::uint32_t kWireCoalescedRequests = 3;

// One host's heartbeat on `capsule.<cluster>.hosts`. `leaving` says goodbye at once.
struct Heartbeat {
  std::string host;
  std::uint64_t sequence = 0;
  std::uint32_t interval_ms = 0;
  bool leaving = false;
  std::vector<ComponentId> components;
  std::vector<std::string> groups;  // the host groups it belongs to (manifest placement)
  // The on-demand components ("ns/name") it loads: it may serve any of their names, the ones
  // name_placement.hpp gives it.
  std::vector<std::string> on_demand;
  std::uint32_t wire = 1;  // the newest envelope format it takes (kWireCoalesced, ...)
};

[[nodiscard]] std::vector<std::uint8_t> encode(const WireMessage& message);
[[nodiscard]] Result<WireMessage> decode_message(std::span<const std::uint8_t> bytes);
[[nodiscard]] std::vector<std::uint8_t> encode(const Heartbeat& heartbeat);
[[nodiscard]] Result<Heartbeat> decode_heartbeat(std::span<const std::uint8_t> bytes);

// Subjects. Every name that goes into one token is escaped (see subject_token), so a dot in a
// component or topic name cannot change the subject's shape. Everything a host publishes is
// under `capsule.<cluster>.f.<that host>.`: with the credentials `cluster_auth` generates, the
// server lets a host publish only under its own name, so the `f.<host>` token of a received
// message says which authenticated host sent it. Receivers subscribe with `*` in its place.
struct Subjects {
  std::string cluster;
  // A message for instance `id` on host `to`, published by host `from`. The sender picks the
  // host (from the heartbeats): exactly that host gets it, whoever else runs the same id.
  [[nodiscard]] std::string component(const ComponentId& id, std::string_view from,
                                      std::string_view to) const;
  // A send batch for components of host `to`, published by host `from` (within host_inbox).
  [[nodiscard]] std::string batch(std::string_view from, std::string_view to) const;
  // Coalesced sends for components of host `to`, published by host `from` (within host_inbox).
  [[nodiscard]] std::string coalesced(std::string_view from, std::string_view to) const;
  // Every component message for host `host`, from any host: its one subscription for them.
  [[nodiscard]] std::string host_inbox(std::string_view host) const;
  // A reply for the life `boot` of `host`, published by the responder's host `from`.
  [[nodiscard]] std::string reply(std::string_view host, std::string_view boot,
                                  std::string_view from) const;
  [[nodiscard]] std::string reply_inbox(std::string_view host, std::string_view boot) const;
  [[nodiscard]] std::string topic(std::string_view topic, std::string_view from) const;
  [[nodiscard]] std::string all_topics() const;                  // every topic, from any host
  [[nodiscard]] std::string hosts(std::string_view from) const;  // `from`'s heartbeats
  [[nodiscard]] std::string all_hosts() const;                   // every host's heartbeats
  // Whether `subject` (one of the above) was published under host `host`'s name.
  [[nodiscard]] bool published_by(std::string_view subject, std::string_view host) const;
  // Which of the above `subject` is, whoever published it: a message for components (component,
  // batch, coalesced), a reply, a topic, a heartbeat, or none of them (another cluster's, or not
  // a cluster subject).
  enum class Section : std::uint8_t { kComponents, kReply, kTopic, kHeartbeat, kOther };
  [[nodiscard]] Section section_of(std::string_view subject) const;
};

// Keeps [A-Za-z0-9_-] and writes every other byte as %XX: a valid, reversible NATS token.
[[nodiscard]] std::string subject_token(std::string_view text);

}  // namespace capsule::cluster
