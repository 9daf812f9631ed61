#include "wit_compatibility.hpp"

#include <array>
#include <string>

#include <capsule/wasm/wit_contract.hpp>

namespace capsule::wasm {
namespace {

// `types` has no functions; components that use its types import it all the same.
constexpr std::array<std::string_view, 4> kHostInterfaces{"types", "messaging", "services",
                                                          "storage"};
constexpr std::string_view kLifecycle = "lifecycle";

std::string joined(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string contract() {
  return std::string(kWitPackage) + "@" + std::string(kWitVersion);
}

Error wrong_version(std::string_view component, std::string_view item, std::string_view version) {
  return make_error(ErrorCode::kIncompatible,
                    "component '" + std::string(component) + "' was built for " +
                        std::string(kWitPackage) + "@" + std::string(version) + " (it uses " +
                        std::string(item) + "), but this host implements " + contract() +
                        "; rebuild it against this host's wit/ package");
}

}  // namespace

InterfaceName parse_interface_name(std::string_view name) noexcept {
  InterfaceName out;
  const auto slash = name.find('/');
  if (slash == std::string_view::npos) return out;
  out.package = name.substr(0, slash);
  auto rest = name.substr(slash + 1);
  const auto at = rest.find('@');
  out.interface = rest.substr(0, at);
  if (at != std::string_view::npos) out.version = rest.substr(at + 1);
  return out;
}

bool versions_compatible(std::string_view host, std::string_view guest) noexcept {
  auto split = [](std::string_view v, std::string_view& major, std::string_view& minor) {
    const auto d1 = v.find('.');
    major = v.substr(0, d1);
    if (d1 == std::string_view::npos) return;
    const auto rest = v.substr(d1 + 1);
    minor = rest.substr(0, rest.find('.'));
  };
  std::string_view hmaj, hmin, gmaj, gmin;
  split(host, hmaj, hmin);
  split(guest, gmaj, gmin);
  if (hmaj != gmaj) return false;
  return hmaj != "0" || hmin == gmin;
}

Status check_wit_compatibility(std::string_view component, const ComponentInterfaces& ifaces) {
  bool has_lifecycle = false;
  for (const auto& name : ifaces.exports) {
    const auto n = parse_interface_name(name);
    if (n.package != kWitPackage) continue;
    if (!versions_compatible(kWitVersion, n.version))
      return wrong_version(component, name, n.version);
    if (n.interface == kLifecycle) has_lifecycle = true;
  }
  for (const auto& name : ifaces.imports) {
    const auto n = parse_interface_name(name);
    if (n.package == kWitPackage) {
      if (!versions_compatible(kWitVersion, n.version))
        return wrong_version(component, name, n.version);
      bool known = false;
      for (auto iface : kHostInterfaces) known = known || n.interface == iface;
      if (!known) {
        return make_error(ErrorCode::kIncompatible, "component '" + std::string(component) +
                                                        "' imports " + name + ", which " +
                                                        contract() + " does not define");
      }
    } else if (n.package.substr(0, 5) != "wasi:") {
      return make_error(ErrorCode::kIncompatible,
                        "component '" + std::string(component) + "' imports '" + name +
                            "', which this host does not provide (it provides " + contract() +
                            " messaging/services/storage and WASI 0.2)");
    }
  }
  if (!has_lifecycle) {
    return make_error(ErrorCode::kIncompatible,
                      "component '" + std::string(component) + "' does not export " +
                          std::string(kWitPackage) + "/lifecycle@" + std::string(kWitVersion) +
                          " (its exports: " + joined(ifaces.exports) +
                          "); build it for the capsule world in wit/world.wit");
  }
  return ok();
}

}  // namespace capsule::wasm
