// The web UI's sign-in against the built berth (the wiring of src/server/app.cpp): the
// administrator made from BERTH_ADMIN_PASSWORD signs in, the cookie works on /api/v1 and
// not on /v2/, and signing out ends it. (The rules in detail, on a fake clock:
// src/api/session_test.cpp.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "berth_process.hpp"
#include "testing/http_client.hpp"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kPassword = "ui-admin-password";

TEST(UiSessionBlackbox, SignInUseAndSignOut) {
  BerthProcess berth({.data = {}, .args = {}, .env = {{"BERTH_ADMIN_PASSWORD", kPassword}}});
  HttpClient http("127.0.0.1", berth.port());
  const auto before = http.get("/api/v1/session");
  ASSERT_EQ(before.status, 200u) << before.body;
  EXPECT_THAT(before.body, HasSubstr("\"access_control\":true"));
  EXPECT_THAT(before.body, HasSubstr("\"signed_in\":false"));

  const auto signed_in = http.post(
      "/api/v1/session", std::string(R"({"username":"admin","password":")") + kPassword + "\"}",
      {{"Content-Type", "application/json"}});
  ASSERT_EQ(signed_in.status, 200u) << signed_in.body;
  const std::string set_cookie = signed_in.header("Set-Cookie");
  ASSERT_THAT(set_cookie, StartsWith("berth_session="));
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const auto token_at = signed_in.body.find("\"csrf_token\":\"");
  ASSERT_NE(token_at, std::string::npos) << signed_in.body;
  const auto token_start = token_at + 14;
  const std::string csrf =
      signed_in.body.substr(token_start, signed_in.body.find('"', token_start) - token_start);

  const auto me = http.get("/api/v1/me", {{"Cookie", cookie}});
  EXPECT_EQ(me.status, 200u) << me.body;
  EXPECT_THAT(me.body, HasSubstr("admin"));
  EXPECT_EQ(http.get("/v2/", {{"Cookie", cookie}}).status, 401u);

  EXPECT_EQ(http.del("/api/v1/session", {{"Cookie", cookie}}).status, 403u);
  EXPECT_EQ(http.del("/api/v1/session", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}).status, 204u);
  const auto after = http.get("/api/v1/me", {{"Cookie", cookie}});
  EXPECT_EQ(after.status, 401u);
  EXPECT_FALSE(after.has_header("WWW-Authenticate"));
}

}  // namespace
}  // namespace berth::testing
