#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <capsule/cluster/wire.hpp>

namespace capsule::cluster {

// The coalesced envelope (WireMessage::Kind::kCoalesced) written and read directly as
// MessagePack, without building a document tree: it carries hundreds of sends, and a tree costs
// several allocations per send on both hosts. The bytes are the same MessagePack map any decoder
// reads: {"k": 6, "o": origin, "n": [[1, sender, target, codec, bytes], ...]}, an id being
// [ns, name, instance]; a request is [2, sender, target, codec, bytes, correlation, timeout ms,
// requester's boot id] (only to hosts that announce kWireCoalescedRequests).

[[nodiscard]] std::vector<std::uint8_t> encode_coalesced(const WireMessage& envelope);
// Whether `bytes` start the way encode_coalesced writes them (then decode_coalesced reads them).
[[nodiscard]] bool looks_coalesced(std::span<const std::uint8_t> bytes);
// Strict: anything but exactly that shape, with no byte left over, is an error (never a guess),
// and so is an envelope without entries or with more than kMaxCoalesced.
[[nodiscard]] Result<WireMessage> decode_coalesced(std::span<const std::uint8_t> bytes);

}  // namespace capsule::cluster
