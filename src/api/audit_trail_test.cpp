// audit_entry: which requests the audit log records, and as what.
#include "api/audit_trail.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace berth::api {
namespace {

namespace bhttp = boost::beast::http;

std::optional<meta::AuditEntry> entry(bhttp::verb method, const std::string& target,
                                      unsigned status, std::string_view named = "") {
  const Route r = route(target);
  return audit_entry(RequestFacts{.method = method,
                                  .route = r,
                                  .actor = "alice",
                                  .remote = "10.0.0.7",
                                  .status = status,
                                  .named = named});
}

std::string summary(const std::optional<meta::AuditEntry>& e) {
  if (!e) {
    return "-";
  }
  return e->action + " " + e->project + " " + e->target + " " + e->result;
}

TEST(AuditTrail, RegistryChangesNameTheRepositoryAndReference) {
  EXPECT_EQ(summary(entry(bhttp::verb::put, "/v2/app/web/manifests/1.0", 201)),
            "manifest.push app app/web:1.0 ok");
  EXPECT_EQ(summary(entry(bhttp::verb::delete_, "/v2/app/web/manifests/1.0", 202)),
            "tag.delete app app/web:1.0 ok");
  EXPECT_EQ(summary(entry(bhttp::verb::delete_, "/v2/app/web/manifests/sha256:ab", 404)),
            "manifest.delete app app/web@sha256:ab failed");
  auto push = entry(bhttp::verb::put, "/v2/app/web/manifests/1.0", 201);
  ASSERT_TRUE(push);
  EXPECT_EQ(push->actor, "alice");
  EXPECT_EQ(push->remote, "10.0.0.7");
  EXPECT_EQ(push->status, 201);
}

TEST(AuditTrail, ReadsAndUnauthenticatedRequestsAreNotAudited) {
  EXPECT_EQ(summary(entry(bhttp::verb::get, "/v2/app/web/manifests/1.0", 200)), "-");
  EXPECT_EQ(summary(entry(bhttp::verb::put, "/v2/app/web/manifests/1.0", 401)), "-");
  EXPECT_EQ(summary(entry(bhttp::verb::get, "/api/v1/projects", 200)), "-");
  EXPECT_EQ(summary(entry(bhttp::verb::patch, "/v2/app/web/blobs/uploads/x", 202)), "-");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/projects/app/retention/preview", 200)), "-");
}

TEST(AuditTrail, AdminChangesAreObjectAndVerb) {
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/projects", 201, "app")),
            "project.create app app ok");
  EXPECT_EQ(summary(entry(bhttp::verb::delete_, "/api/v1/projects/app?with_images=true", 204)),
            "project.delete app app ok");
  EXPECT_EQ(summary(entry(bhttp::verb::put, "/api/v1/projects/app/members/bob", 204)),
            "member.update app bob ok");
  EXPECT_EQ(summary(entry(bhttp::verb::delete_, "/api/v1/projects/app/members/bob", 403)),
            "member.delete app bob failed");
  EXPECT_EQ(summary(entry(bhttp::verb::put, "/api/v1/projects/app/settings", 200)),
            "project.settings app app ok");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/projects/app/retention/run", 200)),
            "retention.run app app ok");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/users", 201, "bob")), "user.create  bob ok");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/users/bob/unlock", 204)),
            "user.unlock  bob ok");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/robots/ci/revoke", 204)),
            "robot.revoke  ci ok");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/gc", 200)), "gc.run   ok");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/repositories/app/web/delete", 200)),
            "image.delete app app/web ok");
}

// Before, webhook changes fell through to "not a change" and were never recorded.
TEST(AuditTrail, WebhookChangesAreRecorded) {
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/projects/app/webhooks", 201, "a1b2")),
            "webhook.create app a1b2 ok");
  EXPECT_EQ(summary(entry(bhttp::verb::delete_, "/api/v1/projects/app/webhooks/a1b2", 404)),
            "webhook.delete app a1b2 failed");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/webhooks/deliveries/d7/redeliver", 202)),
            "webhook.redeliver  d7 ok");
  EXPECT_EQ(summary(entry(bhttp::verb::get, "/api/v1/projects/app/webhooks", 200)), "-");
}

TEST(AuditTrail, OnlyTheMethodsOfAChangeAreRecorded) {
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/repositories/app/team/web/delete", 200)),
            "image.delete app app/team/web ok");
  EXPECT_EQ(summary(entry(bhttp::verb::patch, "/api/v1/users/bob", 204)), "user.update  bob ok");
  EXPECT_EQ(summary(entry(bhttp::verb::delete_, "/api/v1/robots/ci", 204)), "robot.delete  ci ok");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/repositories/delete", 200)), "-");
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/projects/app/usage", 405)), "-");
  EXPECT_EQ(summary(entry(bhttp::verb::put, "/api/v1/projects/app/members/bob/x", 404)), "-");
}

TEST(AuditTrail, SignInsThroughTheWebUiAndTheTokenEndpoint) {
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/session", 200)), "signin  web UI ok");
  // Failures come from the authenticator (coalesced), not from here.
  EXPECT_EQ(summary(entry(bhttp::verb::post, "/api/v1/session", 429)), "-");
  EXPECT_EQ(summary(entry(bhttp::verb::delete_, "/api/v1/session", 204)), "-");
  EXPECT_EQ(summary(entry(bhttp::verb::get, "/token?service=berth&offline_token=true", 200,
                          "offline token")),
            "signin  offline token ok");
  // An access token per pull session: no entry (no database write per pull).
  EXPECT_EQ(summary(entry(bhttp::verb::get, "/token?service=berth", 200)), "-");
}

}  // namespace
}  // namespace berth::api
