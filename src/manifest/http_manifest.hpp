#pragma once

// toml++ header-only and without exceptions, as in manifest.cpp (one configuration per program).
#ifndef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#endif
#ifndef TOML_EXCEPTIONS
#define TOML_EXCEPTIONS 0
#endif
#include <filesystem>
#include <string>
#include <toml++/toml.h>
#include <vector>

#include <capsule/core/result.hpp>

#include "http_section.hpp"

namespace capsule::manifest {

// Parses the [http] table of `file`. `components` are the manifest's "ns/name" names (a route
// to anything else is an error; a route to a virtual actor names the instance in its path).
// Errors read "app.toml:31: http.route[1].max_body: expected a size like "1MiB"".
[[nodiscard]] Result<HttpSection> parse_http_section(const toml::table& http,
                                                     const std::filesystem::path& file,
                                                     const std::vector<std::string>& components);

}  // namespace capsule::manifest
