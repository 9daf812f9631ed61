#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::cli {

// One file of a project `capsule new` writes: its path in the project and its text, where
// "@NAME@" stands for the project's name and "@FIND_HINTS@" for the find_package() hint.
struct TemplateFile {
  std::string path;
  std::string text;
};

// The languages `capsule new` knows, in the order --help lists them.
[[nodiscard]] std::span<const std::string_view> scaffold_languages();

// The files of a new project in `language`; empty for a language it does not know.
[[nodiscard]] std::vector<TemplateFile> scaffold_templates(std::string_view language);

}  // namespace capsule::cli
