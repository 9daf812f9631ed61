// capsule guest SDK for C++: RAII and std views over the C SDK (capsule/guest.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "capsule/guest.h"

namespace capsule::guest {

inline std::string_view view(const component_string_t& s) {
  return {reinterpret_cast<const char*>(s.ptr), s.len};
}

inline std::span<const std::uint8_t> bytes(const capsule_payload_t& p) {
  return {p.bytes.ptr, p.bytes.len};
}

inline std::string_view text(const capsule_payload_t& p) {
  return {reinterpret_cast<const char*>(p.bytes.ptr), p.bytes.len};
}

inline void reply(capsule_reply_t* out, std::string_view text,
                  std::uint32_t codec = CAPSULE_CODEC_TEXT) {
  out->is_some = true;
  capsule_payload_set(&out->val, codec, text.data(), text.size());
}

inline void log(capsule_core_services_log_level_t level, const std::string& text) {
  capsule_log(level, text.c_str());
}

// Frees an export argument when it goes out of scope (the export owns its arguments).
template <typename T, void (*Free)(T*)>
class Owned {
 public:
  explicit Owned(T* value) : value_(value) {}
  ~Owned() { Free(value_); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  T* operator->() const { return value_; }
  T& operator*() const { return *value_; }

 private:
  T* value_;
};

using OwnedMessage = Owned<capsule_message_t, capsule_core_types_message_free>;
using OwnedConfig = Owned<capsule_config_t, component_list_tuple2_string_string_free>;

// Iterates init's config as (key, value) string views.
inline auto config_entries(const capsule_config_t& config) {
  struct Range {
    const component_tuple2_string_string_t* first;
    const component_tuple2_string_string_t* last;
    auto begin() const { return first; }
    auto end() const { return last; }
  };
  return Range{config.ptr, config.ptr + config.len};
}

}  // namespace capsule::guest
