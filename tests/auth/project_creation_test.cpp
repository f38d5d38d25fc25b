// Pushing into a project that does not exist: with the default (auth.create_projects_on_push =
// admins) a user is refused and nothing is created, an administrator creates it; with "users"
// a user creates it and becomes its owner (robots still may not); with "nobody" no one does.
#include <gtest/gtest.h>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::error_code;

constexpr char kNewbiePassword[] = "newbie-password-1";

std::string push_token(HttpClient& http, const std::string& user, const std::string& password,
                       const std::string& repo) {
  return fetch_token(http, TokenQuery{.basic = std::make_pair(user, password),
                                      .scopes = {repo_scope(repo, "pull,push")}});
}

HttpResponse upload_blob(HttpClient& http, const std::string& repo,
                         const std::string& authorization_value) {
  const std::string blob = testing::random_bytes(32);
  return http.post(
      "/v2/" + repo + "/blobs/uploads/?digest=" + testing::sha256_digest(blob), blob,
      {{"Authorization", authorization_value}, {"Content-Type", "application/octet-stream"}});
}

std::string message_of(const HttpResponse& response) {
  const auto body = json_of(response.body).as_object();
  return std::string(body.at("errors").as_array().at(0).as_object().at("message").as_string());
}

unsigned project_status(AuthServer& server, const std::string& project) {
  return server.client()
      ->get("/api/v1/projects/" + project, authorization(server.admin_basic()))
      .status;
}

TEST(ProjectCreationTest, ByDefaultOnlyAdministratorsCreateProjectsByPushing) {
  AuthServer server(AuthServerOptions{.users = {{"newbie", kNewbiePassword}}});
  auto http = server.client();

  // The token grants nothing for a project the user may not create...
  const std::string token = push_token(*http, "newbie", kNewbiePassword, "fresh/app");
  EXPECT_TRUE(decode_jwt(token).payload.at("access").as_array().empty())
      << boost::json::serialize(decode_jwt(token).payload);
  // ...and the push is refused, with a token and with Basic alike.
  for (const auto& credentials : {bearer_auth(token), basic_auth("newbie", kNewbiePassword)}) {
    const auto response = upload_blob(*http, "fresh/app", credentials);
    EXPECT_EQ(response.status, 403u) << describe(response);
    EXPECT_EQ(error_code(response), "DENIED");
  }
  EXPECT_EQ(project_status(server, "fresh"), 404u) << "a refused push created the project";

  // The administrator's push creates it (private, and without making the admin a member).
  auto admin = server.client();
  use_authorization(*admin, bearer_auth(push_token(*http, "admin", std::string(kAdminPassword),
                                                   "adminmade/app")));
  push_small_image(*admin, "adminmade/app", "v1");
  const auto project = server.admin_api("GET", "/api/v1/projects/adminmade", "", 200);
  EXPECT_FALSE(json_of(project.body).at("public").as_bool()) << project.body;
  // Private: newbie may not pull from it.
  const auto pulled = http->get("/v2/adminmade/app/tags/list",
                                authorization(basic_auth("newbie", kNewbiePassword)));
  EXPECT_EQ(pulled.status, 403u) << describe(pulled);
}

TEST(ProjectCreationTest, WithUsersSettingTheCreatorBecomesOwner) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_CREATE_PROJECTS_ON_PUSH"] = "users";
  options.users = {{"newbie", kNewbiePassword}, {"other", "other-password-1"}};
  AuthServer server(std::move(options));
  auto http = server.client();

  const std::string token = push_token(*http, "newbie", kNewbiePassword, "mine/app");
  auto pusher = server.client();
  use_authorization(*pusher, bearer_auth(token));
  const auto image = push_small_image(*pusher, "mine/app", "v1");
  const auto pulled = pusher->get("/v2/mine/app/manifests/v1",
                                  {{"Accept", std::string(testing::media_types::kOciManifest)}});
  EXPECT_EQ(pulled.status, 200u) << describe(pulled);
  EXPECT_EQ(pulled.body, image.manifest);

  EXPECT_EQ(project_status(server, "mine"), 200u);
  const auto members = server.admin_api("GET", "/api/v1/projects/mine/members", "", 200);
  EXPECT_EQ(json_of(members.body), json_of(R"([{"user":"newbie","role":"owner"}])"))
      << members.body;
  // As owner she manages it.
  const auto patched = http->patch("/api/v1/projects/mine", R"({"public":false})",
                                   {{"Authorization", basic_auth("newbie", kNewbiePassword)},
                                    {"Content-Type", "application/json"}});
  EXPECT_EQ(patched.status, 204u) << describe(patched);
  // Nobody else may read it.
  const auto other =
      http->get("/v2/mine/app/tags/list", authorization(basic_auth("other", "other-password-1")));
  EXPECT_EQ(other.status, 403u) << describe(other);
  // Another user pushing into newbie's existing project is refused: creation is for new ones.
  const auto intrusion = upload_blob(*http, "mine/app", basic_auth("other", "other-password-1"));
  EXPECT_EQ(intrusion.status, 403u) << describe(intrusion);

  // A robot is not a user: it creates nothing, even with this setting.
  server.create_project("ci", false);
  const std::string robot = server.create_robot("builder", {{"ci", "owner"}});
  const auto by_robot = upload_blob(*http, "robotmade/app", basic_auth("robot$builder", robot));
  EXPECT_EQ(by_robot.status, 403u) << describe(by_robot);
  EXPECT_EQ(project_status(server, "robotmade"), 404u);
}

// Regression: with "users", skopeo and podman could not create a project. Their first request is
// a HEAD of a blob in the project that does not exist yet; it got 403, and they gave up. A caller
// who may create the project finds it empty (404), as it would be once made, and pushes.
TEST(ProjectCreationTest, WithUsersSettingACreatorFindsTheMissingProjectEmpty) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_CREATE_PROJECTS_ON_PUSH"] = "users";
  options.users = {{"newbie", kNewbiePassword}};
  AuthServer server(std::move(options));
  auto http = server.client();
  const std::string digest = testing::sha256_digest("not there");
  const std::string token = push_token(*http, "newbie", kNewbiePassword, "probe/app");
  const auto access = decode_jwt(token).payload.at("access").as_array();
  ASSERT_EQ(access.size(), 1u) << boost::json::serialize(access);
  EXPECT_EQ(boost::json::serialize(access[0].at("actions")), R"(["pull","push"])");
  for (const auto& credentials : {bearer_auth(token), basic_auth("newbie", kNewbiePassword)}) {
    const auto head = http->head("/v2/probe/app/blobs/" + digest, authorization(credentials));
    EXPECT_EQ(head.status, 404u) << describe(head);
    const auto tags = http->get("/v2/probe/app/tags/list", authorization(credentials));
    EXPECT_EQ(tags.status, 404u) << describe(tags);
    EXPECT_EQ(error_code(tags), "NAME_UNKNOWN") << describe(tags);
  }
  EXPECT_EQ(project_status(server, "probe"), 404u) << "looking created the project";
  auto pusher = server.client();
  use_authorization(*pusher, bearer_auth(token));
  push_small_image(*pusher, "probe/app", "v1");
  const auto members = server.admin_api("GET", "/api/v1/projects/probe/members", "", 200);
  EXPECT_EQ(json_of(members.body), json_of(R"([{"user":"newbie","role":"owner"}])"))
      << members.body;

  // Who may not create it is refused as before, and the probe creates nothing either.
  server.create_project("ci", false);
  const std::string robot = server.create_robot("builder", {{"ci", "owner"}});
  const auto by_robot = http->head("/v2/robotmade/app/blobs/" + digest,
                                   authorization(basic_auth("robot$builder", robot)));
  EXPECT_EQ(by_robot.status, 403u) << describe(by_robot);
  EXPECT_EQ(project_status(server, "robotmade"), 404u);
}

// Regression: a user pushing into a project that does not exist was told "alice may not push
// nosuch/app", which sent people looking for a missing role. The refusal says that the project
// does not exist and who may create it.
TEST(ProjectCreationTest, RefusedPushIntoAMissingProjectSaysItDoesNotExistAndWhoCreatesIt) {
  {
    AuthServer server(AuthServerOptions{.users = {{"newbie", kNewbiePassword}}});
    auto http = server.client();
    const std::string token = push_token(*http, "newbie", kNewbiePassword, "nosuch/app");
    for (const auto& credentials : {bearer_auth(token), basic_auth("newbie", kNewbiePassword)}) {
      const auto response = upload_blob(*http, "nosuch/app", credentials);
      ASSERT_EQ(response.status, 403u) << describe(response);
      const std::string message = message_of(response);
      EXPECT_NE(message.find("project 'nosuch' does not exist"), std::string::npos) << message;
      EXPECT_NE(message.find("only administrators create projects"), std::string::npos) << message;
      EXPECT_NE(message.find("berth project create nosuch"), std::string::npos) << message;
    }
    // In a project that exists, the refusal is about the role, and says nothing of creating.
    server.create_project("team", false);
    const auto existing = upload_blob(*http, "team/app", basic_auth("newbie", kNewbiePassword));
    ASSERT_EQ(existing.status, 403u) << describe(existing);
    EXPECT_NE(message_of(existing).find("newbie may not push team/app"), std::string::npos)
        << message_of(existing);
    EXPECT_EQ(message_of(existing).find("does not exist"), std::string::npos)
        << message_of(existing);
  }
  {
    AuthServerOptions options;
    options.env["BERTH_AUTH_CREATE_PROJECTS_ON_PUSH"] = "users";
    AuthServer server(std::move(options));
    server.create_project("ci", false);
    const std::string robot = server.create_robot("builder", {{"ci", "owner"}});
    const auto response =
        upload_blob(*server.client(), "nosuch/app", basic_auth("robot$builder", robot));
    ASSERT_EQ(response.status, 403u) << describe(response);
    EXPECT_NE(message_of(response).find("robot accounts do not create projects"), std::string::npos)
        << message_of(response);
  }
  {
    AuthServerOptions options;
    options.env["BERTH_AUTH_CREATE_PROJECTS_ON_PUSH"] = "nobody";
    options.users = {{"newbie", kNewbiePassword}};
    AuthServer server(std::move(options));
    const auto response =
        upload_blob(*server.client(), "nosuch/app", basic_auth("newbie", kNewbiePassword));
    ASSERT_EQ(response.status, 403u) << describe(response);
    EXPECT_NE(message_of(response).find("pushing creates no projects here"), std::string::npos)
        << message_of(response);
  }
}

// Deleting a project keeps its repositories (auth/account_store.hpp: they are the lifecycle
// layer's business). Whoever makes the project again by pushing must not become the owner of
// what others pushed there before.
TEST(ProjectCreationTest, RecreatingADeletedProjectDoesNotHandOverItsRepositories) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_CREATE_PROJECTS_ON_PUSH"] = "users";
  options.users = {{"mallory", "mallory-password-1"}};
  AuthServer server(std::move(options));
  server.create_project("secret", false);
  auto admin = server.client();
  use_authorization(*admin, server.admin_basic());
  const auto image = push_small_image(*admin, "secret/app", "v1");
  const auto deleted =
      server.client()->del("/api/v1/projects/secret", authorization(server.admin_basic()));
  ASSERT_TRUE(deleted.status == 204 || deleted.status == 409) << describe(deleted);

  auto http = server.client();
  const std::string token = push_token(*http, "mallory", "mallory-password-1", "secret/mine");
  (void)upload_blob(*http, "secret/mine", bearer_auth(token));
  const std::string pull_token =
      fetch_token(*http, TokenQuery{.basic = std::make_pair("mallory", "mallory-password-1"),
                                    .scopes = {repo_scope("secret/app", "pull")}});
  const auto pulled = http->get("/v2/secret/app/manifests/v1",
                                {{"Authorization", bearer_auth(pull_token)},
                                 {"Accept", std::string(testing::media_types::kOciManifest)}});
  EXPECT_NE(pulled.status, 200u) << "a user who re-created a deleted project by pushing reads "
                                    "the repositories pushed there before: "
                                 << describe(pulled);
  EXPECT_NE(pulled.body, image.manifest);
}

TEST(ProjectCreationTest, WithNobodySettingNotEvenAdministratorsCreateByPushing) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_CREATE_PROJECTS_ON_PUSH"] = "nobody";
  AuthServer server(std::move(options));
  auto http = server.client();
  const auto response = upload_blob(*http, "fresh/app", server.admin_basic());
  EXPECT_EQ(response.status, 403u) << describe(response);
  EXPECT_EQ(error_code(response), "DENIED");
  EXPECT_EQ(project_status(server, "fresh"), 404u);
  // Creating it explicitly still works, and then pushing does.
  server.create_project("fresh", false);
  const auto after = upload_blob(*http, "fresh/app", server.admin_basic());
  EXPECT_EQ(after.status, 201u) << describe(after);
}

}  // namespace
}  // namespace berth::authtest
