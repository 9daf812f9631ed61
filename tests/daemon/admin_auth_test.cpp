#include "daemon/admin_auth.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capsule/security/audit.hpp>

#include "daemon/upgrade_dirs.hpp"

namespace capsule::daemon {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the test's temp dir, removed afterwards.
class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() / ("capsule-cli-test-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(counter_++))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void touch(const fs::path& p) {
  std::ofstream(p) << "x";
}

TEST(AdminToken, ConstantTimeEqualIsEquality) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

TEST(AdminToken, RandomTokensAre64HexDigitsAndDiffer) {
  auto a = random_token();
  auto b = random_token();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 64U);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(*a, *b);
}

TEST(AdminToken, CreatedOnceWithMode0600ThenReused) {
  TempDir dir;
  const auto file = dir.path() / "admin.token";
  auto first = AdminToken::load_or_create(file);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created());
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto second = AdminToken::load_or_create(file);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->created());
  EXPECT_EQ(second->text(), first->text());
  EXPECT_TRUE(second->matches(first->text()));
  EXPECT_FALSE(second->matches(first->text().substr(1)));
}

TEST(AdminToken, AReadableOrMalformedOrSymlinkedFileIsRefused) {
  TempDir dir;
  const auto file = dir.path() / "admin.token";
  ASSERT_TRUE(AdminToken::load_or_create(file));
  ::chmod(file.c_str(), 0644);
  auto readable = AdminToken::load_or_create(file);
  ASSERT_FALSE(readable);
  EXPECT_NE(readable.error().message.find("chmod 600"), std::string::npos);

  const auto bad = dir.path() / "bad.token";
  std::ofstream(bad) << "not a token\n";
  ::chmod(bad.c_str(), 0600);
  auto malformed = AdminToken::load(bad);
  ASSERT_FALSE(malformed);
  EXPECT_NE(malformed.error().message.find("64 hex digits"), std::string::npos);

  // A symlink planted where the token goes is neither written through nor followed.
  const auto link = dir.path() / "link.token";
  fs::create_symlink(dir.path() / "elsewhere", link);
  EXPECT_FALSE(AdminToken::load_or_create(link));
  EXPECT_FALSE(fs::exists(dir.path() / "elsewhere"));
}

HttpRequest tcp_request(std::vector<std::pair<std::string, std::string>> headers) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/v1/stop";
  r.headers = std::move(headers);
  r.peer.address = "127.0.0.1:40000";
  r.local_port = 7070;
  return r;
}

TEST(AdminGate, TheTokenAndTheOriginDecide) {
  TempDir dir;
  auto token = AdminToken::load_or_create(dir.path() / "admin.token");
  ASSERT_TRUE(token);
  const std::string bearer = "Bearer " + token->text();
  EXPECT_FALSE(check_tcp_request(tcp_request({{"Authorization", bearer}}), *token));
  EXPECT_FALSE(check_tcp_request(
      tcp_request({{"Host", "127.0.0.1:7070"}, {"authorization", bearer}}), *token));
  auto status = [&](std::vector<std::pair<std::string, std::string>> h) {
    auto refusal = check_tcp_request(tcp_request(std::move(h)), *token);
    return refusal ? refusal->status : 200;
  };
  EXPECT_EQ(status({}), 401);
  EXPECT_EQ(status({{"Authorization", "Bearer " + std::string(64, '0')}}), 401);
  EXPECT_EQ(status({{"Authorization", "Bearer"}}), 401);
  EXPECT_EQ(status({{"Authorization", "Basic " + token->text()}}), 401);
  EXPECT_EQ(status({{"Authorization", bearer + " "}}), 401);
  // The token does not let a web page or a rebound name in.
  EXPECT_EQ(status({{"Authorization", bearer}, {"Origin", "http://evil.example"}}), 403);
  EXPECT_EQ(status({{"Authorization", bearer}, {"Host", "evil.example:7070"}}), 403);
  EXPECT_EQ(status({{"Authorization", bearer}, {"Origin", "http://127.0.0.1:7070"}}), 200);
}

TEST(AdminGate, CallersAreNamedByTheTransport) {
  HttpRequest unix_request;
  unix_request.peer = HttpPeer{true, 1000, 4242, ""};
  EXPECT_EQ(caller_of(unix_request, true), "unix:uid=1000,pid=4242");
  const HttpRequest tcp = tcp_request({});
  EXPECT_EQ(caller_of(tcp, true), "token@127.0.0.1:40000");
  EXPECT_EQ(caller_of(tcp, false), "tcp:127.0.0.1:40000");
}

TEST(UpgradeDirs, OnlyFilesUnderTheDirectoriesByTheirRealPath) {
  TempDir dir;
  const auto app = dir.path() / "app";
  const auto sibling = dir.path() / "app2";  // shares a prefix, is not under app
  fs::create_directories(app / "nested");
  fs::create_directories(sibling);
  touch(app / "nested" / "ok.wasm");
  touch(sibling / "evil.wasm");
  fs::create_symlink(sibling / "evil.wasm", app / "link.wasm");
  fs::create_symlink(sibling, app / "linkdir");
  auto dirs = UpgradeDirs::resolve({app});
  ASSERT_TRUE(dirs) << dirs.error().message;

  auto ok = dirs->admit((app / "nested" / "ok.wasm").string());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, fs::canonical(app / "nested" / "ok.wasm"));
  EXPECT_TRUE(dirs->admit((app / "nested" / ".." / "nested" / "ok.wasm").string()));

  for (const fs::path& p : {sibling / "evil.wasm", app / ".." / "app2" / "evil.wasm",
                            app / "link.wasm", app / "linkdir" / "evil.wasm"}) {
    auto refused = dirs->admit(p.string());
    ASSERT_FALSE(refused) << p;
    EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied) << p;
    EXPECT_NE(refused.error().message.find(p.string()), std::string::npos);
    EXPECT_NE(refused.error().message.find(fs::canonical(app).string()), std::string::npos);
  }
  auto missing = dirs->admit((app / "nope.wasm").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(UpgradeDirs::resolve({dir.path() / "no-such-dir"}));
}

TEST(AdminAudit, RecordsAreOneEscapedJsonLine) {
  const security::AdminAuditRecord r{security::Clock::now(),
                                     "token@127.0.0.1:1",
                                     "admin.upgrade",
                                     "demo/x <- /a\"b\n\xff.wasm",
                                     true,
                                     "ok"};
  const std::string line = security::to_json_line(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find(R"("kind":"admin")"), std::string::npos);
  EXPECT_NE(line.find(R"("who":"token@127.0.0.1:1")"), std::string::npos);
  EXPECT_NE(line.find(R"(/a\"b\n)"), std::string::npos);
  EXPECT_NE(line.find(R"("outcome":"ok")"), std::string::npos);
}

}  // namespace
}  // namespace capsule::daemon
