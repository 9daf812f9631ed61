// The projects `capsule new` writes. Every project builds with the guest CMake module of an
// installed capsule (find_package(capsule COMPONENTS guest), cmake/CapsuleGuest.cmake), has a
// handle-message that answers with a greeting quoting the message, and a capsule.toml that runs
// it; tests/install/install_test.py builds and runs each of them.
#include "scaffold_templates.hpp"

#include <array>
#include <string>

namespace capsule::cli {
namespace {

// Shared by every language: the manifest, the README's run steps and .gitignore.
constexpr std::string_view kManifest =
    R"(# Runs @NAME@ on one capsule host:  capsule run capsule.toml
# then, from this directory:          capsule call app/@NAME@ "hi"
# (docs/cli.md has every key of this file.)
[host]
name = "@NAME@"
data_dir = ".capsule"                  # compile cache, storage, the admin socket
components_dir = "build/components"    # where `cmake --build build` writes @NAME@.wasm

[[component]]
name = "app/@NAME@"
path = "@NAME@.wasm"
  [component.limits]
  memory = "32MiB"
  wall_time_ms = 5000
)";

constexpr std::string_view kGitignore = "build/\n.capsule/\n";

constexpr std::string_view kCSource =
    R"(/* @NAME@: a capsule component. handle-message answers every message with a greeting that
 * quotes it; replace that with the component's work. */
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("@NAME@", "0.1.0", "Answers each message with a greeting")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  (void)err;
  static const char kPrefix[] = "hello from @NAME@: ";
  const size_t prefix_len = sizeof kPrefix - 1;
  const size_t len = prefix_len + msg->payload.bytes.len;
  char* text = capsule_alloc(len);
  memcpy(text, kPrefix, prefix_len);
  if (msg->payload.bytes.len > 0) {
    memcpy(text + prefix_len, msg->payload.bytes.ptr, msg->payload.bytes.len);
  }
  reply->is_some = true; /* false: no reply */
  capsule_payload_set(&reply->val, CAPSULE_CODEC_TEXT, text, len);
  free(text);
  capsule_message_free(msg); /* an export owns, and frees, its arguments */
  return true;               /* false and *err: a typed error for the caller */
}
)";

constexpr std::string_view kCppSource =
    R"(// @NAME@: a capsule component. handle-message answers every message with a greeting that
// quotes it; replace that with the component's work.
#include <string>

#include <capsule/guest.hpp>

CAPSULE_COMPONENT_METADATA("@NAME@", "0.1.0", "Answers each message with a greeting")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* /*err*/) {
  const capsule::guest::OwnedMessage owned(msg);  // frees the message, which the export owns
  const std::string_view message = capsule::guest::text(owned->payload);
  capsule::guest::reply(reply, "hello from @NAME@: " + std::string(message));
  return true;  // false and *err: a typed error for the caller
}
)";

constexpr std::string_view kPythonSource =
    R"("""@NAME@: a capsule component. handle_message answers every message with a greeting that
quotes it; replace that with the component's work."""
from typing import List, Optional, Tuple

from wit_world import exports
from wit_world.imports import types

CODEC_TEXT = 0x0F


class Lifecycle(exports.Lifecycle):
    def init(self, config: List[Tuple[str, str]]) -> None:
        pass

    def handle_message(self, msg: types.Message) -> Optional[types.Payload]:
        return types.Payload(CODEC_TEXT, b"hello from @NAME@: " + bytes(msg.payload.bytes))

    def handle_callback(self, response: types.Callback) -> None:
        pass

    def health(self) -> types.HealthStatus:
        return types.HealthStatus.HEALTHY

    def shutdown(self) -> None:
        pass

    def metadata(self) -> types.ComponentMetadata:
        return types.ComponentMetadata("@NAME@", "0.1.0", "Answers each message with a greeting", [])
)";

constexpr std::string_view kJsSource =
    R"(// @NAME@: a capsule component. handleMessage answers every message with a greeting that
// quotes it; replace that with the component's work.
const CODEC_TEXT = 0x0f;
const greeting = new TextEncoder().encode('hello from @NAME@: ');

export const lifecycle = {
  init(config) {},

  // option<payload>: a payload replies, undefined does not.
  handleMessage(msg) {
    const bytes = new Uint8Array(greeting.length + msg.payload.bytes.length);
    bytes.set(greeting);
    bytes.set(msg.payload.bytes, greeting.length);
    return { codec: CODEC_TEXT, bytes };
  },

  handleCallback(response) {},

  health() {
    return 'healthy';
  },

  shutdown() {},

  metadata() {
    return { name: '@NAME@', version: '0.1.0', description: 'Answers each message with a greeting', labels: [] };
  },
};
)";

// What each language puts into the files every project has (the CMakeLists.txt and README.md
// built below, kManifest, kGitignore), next to its source.
struct Language {
  std::string_view name;         // `capsule new <name>`
  std::string_view title;        // "A capsule component in <title>"
  std::string_view source_path;  // where `source` goes in the project
  std::string_view source;
  std::string_view cmake_note;  // a comment line above project(), or nothing
  // The variable the capsule module sets when this language's toolchain is there (nothing: the
  // module requires it), and the tool its error names as missing.
  std::string_view toolchain_var;
  std::string_view toolchain;
  std::string_view add_component;  // the capsule_add_*component() line
  // README: the rest of the sentence "Its code is in" (from the space or line break after "in")
  // and the closing paragraph on what building needs.
  std::string_view readme_code;
  std::string_view readme_needs;
};

// C and C++ build with the same toolchain.
constexpr std::string_view kClangNeeds =
    R"(Building needs clang-19, lld-19, wasi-libc and libclang-rt-19-dev-wasm32 (Debian), wasm-tools and
wit-bindgen (capsule's scripts/bootstrap.sh, or `cargo install`).
)";

constexpr std::array<Language, 4> kLanguages{{
    {.name = "c",
     .title = "C",
     .source_path = "src/@NAME@.c",
     .source = kCSource,
     .cmake_note =
         "# The guest is compiled with clang-19 for wasm32 by the capsule module: no host "
         "language needed.\n",
     .toolchain_var = "",
     .toolchain = "",
     .add_component = "capsule_add_component(@NAME@ SOURCES src/@NAME@.c)\n",
     .readme_code = R"( `src/@NAME@.c`; the
guest SDK's header `<capsule/guest.h>` and docs/writing-components.md say what else it can do.
)",
     .readme_needs = kClangNeeds},
    {.name = "cpp",
     .title = "C++",
     .source_path = "src/@NAME@.cpp",
     .source = kCppSource,
     .cmake_note = "# The guest is compiled with clang++-19 for wasm32 by the capsule module: no "
                   "host language needed.\n",
     .toolchain_var = "",
     .toolchain = "",
     .add_component = "capsule_add_component(@NAME@ SOURCES src/@NAME@.cpp)\n",
     .readme_code = R"( `src/@NAME@.cpp`
(C++20 without exceptions or RTTI); the guest SDK's `<capsule/guest.hpp>` and
docs/writing-components.md say what else it can do.
)",
     .readme_needs = kClangNeeds},
    {.name = "python",
     .title = "Python",
     .source_path = "src/app.py",
     .source = kPythonSource,
     .cmake_note = "",
     .toolchain_var = "CAPSULE_PYTHON_GUESTS",
     .toolchain = "componentize-py",
     .add_component = "capsule_add_python_component(@NAME@ SOURCE src/app.py)\n",
     .readme_code = R"(
`src/app.py` (everything in `src/` is bundled); docs/writing-components.md ("Python") says what
else it can do.
)",
     .readme_needs =
         R"(Building needs componentize-py 0.25.1 and wasm-tools (capsule's scripts/bootstrap.sh puts them in
~/.cache/capsule); the first build and the first run each take 15-30 s (an 18 MB component).
)"},
    {.name = "js",
     .title = "JavaScript",
     .source_path = "src/app.js",
     .source = kJsSource,
     .cmake_note = "",
     .toolchain_var = "CAPSULE_JS_GUESTS",
     .toolchain = "componentize-js (or Node.js)",
     .add_component = "capsule_add_js_component(@NAME@ SOURCE src/app.js)\n",
     .readme_code = R"( `src/app.js`
(an ES module; what it imports by relative path is bundled); docs/writing-components.md
("JavaScript") says what else it can do.
)",
     .readme_needs =
         R"(Building needs Node.js 20.19 or newer, componentize-js 0.23.0 and wasm-tools (capsule's
scripts/bootstrap.sh puts them in ~/.cache/capsule).
)"},
}};

constexpr auto kLanguageNames = [] {
  std::array<std::string_view, kLanguages.size()> names{};
  for (std::size_t i = 0; i < kLanguages.size(); ++i) names[i] = kLanguages[i].name;
  return names;
}();

std::string cmake_lists(const Language& l) {
  std::string out = "cmake_minimum_required(VERSION 3.25)\n";
  out += l.cmake_note;
  out += "project(@NAME@ NONE)\n";
  out += "find_package(capsule 0.1 REQUIRED COMPONENTS guest@FIND_HINTS@)\n";
  if (!l.toolchain_var.empty()) {
    out += "if(NOT " + std::string(l.toolchain_var) + ")\n";
    out += "  message(FATAL_ERROR \"" + std::string(l.toolchain) +
           " not found: run capsule's scripts/bootstrap.sh\")\n";
    out += "endif()\n";
  }
  return out + std::string(l.add_component);
}

std::string readme(const Language& l) {
  std::string out = "# @NAME@\n\n";
  out += "A capsule component in " + std::string(l.title) + ", made by `capsule new " +
         std::string(l.name) + " @NAME@`. Its code is in" + std::string(l.readme_code);
  out += R"(
    cmake -B build && cmake --build build      # -> build/components/@NAME@.wasm
    capsule run capsule.toml                   # then, in another shell here:
    capsule call app/@NAME@ "hi"               # -> hello from @NAME@: hi

)";
  return out + std::string(l.readme_needs);
}

}  // namespace

std::span<const std::string_view> scaffold_languages() {
  return kLanguageNames;
}

std::vector<TemplateFile> scaffold_templates(std::string_view language) {
  for (const auto& l : kLanguages) {
    if (l.name != language) continue;
    return {{"CMakeLists.txt", cmake_lists(l)},
            {std::string(l.source_path), std::string(l.source)},
            {"capsule.toml", std::string(kManifest)},
            {"README.md", readme(l)},
            {".gitignore", std::string(kGitignore)}};
  }
  return {};
}

}  // namespace capsule::cli
