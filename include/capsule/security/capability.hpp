#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/core/result.hpp>
#include <capsule/security/pattern.hpp>

namespace capsule::security {

// Everything a component may be allowed to do. The string form ("messaging.send") is what
// manifests, policy rules and audit records use.
enum class Action : std::uint8_t {
  kSend,             // messaging.send            target: component id "ns/name/instance"
  kRequest,          // messaging.request         target: component id
  kBroadcast,        // messaging.broadcast       target: each component id
  kPublish,          // messaging.publish         target: topic
  kSubscribe,        // messaging.subscribe       target: topic (also unsubscribe)
  kStorageRead,      // storage.read              target: key (get, exists, list-keys, usage)
  kStorageWrite,     // storage.write             target: key
  kStorageDelete,    // storage.delete            target: key
  kLog,              // services.log              target: level name ("debug", "trace", ...)
  kTime,             // services.time             target: "monotonic" or "wall"
  kListComponents,   // services.list             target: component id (list + metadata-of)
  kFilesystemRead,   // filesystem.read           target: path relative to the component's root
  kFilesystemWrite,  // filesystem.write         target: path
  kNetworkConnect,   // network.connect          target: "host:port"
  kRandom,           // services.random           target: "wasi" (WASI random, secure or not)
};

inline constexpr std::size_t kActionCount = 15;

[[nodiscard]] std::string_view to_string(Action action) noexcept;
[[nodiscard]] Result<Action> parse_action(std::string_view text);

using Clock = std::chrono::system_clock;

// One permission as written in a manifest or host configuration: an action on the targets
// matching a glob (see Pattern), optionally until a point in time.
struct Capability {
  Action action = Action::kSend;
  std::string target = "**";
  std::optional<Clock::time_point> expires;  // none: never
};

// The storage limits of one component (ns/name), shared by all its instances.
struct StorageQuota {
  std::uint64_t max_bytes = std::uint64_t{1} << 20;  // keys + values
  std::uint64_t max_keys = 1024;
};

// What the CLI fills from a manifest: the component's own declaration of what it needs, and
// what the host operator grants it. A call is allowed only when both say yes (and no policy
// rule denies it): a manifest cannot grant itself anything, and an operator cannot push a
// permission onto a component that did not ask for it.
struct ComponentPermissions {
  std::vector<Capability> declared;
  std::vector<Capability> granted;
  StorageQuota storage_quota;
};

// Capabilities compiled for matching.
class CapabilitySet {
 public:
  CapabilitySet() = default;
  static Result<CapabilitySet> compile(const std::vector<Capability>& capabilities);

  // True if an unexpired capability for `action` matches `target`.
  [[nodiscard]] bool permits(Action action, std::string_view target, Clock::time_point now) const;
  // The patterns of unexpired capabilities for `action` (to filter list results).
  [[nodiscard]] std::vector<const Pattern*> patterns(Action action, Clock::time_point now) const;
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

 private:
  struct Entry {
    Action action = Action::kSend;
    Pattern pattern;
    std::optional<Clock::time_point> expires;
  };
  std::vector<Entry> entries_;
};

}  // namespace capsule::security
