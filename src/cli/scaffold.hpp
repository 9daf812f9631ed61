#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <capsule/core/result.hpp>

namespace capsule::cli {

// `capsule new <language> <name>`: a component project in the new directory `parent`/`name` that
// builds as it is (scaffold_templates.hpp has the files).

// ok, or kInvalidArgument saying what a project name may be: a lowercase letter, then lowercase
// letters, digits, '-' or '_', at most 64 in all (it names the directory, the CMake target, the
// .wasm and the component).
[[nodiscard]] Status check_project_name(std::string_view name);

// Writes the project; returns its directory. Refuses (writing nothing) an unknown language, a bad
// name, and a `parent`/`name` that exists in any form. `package_dir`, when set, is the directory
// of an installed capsule package (the one holding capsuleConfig.cmake): the project's
// find_package() is pointed at it, so the project builds without -DCMAKE_PREFIX_PATH. The
// directory, not the prefix: the project enables no language (project(x NONE)), so find_package
// would not search a prefix's lib/<multiarch>/cmake, where the package is on Debian.
[[nodiscard]] Result<std::filesystem::path> write_project(
    std::string_view language, std::string_view name, const std::filesystem::path& parent,
    const std::optional<std::filesystem::path>& package_dir);

// The directory of the capsule package installed with this binary (<prefix>/<bindir>/capsule next
// to <prefix>/<libdir>/cmake/capsule/capsuleConfig.cmake); nullopt otherwise, e.g. in a build tree.
[[nodiscard]] std::optional<std::filesystem::path> installed_package_dir();

}  // namespace capsule::cli
