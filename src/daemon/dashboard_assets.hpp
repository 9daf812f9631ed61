#pragma once

#include <string_view>

namespace capsule::daemon {

// The dashboard's static files (web/dashboard/ in the repo), embedded in the binary at build time
// (cmake/EmbedFiles.cmake): "index.html", "app.js", "style.css". Empty: no such file.
[[nodiscard]] std::string_view dashboard_asset(std::string_view name);

}  // namespace capsule::daemon
