// The HTTP trigger's pure parts as units: prefix matching, the status of each error outcome and
// the codec <-> Content-Type mapping (the [http] manifest checks are manifest.HttpManifest.*).
// The behaviour over real sockets is e2e.http_trigger.
#include "daemon/http_routes.hpp"

#include <gtest/gtest.h>

#include <capsule/core/multicodec.hpp>

#include "daemon/component_route.hpp"

namespace capsule::daemon {
namespace {

HttpRoute route(std::string prefix) {
  return {std::move(prefix), 0, std::make_shared<StaticRouteHandler>("x")};
}

TEST(HttpRouteTable, LongestPrefixOnSegmentBoundaries) {
  RouteTable t;
  t.add(route("/api"));
  t.add(route("/api/v2"));
  t.add(route("/hello"));
  auto prefix = [&](std::string_view path) -> std::string {
    const HttpRoute* r = t.match(path);
    return r != nullptr ? r->prefix : "-";
  };
  EXPECT_EQ(prefix("/hello"), "/hello");
  EXPECT_EQ(prefix("/hello/x/y"), "/hello");
  EXPECT_EQ(prefix("/helloworld"), "-");
  EXPECT_EQ(prefix("/api/v2/items"), "/api/v2");
  EXPECT_EQ(prefix("/api/v20"), "/api");
  EXPECT_EQ(prefix("/"), "-");
  t.add(route("/"));
  EXPECT_EQ(prefix("/helloworld"), "/");
  EXPECT_EQ(prefix("/hello/x"), "/hello");
}

TEST(HttpStatus, EachOutcomeHasItsStatus) {
  EXPECT_EQ(http_status_of(ErrorCode::kTimeout), 504);
  EXPECT_EQ(http_status_of(ErrorCode::kMailboxFull), 503);
  EXPECT_EQ(http_status_of(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(http_status_of(ErrorCode::kNotFound), 503);
  EXPECT_EQ(http_status_of(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(http_status_of(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(http_status_of(ErrorCode::kTrap), 500);
  EXPECT_EQ(http_status_of(ErrorCode::kOutOfFuel), 500);
  EXPECT_EQ(http_status_of(ErrorCode::kMemoryLimit), 500);
}

TEST(HttpStatus, ErrorBodyNamesComponentAndCause) {
  const auto r = http_error(504, "web/slow", "timeout", "no \"reply\"");
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            R"({"component":"web/slow","error":"timeout","message":"no \"reply\"","ok":false,)"
            R"("status":504})");
}

TEST(HttpCodec, ContentTypeAndCodecMapBothWays) {
  EXPECT_EQ(codec_of_content_type("application/json; charset=utf-8"), multicodec::kJson);
  EXPECT_EQ(codec_of_content_type("text/html"), multicodec::kUtf8Text);
  EXPECT_EQ(codec_of_content_type("application/cbor"), multicodec::kCbor);
  EXPECT_EQ(codec_of_content_type(""), multicodec::kRaw);
  EXPECT_EQ(codec_of_content_type("image/png"), multicodec::kRaw);
  EXPECT_EQ(content_type_of_codec(multicodec::kJson), "application/json");
  EXPECT_EQ(content_type_of_codec(multicodec::kUtf8Text), "text/plain; charset=utf-8");
  EXPECT_EQ(content_type_of_codec(multicodec::kRaw), "application/octet-stream");
}

}  // namespace
}  // namespace capsule::daemon
