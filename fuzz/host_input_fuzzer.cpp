// libFuzzer target for what a guest hands the host through the WIT imports, past the canonical
// ABI: component ids, storage keys and values, capability targets. Input: "<a>\n<b>".
// Exercises ComponentId::parse, storage::validate_key + the SQLite backend, PolicyEngine::check
// and the audit JSON encoder.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <capsule/core/component_id.hpp>
#include <capsule/security/audit.hpp>
#include <capsule/security/policy_engine.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

namespace {

using namespace capsule;  // NOLINT(google-build-using-namespace): a fuzz driver

security::PolicyEngine& policy() {
  static std::unique_ptr<security::PolicyEngine> engine = [] {
    auto e = std::make_unique<security::PolicyEngine>();
    security::ComponentPermissions p;
    p.declared = {{security::Action::kStorageRead, "public/**", {}},
                  {security::Action::kSend, "shop/*/0", {}}};
    p.granted = p.declared;
    static_cast<void>(e->set_component("fuzz", "guest", p));
    static_cast<void>(e->add_rule(
        {security::Effect::kDeny, "**", security::Action::kSend, "shop/pay/*", {}, "deny-pay"}));
    return e;
  }();
  return *engine;
}

storage::KvBackend& kv() {
  static std::unique_ptr<storage::SqliteKvBackend> backend =
      std::move(*storage::SqliteKvBackend::open(":memory:"));
  return *backend;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = input.find('\n');
  const std::string_view a = input.substr(0, nl);
  const std::string_view b = nl == std::string_view::npos ? "" : input.substr(nl + 1);

  // A parsed id prints back to something that parses to the same id.
  if (auto id = ComponentId::parse(a)) {
    auto again = ComponentId::parse(id->to_string());
    if (!again || !(*again == *id)) __builtin_trap();
  }

  // Policy decisions on arbitrary targets: never allow what the grants cannot match.
  const ComponentId who{"fuzz", "guest", "0"};
  const auto read = policy().check(who, security::Action::kStorageRead, a);
  if (read.allowed && a.substr(0, 7) != "public/" && a != "public") __builtin_trap();
  const auto send = policy().check(who, security::Action::kSend, a);
  if (send.allowed && a.substr(0, 9) == "shop/pay/") __builtin_trap();

  // Storage: a valid key stores and returns exactly the value, in its own space only.
  if (storage::validate_key(a)) {
    const storage::Bytes value(b.begin(), b.end());
    const security::StorageQuota quota{.max_bytes = 1 << 24, .max_keys = 1 << 20};
    if (kv().set("fuzz/guest", a, value, quota)) {
      auto got = kv().get("fuzz/guest", a);
      if (!got || !got->has_value() || **got != value) __builtin_trap();
      auto other = kv().get("fuzz/other", a);
      if (!other || other->has_value()) __builtin_trap();
      static_cast<void>(kv().erase("fuzz/guest", a));
    }
  }

  // The audit line stays one line of printable JSON whatever the target holds.
  const std::string line =
      security::to_json_line({security::Clock::now(), who, security::Action::kStorageRead,
                              std::string(a), false, std::string(b)});
  for (const char c : line) {
    if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
  }
  return 0;
}
