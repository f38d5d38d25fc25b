// A project's quota and immutable tags are an administrator's rules: its owner reads them and
// manages its retention policy, but may not lift the quota or change the immutable patterns,
// nor delete an immutable tag (and push it again over it); an administrator may.
#include <gtest/gtest.h>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::error_code;

constexpr char kOwnerPassword[] = "owner-password-1";

class ProjectRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<AuthServer>(AuthServerOptions{.users = {{"owner1", kOwnerPassword}}});
    server_->create_project("team", false);
    server_->set_member("team", "owner1", "owner");
    http_ = server_->client();
  }

  HttpResponse put_settings(const std::string& authorization_value, const std::string& body) {
    return http_->put(
        "/api/v1/projects/team/settings", body,
        {{"Authorization", authorization_value}, {"Content-Type", "application/json"}});
  }
  HttpResponse as_owner(const std::string& body) {
    return put_settings(basic_auth("owner1", kOwnerPassword), body);
  }
  boost::json::value settings() {
    return json_of(server_->admin_api("GET", "/api/v1/projects/team/settings", "", 200).body);
  }

  std::unique_ptr<AuthServer> server_;
  std::unique_ptr<HttpClient> http_;
};

// Regression: a project owner could lift the quota and the immutable-tag rules an administrator
// had set, with one PUT of the project's settings.
TEST_F(ProjectRulesTest, AnOwnerMayNotLiftTheQuotaOrTheImmutableTags) {
  const std::string rules =
      R"({"quota":{"bytes":1000000,"repositories":3},"immutable_tags":["v*"]})";
  ASSERT_EQ(put_settings(server_->admin_basic(), rules).status, 200u);

  for (const std::string body :
       {R"({"quota":null,"immutable_tags":["v*"]})",
        R"({"quota":{"bytes":2000000,"repositories":3},"immutable_tags":["v*"]})",
        R"({"quota":{"bytes":1000000,"repositories":3},"immutable_tags":[]})",
        R"({"quota":{"bytes":1000000,"repositories":3},"immutable_tags":["v*","x*"]})"}) {
    const auto refused = as_owner(body);
    EXPECT_EQ(refused.status, 403u) << body << ": " << describe(refused);
    EXPECT_EQ(error_code(refused), "DENIED") << body;
    EXPECT_NE(refused.body.find("set by administrators"), std::string::npos) << refused.body;
  }
  EXPECT_EQ(settings().at("quota"), json_of(R"({"bytes":1000000,"repositories":3})"));
  EXPECT_EQ(settings().at("immutable_tags"), json_of(R"(["v*"])"));

  // Retention stays the owner's: a PUT that leaves the rules out keeps them (not reset), one
  // that repeats them unchanged passes.
  const std::string retention = R"({"enabled":true,"rules":{"keep_last":5}})";
  const auto kept = as_owner(R"({"retention":)" + retention + "}");
  ASSERT_EQ(kept.status, 200u) << describe(kept);
  EXPECT_EQ(settings().at("quota"), json_of(R"({"bytes":1000000,"repositories":3})"));
  EXPECT_EQ(settings().at("immutable_tags"), json_of(R"(["v*"])"));
  EXPECT_FALSE(settings().at("retention").is_null());
  EXPECT_EQ(as_owner(rules).status, 200u);

  // An administrator changes them.
  ASSERT_EQ(put_settings(server_->admin_basic(), "{}").status, 200u);
  EXPECT_EQ(settings().at("quota"), json_of(R"({"bytes":null,"repositories":null})"));
  EXPECT_EQ(settings().at("immutable_tags"), json_of("[]"));
}

TEST_F(ProjectRulesTest, DeletingAnImmutableTagNeedsAnAdministrator) {
  ASSERT_EQ(put_settings(server_->admin_basic(), R"({"immutable_tags":["v*"]})").status, 200u);
  auto owner = server_->client();
  use_authorization(*owner, basic_auth("owner1", kOwnerPassword));
  const auto image = push_small_image(*owner, "team/app", "v1");
  for (const std::string& reference : {std::string("v1"), image.digest}) {
    const auto refused = owner->del("/v2/team/app/manifests/" + reference);
    EXPECT_EQ(refused.status, 403u) << reference << ": " << describe(refused);
    EXPECT_NE(refused.body.find("needs an administrator"), std::string::npos) << refused.body;
  }
  auto admin = server_->client();
  use_authorization(*admin, server_->admin_basic());
  const auto deleted = admin->del("/v2/team/app/manifests/v1");
  EXPECT_EQ(deleted.status, 202u) << describe(deleted);
}

}  // namespace
}  // namespace berth::authtest
