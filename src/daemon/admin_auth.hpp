#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <capsule/core/result.hpp>

#include "http.hpp"

namespace capsule::daemon {

// The bearer token a TCP admin listener wants: 32 random bytes as 64 hex digits, kept in a file
// of mode 0600 in the host's data dir (<data_dir>/admin.token).
class AdminToken {
 public:
  // Reads the file, or creates it with a new token when there is none (then created() is true,
  // and the caller prints the token once). A token file others may read is refused: anyone who
  // can read it can act as the operator.
  [[nodiscard]] static Result<AdminToken> load_or_create(const std::filesystem::path& file);
  // Reads an existing token file (the CLI side); the same checks.
  [[nodiscard]] static Result<AdminToken> load(const std::filesystem::path& file);

  // Compares in time independent of where the strings differ.
  [[nodiscard]] bool matches(std::string_view presented) const;
  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] bool created() const { return created_; }

 private:
  AdminToken(std::string text, bool created) : text_(std::move(text)), created_(created) {}
  std::string text_;
  bool created_ = false;
};

// 32 bytes from the kernel's CSPRNG (getrandom), as 64 lowercase hex digits.
[[nodiscard]] Result<std::string> random_token();

// Constant-time string equality: the time taken depends only on the lengths.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

// The door of the TCP admin listener, checked on headers before any handler runs:
// 1. a web page the operator visits must not reach it (a browser names the page's Origin), nor a
//    DNS-rebound name (it shows in Host): 403 (check_host_origin);
// 2. the bearer token: missing or wrong, 401 (check_bearer).
// nullopt: admitted. The answer is a JSON error naming the problem. (A dashboard session cookie
// can stand in for step 2: AdminEndpoints.)
[[nodiscard]] std::optional<HttpResponse> check_tcp_request(const HttpRequest& request,
                                                            const AdminToken& token);
[[nodiscard]] std::optional<HttpResponse> check_host_origin(const HttpRequest& request);
[[nodiscard]] std::optional<HttpResponse> check_bearer(const HttpRequest& request,
                                                       const AdminToken& token);

// {"ok":false,"error":{"code":...,"message":...}} with that status.
[[nodiscard]] HttpResponse auth_refusal(int status, const std::string& code,
                                        const std::string& message);

// Who made an admin request, for the audit log and host log lines: "unix:uid=1000,pid=4242"
// (the kernel's word), "token@127.0.0.1:53422" (a TCP client that showed the token),
// "session@127.0.0.1:53422" (a dashboard page, admitted by its session cookie), or
// "tcp:127.0.0.1:53422" (a TCP client that did not, or not yet).
[[nodiscard]] std::string caller_of(const HttpRequest& request, bool authenticated);

}  // namespace capsule::daemon
