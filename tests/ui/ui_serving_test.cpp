// The web UI as the built berth serves it: index.html and the hashed assets the UI build wrote,
// precompressed by Accept-Encoding, their cache headers, the security headers, deep links,
// ui.enabled and ui.path. (Which file answers which path in detail: src/ui/site_test.cpp.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "berth_process.hpp"
#include "testing/http_client.hpp"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr bool kBuilt = BERTH_UI_BUILT;

// The first script's URL in index.html: "/assets/index-<hash>.js" (under ui.path).
std::string script_of(const std::string& html) {
  std::smatch match;
  if (!std::regex_search(html, match, std::regex("<script[^>]* src=\"([^\"]+)\""))) {
    return {};
  }
  return match[1];
}

void expect_security_headers(const HttpResponse& r) {
  EXPECT_EQ(r.header("Content-Security-Policy"),
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
            "object-src 'none'");
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
}

class UiServing : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kBuilt) {
      GTEST_SKIP() << "berth was built with BERTH_UI=OFF (UiNotBuilt covers it)";
    }
  }
};

TEST_F(UiServing, IndexAtTheRootIsRevalidatedAndCarriesTheSecurityHeaders) {
  BerthProcess berth;
  HttpClient http("127.0.0.1", berth.port());
  const auto index = http.get("/");
  ASSERT_EQ(index.status, 200u) << index.body;
  EXPECT_THAT(index.header("Content-Type"), StartsWith("text/html"));
  EXPECT_EQ(index.header("Cache-Control"), "no-cache");
  EXPECT_EQ(index.header("Vary"), "Accept-Encoding");
  expect_security_headers(index);
  EXPECT_THAT(index.body, HasSubstr("<meta name=\"berth-base\" content=\"\""));
  EXPECT_THAT(script_of(index.body), StartsWith("/assets/"));

  const std::string etag = index.header("ETag");
  ASSERT_FALSE(etag.empty());
  const auto again = http.get("/", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.header("ETag"), etag);
  expect_security_headers(again);
}

TEST_F(UiServing, AssetsArePrecompressedAndImmutable) {
  BerthProcess berth;
  HttpClient http("127.0.0.1", berth.port());
  const std::string script = script_of(http.get("/").body);
  ASSERT_FALSE(script.empty());

  const auto raw = http.get(script);
  ASSERT_EQ(raw.status, 200u) << raw.body;
  EXPECT_THAT(raw.header("Content-Type"), StartsWith("text/javascript"));
  EXPECT_EQ(raw.header("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(raw.header("Vary"), "Accept-Encoding");
  EXPECT_FALSE(raw.has_header("Content-Encoding"));
  expect_security_headers(raw);

  const auto gz = http.get(script, {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(gz.status, 200u);
  EXPECT_EQ(gz.header("Content-Encoding"), "gzip");
  ASSERT_GE(gz.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz.body[0]), 0x1f);  // the gzip magic number
  EXPECT_EQ(static_cast<unsigned char>(gz.body[1]), 0x8b);
  EXPECT_LT(gz.body.size(), raw.body.size());

  const auto br = http.get(script, {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_EQ(br.status, 200u);
  EXPECT_EQ(br.header("Content-Encoding"), "br");
  EXPECT_NE(br.body, gz.body);
  EXPECT_LT(br.body.size(), raw.body.size());
  EXPECT_NE(br.header("ETag"), gz.header("ETag"));

  const auto head = http.head(script, {{"Accept-Encoding", "br"}});
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(br.body.size()));
}

TEST_F(UiServing, DeepLinksGetIndexAndUnknownAssets404) {
  BerthProcess berth;
  HttpClient http("127.0.0.1", berth.port());
  const auto index = http.get("/");
  for (const char* page :
       {"/projects", "/projects/team/repositories/app/web", "/search?q=x", "/admin/users"}) {
    const auto r = http.get(page);
    EXPECT_EQ(r.status, 200u) << page;
    EXPECT_EQ(r.body, index.body) << page;
    EXPECT_EQ(r.header("Cache-Control"), "no-cache") << page;
  }
  const auto missing = http.get("/assets/index-00000000.js");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_THAT(missing.body, HasSubstr("NOT_FOUND"));
  expect_security_headers(missing);
  // The registry's and the API's paths stay theirs.
  EXPECT_EQ(http.get("/v2/").status, 200u);
  EXPECT_THAT(http.get("/api/v0/nothing").body, HasSubstr("no such endpoint"));
  EXPECT_EQ(http.post("/", "").status, 405u);
}

TEST_F(UiServing, UnderAnotherPathTheRootIsNotTheUis) {
  BerthProcess berth({.data = {}, .args = {}, .env = {{"BERTH_UI_PATH", "/console/ui/"}}});
  HttpClient http("127.0.0.1", berth.port());
  const auto index = http.get("/console/ui/");
  ASSERT_EQ(index.status, 200u) << index.body;
  EXPECT_THAT(index.body, HasSubstr("<meta name=\"berth-base\" content=\"/console/ui\""));
  const std::string script = script_of(index.body);
  EXPECT_THAT(script, StartsWith("/console/ui/assets/"));
  EXPECT_EQ(http.get(script).status, 200u);
  EXPECT_EQ(http.get("/console/ui/projects/x").body, index.body);

  const auto bare = http.get("/console/ui");
  EXPECT_EQ(bare.status, 302u);
  EXPECT_EQ(bare.header("Location"), "/console/ui/");
  EXPECT_EQ(http.get("/").header("Location"), "/console/ui/");
  EXPECT_EQ(http.get("/projects").status, 404u);
  EXPECT_EQ(http.get(script.substr(std::string("/console/ui").size())).status, 404u);
}

TEST(UiDisabled, NothingButTheRegistryAndTheApiAnswer) {
  BerthProcess berth({.data = {}, .args = {}, .env = {{"BERTH_UI_ENABLED", "false"}}});
  HttpClient http("127.0.0.1", berth.port());
  for (const char* path : {"/", "/projects", "/index.html"}) {
    const auto r = http.get(path);
    EXPECT_EQ(r.status, 404u) << path;
    EXPECT_THAT(r.body, HasSubstr("no such endpoint")) << path;
  }
  EXPECT_EQ(http.get("/v2/").status, 200u);
}

TEST(UiNotBuilt, TheUiPathSaysSo) {
  if (kBuilt) {
    GTEST_SKIP() << "berth was built with the UI (UiServing covers it)";
  }
  BerthProcess berth;
  HttpClient http("127.0.0.1", berth.port());
  const auto r = http.get("/");
  EXPECT_EQ(r.status, 404u);
  EXPECT_THAT(r.body, HasSubstr("not built into this berth"));
}

}  // namespace
}  // namespace berth::testing
