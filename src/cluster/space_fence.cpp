#include "space_fence.hpp"

#include <charconv>

namespace capsule::cluster {
namespace {

using Written = KvBucket::Written;

// Not hex, so never a data key (like "usage"); one token, so `<hex(space)>.*` covers it.
std::string fence_key(std::string_view space, std::string_view name) {
  std::string key = hex_token(space) + ".fence";
  if (!name.empty()) key += "-" + hex_token(name);
  return key;
}

// What a fence guards, for errors: the space (a failover unit) or a name in it.
std::string guarded(std::string_view space, std::string_view name) {
  return name.empty() ? std::string(space) : std::string(space) + "/" + std::string(name);
}

// Which token a fence holds: a failover unit's lease, or a name's claim.
std::string_view token_kind(std::string_view name) {
  return name.empty() ? "lease token" : "claim token";
}

// Every entry of the space: what a fenced write's condition covers.
std::string space_filter(std::string_view space) {
  return hex_token(space) + ".*";
}

}  // namespace

Result<std::pair<std::uint64_t, std::uint64_t>> SpaceFence::read(std::string_view space,
                                                                 std::string_view name) const {
  auto entry = bucket_.read(fence_key(space, name), true);
  if (!entry) return std::move(entry).error();
  if (!entry->exists) return std::pair<std::uint64_t, std::uint64_t>{0, 0};
  std::uint64_t token = 0;
  const auto* begin = reinterpret_cast<const char*>(entry->value.data());
  const auto [end, ec] = std::from_chars(begin, begin + entry->value.size(), token);
  if (ec != std::errc{} || end != begin + entry->value.size()) {
    return make_error(ErrorCode::kInternal, "NATS KV fence of " + guarded(space, name) + " (" +
                                                bucket_.where() + ") is corrupt");
  }
  return std::pair{token, entry->revision};
}

Result<KvBucket::Expect> SpaceFence::whole_space(std::string_view space) const {
  std::string filter = space_filter(space);
  auto last = bucket_.last_revision(filter);
  if (!last) return std::move(last).error();
  return KvBucket::Expect{std::move(filter), *last};
}

Result<SpaceFence::Check> SpaceFence::begin(std::string_view space, const Permit& writer) const {
  const std::uint64_t token = writer.fence_token();
  if (token == 0 || !bucket_.server_checks_filters()) return Check{};
  const std::string& name = writer.fence_name();
  // The newest revision first, then the fence: a fence written after that read is newer than
  // the revision the condition names.
  auto expect = whole_space(space);
  if (!expect) return std::move(expect).error();
  auto fence = read(space, name);
  if (!fence) return std::move(fence).error();
  if (fence->first != token) {
    const std::string_view kind = token_kind(name);
    std::string why;
    if (fence->first == 0) {
      why = name.empty() ? "the space has no fence yet (a lease holder fences it before it serves)"
                         : "the name has no fence yet (a claim holder fences it before it "
                           "activates the name)";
    } else {
      why = std::string(name.empty() ? "the space" : "the name") + " is fenced by " +
            std::string(kind) + " " + std::to_string(fence->first) + " (another host " +
            (name.empty() ? "serves it)" : "has it active)");
    }
    Error refused =
        make_error(ErrorCode::kUnavailable, "storage write to " + guarded(space, name) + " with " +
                                                std::string(kind) + " " + std::to_string(token) +
                                                " refused: " + why);
    writer.fenced(refused);
    return refused;
  }
  return Check{std::move(*expect)};
}

std::unique_lock<std::mutex> SpaceFence::turn(std::string_view space, std::uint64_t token) {
  if (token == 0 || !bucket_.server_checks_filters()) return {};
  return std::unique_lock(writers_[std::hash<std::string_view>{}(space) % kStripes]);
}

Status SpaceFence::move_to(std::string_view space, std::string_view name, std::uint64_t token,
                           int attempts, const std::function<void(int)>& backoff) {
  if (token == 0) return make_error(ErrorCode::kInvalidArgument, "a fencing token is never 0");
  const std::string key = fence_key(space, name);
  const std::string text = std::to_string(token);
  // "cannot fence shop/cart/x with claim token 41"
  std::string what = "cannot fence " + guarded(space, name) + " with ";
  what += token_kind(name);
  what += " " + text;
  // A replicated stream holds back a write whose condition names the same pattern as one in
  // flight, not one without a condition: so the fence names the whole space like the writes.
  const bool conditional = bucket_.server_checks_filters();
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) backoff(attempt);
    Check check;
    if (conditional) {
      auto expect = whole_space(space);
      if (!expect) return std::move(expect).error();
      check = std::move(*expect);
    }
    auto current = read(space, name);
    if (!current) return std::move(current).error();
    if (current->first == token) return ok();
    if (current->first > token) {
      std::string message = what;
      message += ": it is fenced by the newer token " + std::to_string(current->first) + " already";
      return make_error(ErrorCode::kUnavailable, std::move(message));
    }
    auto written = put(key, text.data(), text.size(), current->second, check);
    if (!written) return std::move(written).error();
    if (*written == Written::kDone) return ok();
  }
  what += ": gave up after " + std::to_string(attempts) +
          " attempts that conflicted with other writers (" + bucket_.where() + ")";
  return make_error(ErrorCode::kUnavailable, std::move(what));
}

Result<Written> SpaceFence::put(const std::string& key, const void* data, std::size_t size,
                                std::uint64_t revision, Check& check) const {
  auto put = check ? bucket_.put(key, data, size, *check) : bucket_.put(key, data, size, revision);
  if (!put) return std::move(put).error();
  if (check && put->written == Written::kDone) check->last = put->revision;
  return put->written;
}

Result<Written> SpaceFence::remove(const std::string& key, std::uint64_t revision,
                                   Check& check) const {
  if (!check) return bucket_.remove(key, revision);
  auto removed = bucket_.remove(key, *check);
  if (!removed) return std::move(removed).error();
  if (removed->written == Written::kDone) check->last = removed->revision;
  return removed->written;
}

}  // namespace capsule::cluster
