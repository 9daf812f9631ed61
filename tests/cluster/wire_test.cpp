// The cluster envelope, subjects and host directory, without a server.
#include <algorithm>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <capsule/cluster/host_directory.hpp>
#include <capsule/cluster/wire.hpp>

namespace capsule::cluster {
namespace {

TEST(Wire, RequestRoundTripsWithBinaryPayload) {
  WireMessage m;
  m.kind = WireMessage::Kind::kRequest;
  m.origin_host = "alpha";
  m.origin_boot = "0123456789abcdef";
  m.sender = {"app", "a", "0"};
  m.target = {"app", "b.v2", "7"};
  m.payload = Payload{multicodec::kCbor, {0, 1, 2, 255, 0}};
  m.correlation = 1ULL << 40;
  m.timeout_ms = 2500;
  auto d = decode_message(encode(m));
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->kind, m.kind);
  EXPECT_EQ(d->origin_host, "alpha");
  EXPECT_EQ(d->origin_boot, "0123456789abcdef");
  EXPECT_EQ(d->sender, m.sender);
  EXPECT_EQ(d->target, m.target);
  EXPECT_EQ(d->payload, m.payload);
  EXPECT_EQ(d->correlation, m.correlation);
  EXPECT_EQ(d->timeout_ms, 2500u);
  EXPECT_FALSE(d->error.has_value());
}

// Unconfirmed sends of many senders for one host, in one envelope (kind 6).
// Send i's payload is i * `step` bytes.
WireMessage coalesced_envelope(std::size_t sends, std::size_t step = 1) {
  WireMessage m;
  m.kind = WireMessage::Kind::kCoalesced;
  m.origin_host = "gamma";
  for (std::size_t i = 0; i < sends; ++i) {
    WireMessage& e = m.entries.emplace_back();
    e.kind = WireMessage::Kind::kSend;
    e.sender = {"app", i % 2 == 0 ? "a" : "a-much-longer-sender-name-than-thirty-one-bytes", "0"};
    e.target = {"app", "b", std::to_string(i)};
    e.payload = Payload{multicodec::kCbor, std::vector<std::uint8_t>(i * step, 0xab)};
  }
  return m;
}

TEST(Wire, CoalescedSendsRoundTripInOrder) {
  const WireMessage m = coalesced_envelope(700, 100);  // payloads to 70 kB: every length form
  auto d = decode_message(encode(m));
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->kind, WireMessage::Kind::kCoalesced);
  EXPECT_EQ(d->origin_host, "gamma");
  ASSERT_EQ(d->entries.size(), m.entries.size());
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    EXPECT_EQ(d->entries[i].kind, WireMessage::Kind::kSend);
    EXPECT_EQ(d->entries[i].origin_host, "gamma") << "each send names the envelope's host";
    EXPECT_EQ(d->entries[i].sender, m.entries[i].sender);
    EXPECT_EQ(d->entries[i].target, m.entries[i].target);
    EXPECT_EQ(d->entries[i].payload, m.entries[i].payload);
  }
}

// What an older host does with one: its decoder reads the same MessagePack and refuses the kind
// (counted as malformed there), rather than taking the envelope for a send.
TEST(Wire, ACoalescedEnvelopeIsPlainMessagePackWithAKindOlderHostsRefuse) {
  const auto bytes = encode(coalesced_envelope(3));
  const auto j = nlohmann::json::from_msgpack(bytes);
  EXPECT_EQ(j.at("k").get<int>(), 6);
  EXPECT_EQ(j.at("o").get<std::string>(), "gamma");
  ASSERT_EQ(j.at("n").size(), 3u);
  EXPECT_EQ(j.at("n").at(2).at(2).at(2).get<std::string>(), "2");
  EXPECT_FALSE(j.contains("t")) << "no target of its own: not readable as one send";
  // And in any other encoding than the one written here, it is refused, never guessed at.
  const auto other = nlohmann::json::to_msgpack(nlohmann::json{{"o", "gamma"}, {"k", 6}});
  EXPECT_FALSE(decode_message(other));
}

TEST(Wire, TruncatedOrOverfullOrMixedCoalescedEnvelopesAreRefused) {
  const auto bytes = encode(coalesced_envelope(4));
  for (std::size_t cut = 4; cut < bytes.size(); cut += 7) {
    EXPECT_FALSE(decode_message(std::span(bytes).first(cut))) << "cut at " << cut;
  }
  auto longer = bytes;
  longer.push_back(0xc0);
  EXPECT_FALSE(decode_message(longer)) << "a byte after the last send";
  EXPECT_FALSE(decode_message(encode(coalesced_envelope(0)))) << "no sends";
  EXPECT_FALSE(decode_message(encode(coalesced_envelope(kMaxCoalesced + 1))));
  EXPECT_TRUE(decode_message(encode(coalesced_envelope(kMaxCoalesced))));
  // An entry of another kind (a request) inside: the whole envelope is refused.
  auto mixed = encode(coalesced_envelope(1));
  const std::uint8_t entry_head[] = {0x95, 0x01};  // [kind 1, ...]
  auto at = std::search(mixed.begin(), mixed.end(), std::begin(entry_head), std::end(entry_head));
  ASSERT_NE(at, mixed.end());
  *(at + 1) = 0x02;
  EXPECT_FALSE(decode_message(mixed));
}

// Guests' requests travel in the same envelope as sends (wire 3), in order with them, each with
// its correlation id, timeout and the requester's boot id.
TEST(Wire, CoalescedRequestsRoundTripInOrderWithSends) {
  WireMessage m = coalesced_envelope(6);
  for (std::size_t i = 1; i < m.entries.size(); i += 2) {
    WireMessage& r = m.entries[i];
    r.kind = WireMessage::Kind::kRequest;
    r.correlation = (1ULL << 40) + i;
    r.timeout_ms = 70000 + static_cast<std::uint32_t>(i);
    r.origin_boot = "00000000deadbeef";
  }
  auto d = decode_message(encode(m));
  ASSERT_TRUE(d) << d.error().describe();
  ASSERT_EQ(d->entries.size(), m.entries.size());
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const WireMessage& e = d->entries[i];
    EXPECT_EQ(e.kind, m.entries[i].kind) << i;
    EXPECT_EQ(e.origin_host, "gamma");
    EXPECT_EQ(e.sender, m.entries[i].sender);
    EXPECT_EQ(e.target, m.entries[i].target);
    EXPECT_EQ(e.payload, m.entries[i].payload);
    EXPECT_EQ(e.correlation, m.entries[i].correlation);
    EXPECT_EQ(e.timeout_ms, m.entries[i].timeout_ms);
    EXPECT_EQ(e.origin_boot, m.entries[i].origin_boot);
  }
  // A request entry without the requester's boot id is refused, envelope and all, as a request
  // alone is.
  m.entries[1].origin_boot.clear();
  EXPECT_FALSE(decode_message(encode(m)));
}

TEST(Wire, HeartbeatsSayWhichEnvelopesAHostTakes) {
  Heartbeat h;
  h.host = "alpha";
  h.wire = kWireCoalesced;
  auto d = decode_heartbeat(encode(h));
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->wire, kWireCoalesced);
  // A heartbeat of a host that predates the field: one message per send.
  auto old = nlohmann::json::to_msgpack(nlohmann::json{
      {"h", "old"}, {"n", 1}, {"i", 100}, {"l", false}, {"c", nlohmann::json::array()}});
  auto o = decode_heartbeat(old);
  ASSERT_TRUE(o) << o.error().describe();
  EXPECT_EQ(o->wire, 1u);
}

TEST(Wire, RequestWithoutTheRequestersBootIdIsRefused) {
  WireMessage m;
  m.kind = WireMessage::Kind::kRequest;
  m.origin_host = "alpha";
  m.correlation = 7;
  auto d = decode_message(encode(m));
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("boot id"), std::string::npos) << d.error().describe();
}

TEST(Wire, ErrorReplyKeepsCodeAndMessage) {
  WireMessage m;
  m.kind = WireMessage::Kind::kReply;
  m.correlation = 9;
  m.error = Error{ErrorCode::kOutOfFuel, "all fuel consumed"};
  auto d = decode_message(encode(m));
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->error.has_value());
  EXPECT_EQ(*d->error, *m.error);
}

// Sends, requests, replies and publishes of every length form: what the direct codec
// (message_codec.hpp) writes and reads.
std::vector<WireMessage> single_messages() {
  std::vector<WireMessage> out;
  const std::string long_name(40, 'n');
  for (const std::size_t size : {0, 31, 32, 255, 256, 65535, 65536}) {
    WireMessage& m = out.emplace_back();
    m.kind = WireMessage::Kind::kSend;
    m.origin_host = "gamma";
    m.sender = {"app", long_name, "0"};
    m.target = {"app", "b", std::to_string(size)};
    m.payload = Payload{multicodec::kCbor, std::vector<std::uint8_t>(size, 0x5a)};
  }
  WireMessage& request = out.emplace_back();
  request.kind = WireMessage::Kind::kRequest;
  request.origin_host = "alpha";
  request.origin_boot = "0123456789abcdef";
  request.sender = {"app", "a", "0"};
  request.target = {"app", "b.v2", "7"};
  request.payload = Payload::text("question");
  request.correlation = (1ULL << 40) + 3;
  request.timeout_ms = 70000;
  WireMessage& reply = out.emplace_back();
  reply.kind = WireMessage::Kind::kReply;
  reply.origin_host = "beta";
  reply.target = {"app", "b.v2", "7"};
  reply.correlation = 200;
  reply.payload = Payload::text("answer");
  WireMessage& failed = out.emplace_back();
  failed.kind = WireMessage::Kind::kReply;
  failed.origin_host = "beta";
  failed.target = {"app", "b.v2", "7"};
  failed.correlation = 70000;
  failed.error = Error{ErrorCode::kOutOfFuel, std::string(300, 'e')};
  WireMessage& publish = out.emplace_back();
  publish.kind = WireMessage::Kind::kPublish;
  publish.origin_host = "alpha";
  publish.sender = {"app", "a", "0"};
  publish.topic = "sensor.readings";
  publish.payload = Payload::text("21.5");
  return out;
}

void expect_same(const WireMessage& d, const WireMessage& m) {
  EXPECT_EQ(d.kind, m.kind);
  EXPECT_EQ(d.origin_host, m.origin_host);
  EXPECT_EQ(d.origin_boot, m.origin_boot);
  EXPECT_EQ(d.sender, m.sender);
  EXPECT_EQ(d.target, m.target);
  EXPECT_EQ(d.payload, m.payload);
  EXPECT_EQ(d.correlation, m.correlation);
  EXPECT_EQ(d.timeout_ms, m.timeout_ms);
  EXPECT_EQ(d.topic, m.topic);
  EXPECT_EQ(d.error, m.error);
}

// Written without a document tree, the bytes are still exactly what a MessagePack library writes
// for the same map (sorted keys, smallest forms): an older host's decoder reads them as before.
TEST(Wire, OneMessageIsTheMessagePackAnyWriterWouldWrite) {
  for (const auto& m : single_messages()) {
    const auto bytes = encode(m);
    EXPECT_EQ(nlohmann::json::to_msgpack(nlohmann::json::from_msgpack(bytes)), bytes)
        << static_cast<int>(m.kind) << " with " << m.payload.bytes.size() << " bytes";
    auto d = decode_message(bytes);
    ASSERT_TRUE(d) << d.error().describe();
    expect_same(*d, m);
  }
}

// The same message read directly and through the document reader (which an unknown key sends it
// to, as a newer host's field would) comes out the same.
TEST(Wire, OneMessageReadsTheSameDirectlyAsThroughADocument) {
  for (const auto& m : single_messages()) {
    auto document = nlohmann::json::from_msgpack(encode(m));
    document["z"] = "a field of a newer host";
    auto d = decode_message(nlohmann::json::to_msgpack(document));
    ASSERT_TRUE(d) << d.error().describe();
    expect_same(*d, m);
  }
  // An error code this host does not know is internal either way.
  WireMessage m;
  m.kind = WireMessage::Kind::kReply;
  m.origin_host = "beta";
  m.error = Error{ErrorCode::kTimeout, "late"};
  auto document = nlohmann::json::from_msgpack(encode(m));
  document["e"][0] = 999;
  auto direct = decode_message(nlohmann::json::to_msgpack(document));
  document["z"] = 1;
  auto general = decode_message(nlohmann::json::to_msgpack(document));
  ASSERT_TRUE(direct && general);
  EXPECT_EQ(direct->error->code, ErrorCode::kInternal);
  EXPECT_EQ(general->error->code, ErrorCode::kInternal);
}

// Shapes the direct reader does not take are read (or refused) by the document reader, never
// guessed at: a byte left over, a key twice, a kind outside send/request/reply/publish.
TEST(Wire, OneMessageOutOfShapeIsLeftToTheDocumentReader) {
  auto bytes = encode(single_messages()[0]);
  bytes.push_back(0x00);
  EXPECT_FALSE(decode_message(bytes));
  auto document = nlohmann::json::from_msgpack(encode(single_messages()[0]));
  document["k"] = 5;  // a send batch without its messages
  auto batch = decode_message(nlohmann::json::to_msgpack(document));
  ASSERT_FALSE(batch);
  document["k"] = 9;
  EXPECT_FALSE(decode_message(nlohmann::json::to_msgpack(document)));
  // {"k": 1, "k": 3, ...}: MessagePack allows it; the direct reader leaves it to the document
  // reader (which keeps the last), so both hosts' readers agree.
  const WireMessage reply = single_messages()[8];
  auto twice = encode(reply);
  ASSERT_EQ(twice[0] & 0xf0, 0x80);
  twice[0] = static_cast<std::uint8_t>(twice[0] + 1);
  for (const std::uint8_t b : {std::uint8_t{0xa1}, std::uint8_t{'k'}, std::uint8_t{0x01}}) {
    twice.push_back(b);
  }
  auto d = decode_message(twice);
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->kind, WireMessage::Kind::kSend);
}

TEST(Wire, MalformedBytesAreAnErrorNotACrash) {
  const std::vector<std::uint8_t> junk{0xc1, 0x00, 0x13};
  EXPECT_EQ(decode_message(junk).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(decode_heartbeat(junk));
  WireMessage m;
  auto bytes = encode(m);
  bytes.resize(bytes.size() / 2);
  EXPECT_FALSE(decode_message(bytes));
}

TEST(Wire, HeartbeatRoundTrips) {
  Heartbeat h{"beta", 42, 100, false, {{"a", "b", "0"}, {"a", "b", "1"}}, {}, {}};
  auto d = decode_heartbeat(encode(h));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "beta");
  EXPECT_EQ(d->sequence, 42u);
  EXPECT_EQ(d->components, h.components);
}

TEST(Subjects, NamesAreEscapedIntoSingleTokens) {
  EXPECT_EQ(subject_token("sensor.readings"), "sensor%2Ereadings");
  EXPECT_EQ(subject_token("a b*>"), "a%20b%2A%3E");
  EXPECT_EQ(subject_token(""), "%");
  const Subjects s{"prod"};
  EXPECT_EQ(s.component({"shop", "cart.v2", "0"}, "h1", "h2"),
            "capsule.prod.f.h1.c.h2.shop.cart%2Ev2.0");
  EXPECT_EQ(s.host_inbox("h2"), "capsule.prod.f.*.c.h2.>");
  EXPECT_EQ(s.reply("host-1", "00ff", "h2"), "capsule.prod.f.h2.h.host-1.00ff.reply");
  EXPECT_EQ(s.reply_inbox("host-1", "00ff"), "capsule.prod.f.*.h.host-1.00ff.reply");
  EXPECT_EQ(s.topic("a.b", "h1"), "capsule.prod.f.h1.t.a%2Eb");
  EXPECT_EQ(s.all_topics(), "capsule.prod.f.*.t.*");
  EXPECT_EQ(s.hosts("h.1"), "capsule.prod.f.h%2E1.hosts");
  EXPECT_EQ(s.all_hosts(), "capsule.prod.f.*.hosts");
  // The sending host is the token after `f`, escaped: "h" is no prefix of "h.1".
  EXPECT_TRUE(s.published_by("capsule.prod.f.h%2E1.hosts", "h.1"));
  EXPECT_FALSE(s.published_by("capsule.prod.f.h%2E1.hosts", "h"));
  EXPECT_FALSE(s.published_by("capsule.prod.f.h1.c.a.b.0", "h2"));
}

// What the bridge's reader-thread hook takes (component messages, replies) and leaves to the
// delivery threads (topics, heartbeats): by the section after the publisher's token, whatever the
// names in it look like.
TEST(Subjects, SectionsAreToldApartWhateverTheNamesInThem) {
  using Section = Subjects::Section;
  const Subjects s{"prod"};
  EXPECT_EQ(s.section_of(s.component({"shop", "hosts", "t"}, "h1", "hosts")), Section::kComponents);
  EXPECT_EQ(s.section_of(s.batch("h.1", "h2")), Section::kComponents);
  EXPECT_EQ(s.section_of(s.coalesced("h1", "h2")), Section::kComponents);
  EXPECT_EQ(s.section_of(s.reply("hosts", "00ff", "c")), Section::kReply);
  EXPECT_EQ(s.section_of(s.topic("c.x", "h")), Section::kTopic);
  EXPECT_EQ(s.section_of(s.hosts("c")), Section::kHeartbeat);
  EXPECT_EQ(s.section_of(s.hosts("h")), Section::kHeartbeat);
  // Another cluster's subjects, a cluster that is a prefix of this one's, and strangers.
  EXPECT_EQ(s.section_of(Subjects{"prod2"}.component({"a", "b", "0"}, "h1", "h2")),
            Section::kOther);
  EXPECT_EQ(s.section_of(Subjects{"pro"}.reply("h", "00", "g")), Section::kOther);
  EXPECT_EQ(s.section_of("_INBOX.capsule.00ff.1"), Section::kOther);
  EXPECT_EQ(s.section_of("capsule.prod.f.h1"), Section::kOther);
  EXPECT_EQ(s.section_of("capsule.prod.f.h1.x.y"), Section::kOther);
  EXPECT_EQ(s.section_of("capsule.prod.f.h1.hostsx"), Section::kOther);
}

TEST(HostDirectory, TracksJoinsOwnersAndDeaths) {
  using namespace std::chrono_literals;
  HostDirectory dir(300ms);
  const auto t0 = HostDirectory::Clock::now();
  EXPECT_TRUE(dir.observe({"beta", 1, 100, false, {{"a", "x", "0"}}, {}, {}}, t0));
  EXPECT_FALSE(dir.observe({"beta", 2, 100, false, {{"a", "y", "0"}}, {}, {}}, t0 + 100ms));
  EXPECT_FALSE(dir.locate({"a", "x", "0"})) << "beta stopped running x";
  EXPECT_EQ(dir.locate({"a", "y", "0"}), "beta");
  // An older heartbeat arriving late does not undo the newer view.
  EXPECT_FALSE(dir.observe({"beta", 1, 100, false, {{"a", "x", "0"}}, {}, {}}, t0 + 150ms));
  EXPECT_FALSE(dir.locate({"a", "x", "0"}));
  EXPECT_TRUE(dir.expire(t0 + 350ms).empty());
  EXPECT_EQ(dir.expire(t0 + 401ms), std::vector<std::string>{"beta"});
  EXPECT_FALSE(dir.locate({"a", "y", "0"}));
  EXPECT_TRUE(dir.hosts().empty());
  // Back again, then a goodbye: removed at once.
  EXPECT_TRUE(dir.observe({"beta", 3, 100, false, {{"a", "y", "0"}}, {}, {}}, t0 + 500ms));
  EXPECT_FALSE(dir.observe({"beta", 4, 100, true, {}, {}, {}}, t0 + 510ms));
  EXPECT_TRUE(dir.hosts().empty());
}

TEST(Wire, HeartbeatCarriesGroups) {
  const Heartbeat h{"gamma", 9, 1000, false, {{"a", "b", "0"}}, {"edge", "gpu"}, {}};
  auto d = decode_heartbeat(encode(h));
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->groups, h.groups);
  EXPECT_EQ(d->components, h.components);
}

TEST(HostDirectory, GenerationChangesOnlyWhenPlacementInputsChange) {
  using namespace std::chrono_literals;
  HostDirectory dir(300ms);
  const auto t0 = HostDirectory::Clock::now();
  const auto g0 = dir.generation();
  dir.observe({"beta", 1, 100, false, {{"a", "x", "0"}}, {"edge"}, {}}, t0);
  const auto g1 = dir.generation();
  EXPECT_NE(g1, g0) << "a join is a change";
  dir.observe({"beta", 2, 100, false, {{"a", "x", "0"}}, {"edge"}, {}}, t0 + 100ms);
  EXPECT_EQ(dir.generation(), g1) << "the same heartbeat again is not";
  dir.observe({"beta", 3, 100, false, {{"a", "x", "0"}}, {"core"}, {}}, t0 + 150ms);
  const auto g2 = dir.generation();
  EXPECT_NE(g2, g1) << "new groups are";
  ASSERT_EQ(dir.records().size(), 1u);
  EXPECT_EQ(dir.records()[0].info.groups, std::vector<std::string>{"core"});
  EXPECT_EQ(dir.records()[0].components, (std::vector<ComponentId>{{"a", "x", "0"}}));
  dir.expire(t0 + 500ms);
  EXPECT_NE(dir.generation(), g2) << "a death is";
}

}  // namespace
}  // namespace capsule::cluster
