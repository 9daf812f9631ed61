// The commands about a component's file or project: `capsule inspect` (can this host run it?)
// and `capsule new` (a project to build one).
#include <cstdio>
#include <string>
#include <string_view>

#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/wit_contract.hpp>

#include "commands.hpp"
#include "scaffold.hpp"

namespace capsule::cli {

int cmd_inspect(const std::string& path) {
  wasm::EngineConfig config;
  config.pooling.enabled = false;
  auto engine = wasm::WasmEngine::create(config);
  if (!engine) return fail(engine.error().describe());
  std::printf("file:     %s\n", path.c_str());
  // load_file type-checks every import against the linker `capsule run` instantiates with: a
  // component it accepts can start, one it refuses is named with each import this host lacks.
  auto c = (*engine)->load_file(path);
  if (!c) {
    std::printf("host:     %s@%s (Wasmtime %s)\ncompatible: no\n",
                std::string(wasm::kWitPackage).c_str(), std::string(wasm::kWitVersion).c_str(),
                std::string(wasm::WasmEngine::wasmtime_version()).c_str());
    // One printed line per line of the reason: each missing import, each cause in the chain.
    const std::string text = c.error().describe();
    std::string_view reason = text;
    while (!reason.empty()) {
      const auto nl = reason.find('\n');
      const auto line = reason.substr(0, nl);
      std::printf("  %.*s\n", static_cast<int>(line.size()), line.data());
      reason = nl == std::string_view::npos ? std::string_view{} : reason.substr(nl + 1);
    }
    return 1;
  }
  std::printf("sha256:   %s\n", (*c)->content_hash().c_str());
  std::printf("imports:\n");
  for (const auto& i : (*c)->interfaces().imports) std::printf("  %s\n", i.c_str());
  std::printf("exports:\n");
  for (const auto& e : (*c)->interfaces().exports) std::printf("  %s\n", e.c_str());
  if ((*c)->kind() == wasm::ComponentKind::kHttpProxy) {
    // Started as `capsule run` would serve it: instantiation is the proof that it can start.
    wasm::HttpProxyOptions options;
    options.id = ComponentId{"inspect", "component", "0"};
    auto proxy = (*engine)->instantiate_http_proxy(**c, std::move(options));
    if (!proxy) {
      std::printf("kind:     wasi:http/proxy component\ncompatible: no\n  %s\n",
                  proxy.error().describe().c_str());
      return 1;
    }
    std::printf(
        "kind:     wasi:http/proxy component (exports wasi:http/incoming-handler): "
        "serves HTTP requests through an HTTP route\n");
    std::printf("compatible: yes (this host serves wasi:http/proxy@0.2.x, Wasmtime %s)\n",
                std::string(wasm::WasmEngine::wasmtime_version()).c_str());
    return 0;
  }
  std::printf("kind:     capsule component (exports %s/lifecycle)\n",
              std::string(wasm::kWitPackage).c_str());
  auto inst = (*engine)->instantiate(**c, {ComponentId{"inspect", "component", "0"}, {}, nullptr});
  if (inst) {
    if (auto meta = inst->metadata()) {
      std::printf("metadata: %s %s - %s\n", meta->name.c_str(), meta->version.c_str(),
                  meta->description.c_str());
    }
  }
  std::printf("compatible: yes (this host implements %s@%s, Wasmtime %s)\n",
              std::string(wasm::kWitPackage).c_str(), std::string(wasm::kWitVersion).c_str(),
              std::string(wasm::WasmEngine::wasmtime_version()).c_str());
  return 0;
}

int cmd_new(const std::string& language, const std::string& name) {
  const auto package = installed_package_dir();
  auto dir = write_project(language, name, ".", package);
  if (!dir) return fail(dir.error().message);
  std::printf("created %s/, a %s component project:\n  cd %s\n", name.c_str(), language.c_str(),
              name.c_str());
  std::printf("  cmake -B build%s && cmake --build build\n",
              package ? "" : " -DCMAKE_PREFIX_PATH=<where capsule is installed>");
  std::printf("  capsule run capsule.toml      # then, in another shell: capsule call app/%s hi\n",
              name.c_str());
  return 0;
}

}  // namespace capsule::cli
