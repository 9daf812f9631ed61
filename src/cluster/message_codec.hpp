#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <capsule/cluster/wire.hpp>

namespace capsule::cluster {

// One send, request, reply or publish (WireMessage without a batch, outcomes or entries) written
// and read directly as MessagePack, without building a document tree: these are the messages of
// every request/reply round trip and every confirmed send, and a tree costs a dozen allocations a
// message on each side. The bytes are exactly those of wire.cpp's general encoder (a map with
// its keys in sorted order, each value in its smallest form), so any host reads them.

// Nothing when `m` has a batch, outcomes or entries (the general encoder writes those).
[[nodiscard]] std::optional<std::vector<std::uint8_t>> encode_direct(const WireMessage& m);
// The message when `bytes` are a map of exactly the keys and value forms encode_direct writes
// (any order, each once, nothing left over) and make a valid send, request, reply or publish;
// nothing otherwise, and the general decoder reads them (or says what is wrong with them).
[[nodiscard]] std::optional<WireMessage> decode_direct(std::span<const std::uint8_t> bytes);

}  // namespace capsule::cluster
