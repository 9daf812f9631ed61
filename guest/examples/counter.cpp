// counter: keeps a count in linear memory. "get" reads it, "add:N" adds N, "crash" traps (to
// exercise restarts), anything else adds 1; every reply is the new count as text. init config
// "start" sets the initial value.
#include <charconv>
#include <cstdint>
#include <string>

#include <capsule/guest.hpp>

namespace {
std::int64_t g_count = 0;

bool parse_int(std::string_view s, std::int64_t& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}
}  // namespace

CAPSULE_COMPONENT_METADATA("counter", "0.1.0", "Counts messages; its state lives in linear memory")

bool exports_capsule_core_lifecycle_init(capsule_config_t* config, capsule_error_t* err) {
  capsule::guest::OwnedConfig owned(config);
  g_count = 0;
  for (const auto& entry : capsule::guest::config_entries(*owned)) {
    if (capsule::guest::view(entry.f0) != "start") continue;
    if (!parse_int(capsule::guest::view(entry.f1), g_count)) {
      capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT,
                        "config 'start' must be an integer");
      return false;
    }
  }
  return true;
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  capsule::guest::OwnedMessage owned(msg);
  const std::string_view text = capsule::guest::text(owned->payload);
  if (text == "crash") __builtin_trap();
  if (text.substr(0, 4) == "add:") {
    std::int64_t n = 0;
    if (!parse_int(text.substr(4), n)) {
      capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT, "add:N needs an integer N");
      return false;
    }
    g_count += n;
  } else if (text != "get") {
    ++g_count;
  }
  capsule::guest::reply(reply, std::to_string(g_count));
  return true;
}
