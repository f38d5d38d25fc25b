// How access control turns on. First start with auth.enabled=true and no BERTH_ADMIN_PASSWORD:
// a generated password for "admin" is logged exactly once and works (also after a restart,
// which does not log it again). With BERTH_ADMIN_PASSWORD it is never printed. With no
// configuration at all berth is open to everyone and warns about it at start.
#include <gtest/gtest.h>

#include <regex>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// What the caller is, by /api/v1/me with a token from /token.
boost::json::object me(HttpClient& http, const std::string& user, const std::string& password) {
  const std::string token = fetch_token(
      http, TokenQuery{.basic = std::make_pair(user, password), .scopes = {"registry:admin:*"}});
  const auto response = http.get("/api/v1/me", authorization(bearer_auth(token)));
  if (response.status != 200) {
    throw std::runtime_error("GET /api/v1/me: " + describe(response));
  }
  return json_of(response.body).as_object();
}

TEST(BootstrapTest, GeneratedAdminPasswordIsLoggedOnceAndWorks) {
  TempDir dir;
  BerthOptions options;
  options.data = dir.path() / "data";
  // Empty counts as unset; the test must not inherit one from its environment.
  options.env = {{"BERTH_AUTH_ENABLED", "true"}, {"BERTH_ADMIN_PASSWORD", ""}};
  std::string password;
  {
    BerthProcess server(options);
    const std::string log = wait_for_log(server, "created the administrator");
    std::smatch match;
    ASSERT_TRUE(std::regex_search(
        log, match, std::regex("created the administrator 'admin' with the password (\\S+)")))
        << log;
    password = match[1];
    EXPECT_GE(password.size(), 16u) << "a short generated password: " << password;
    EXPECT_EQ(count(log, password), 1u) << "the password is logged more than once:\n" << log;

    HttpClient http("127.0.0.1", server.port());
    const auto who = me(http, "admin", password);
    EXPECT_EQ(who.at("name").as_string(), "admin");
    EXPECT_TRUE(who.at("admin").as_bool());
    EXPECT_TRUE(who.at("access_control").as_bool());
    // Access control is really on: anonymous callers are challenged.
    EXPECT_EQ(http.get("/v2/").status, 401u);
    EXPECT_EQ(server.stop(), 0) << server.log();
  }
  {
    BerthProcess again(options);
    // Everything of the start is in the log once the start's last line is.
    const std::string log = wait_for_log(again, "berth listening");
    EXPECT_EQ(log.find("created the administrator"), std::string::npos) << log;
    EXPECT_EQ(log.find(password), std::string::npos) << "logged again at the second start";
    HttpClient http("127.0.0.1", again.port());
    EXPECT_TRUE(me(http, "admin", password).at("admin").as_bool());
    EXPECT_EQ(again.stop(), 0) << again.log();
  }
}

// The signing key is made once, readable by its owner only, and kept: tokens issued before a
// restart still work after it (docker keeps using them for minutes).
TEST(BootstrapTest, SigningKeyIsPrivateAndSurvivesRestarts) {
  TempDir dir;
  BerthOptions options;
  options.data = dir.path() / "data";
  options.env = {{"BERTH_ADMIN_PASSWORD", "chosen-admin-password-1"}};
  std::string token;
  {
    BerthProcess server(options);
    HttpClient http("127.0.0.1", server.port());
    token =
        fetch_token(http, TokenQuery{.basic = std::make_pair("admin", "chosen-admin-password-1"),
                                     .scopes = {"registry:catalog:*"}});
    EXPECT_EQ(server.stop(), 0);
  }
  const fs::path key = options.data / "auth" / "token-signing.pem";
  ASSERT_TRUE(fs::exists(key));
  const auto permissions = fs::status(key).permissions();
  EXPECT_EQ(permissions & (fs::perms::group_all | fs::perms::others_all), fs::perms::none)
      << "the signing key is readable by others";
  {
    BerthProcess again(options);
    HttpClient http("127.0.0.1", again.port());
    const auto response = http.get("/v2/_catalog", authorization(bearer_auth(token)));
    EXPECT_EQ(response.status, 200u) << describe(response);
    EXPECT_EQ(again.stop(), 0);
  }
}

TEST(BootstrapTest, GivenAdminPasswordIsNotPrinted) {
  const std::string password = "chosen-admin-password-1";
  BerthOptions options;
  options.env = {{"BERTH_ADMIN_PASSWORD", password}};
  BerthProcess server(options);
  HttpClient http("127.0.0.1", server.port());
  const auto who = me(http, "admin", password);
  EXPECT_TRUE(who.at("admin").as_bool());
  EXPECT_TRUE(who.at("access_control").as_bool()) << "BERTH_ADMIN_PASSWORD turns access control on";
  EXPECT_EQ(
      get_token(http, TokenQuery{.basic = std::make_pair("admin", "some-other-pass-1")}).status,
      401u);
  EXPECT_EQ(server.stop(), 0);
  const std::string log = server.log();
  EXPECT_EQ(log.find(password), std::string::npos) << log;
  EXPECT_EQ(log.find("with the password"), std::string::npos) << log;
  EXPECT_EQ(log.find("access control is off"), std::string::npos) << log;
}

// Found by a new user: creating the administrator from BERTH_ADMIN_PASSWORD said nothing, and
// a changed BERTH_ADMIN_PASSWORD on a later start was silently not applied.
TEST(BootstrapTest, AdminCreationAndAnIgnoredChangedPasswordAreBothLogged) {
  TempDir dir;
  BerthOptions options;
  options.data = dir.path() / "data";
  options.env = {{"BERTH_ADMIN_PASSWORD", "first-admin-password-1"}};
  {
    BerthProcess server(options);
    const std::string log = wait_for_log(server, "berth listening");
    EXPECT_NE(log.find("created the administrator 'admin' from BERTH_ADMIN_PASSWORD"),
              std::string::npos)
        << log;
    EXPECT_EQ(server.stop(), 0);
  }
  {
    BerthProcess same(options);
    const std::string log = wait_for_log(same, "berth listening");
    EXPECT_EQ(log.find("BERTH_ADMIN_PASSWORD is set but not applied"), std::string::npos)
        << "the same password is no change: " << log;
    EXPECT_EQ(same.stop(), 0);
  }
  options.env = {{"BERTH_ADMIN_PASSWORD", "second-admin-password-2"}};
  BerthProcess changed(options);
  const std::string log = wait_for_log(changed, "berth listening");
  EXPECT_NE(log.find("BERTH_ADMIN_PASSWORD is set but not applied"), std::string::npos) << log;
  EXPECT_EQ(log.find("second-admin-password-2"), std::string::npos) << log;
  HttpClient http("127.0.0.1", changed.port());
  EXPECT_EQ(me(http, "admin", "first-admin-password-1").at("admin").as_bool(), true)
      << "the first password still works";
  EXPECT_EQ(changed.stop(), 0);
}

// "auto" also turns access control on when the database has users, e.g. made with `berth user
// add` before the first `berth serve`; an administrator is then made as on any first start.
TEST(BootstrapTest, UsersInTheDatabaseTurnAccessControlOn) {
  TempDir dir;
  const fs::path data = dir.path() / "data";
  const auto added =
      run_berth({"user", "add", "bob", "--init", "--password-stdin", "--data", data.string()},
                "bob-password-1\n");
  ASSERT_EQ(added.status, 0) << added.err;
  BerthOptions options;
  options.data = data;
  options.env = {{"BERTH_ADMIN_PASSWORD", ""}};
  BerthProcess server(options);
  const std::string log = wait_for_log(server, "berth listening");
  EXPECT_EQ(log.find("access control is off"), std::string::npos) << log;
  EXPECT_NE(log.find("created the administrator 'admin' with the password"), std::string::npos)
      << log;
  HttpClient http("127.0.0.1", server.port());
  EXPECT_EQ(http.get("/v2/").status, 401u);
  const std::string blob = testing::random_bytes(16);
  const auto anonymous_push =
      http.post("/v2/anything/app/blobs/uploads/?digest=" + testing::sha256_digest(blob), blob,
                {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(anonymous_push.status, 401u) << describe(anonymous_push);
  EXPECT_FALSE(me(http, "bob", "bob-password-1").at("admin").as_bool());
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST(BootstrapTest, OpenModeAllowsEverythingAndWarns) {
  BerthOptions options;
  // Empty counts as unset; the test must not inherit one from its environment.
  options.env = {{"BERTH_ADMIN_PASSWORD", ""}};
  BerthProcess server(options);
  const std::string log = wait_for_log(server, "access control is off");
  EXPECT_NE(log.find("access control is off"), std::string::npos) << log;

  testing::RegistryClient registry("127.0.0.1", server.port());
  auto& http = registry.http();
  EXPECT_EQ(http.get("/v2/").status, 200u);
  const auto image = registry.push_image("anyone/app", "v1");
  registry.verify_image("anyone/app", image);
  EXPECT_EQ(
      http.put("/v2/anyone/app/manifests/v2", image.manifest, {{"Content-Type", image.media_type}})
          .status,
      201u);
  EXPECT_EQ(http.del("/v2/anyone/app/manifests/v2").status, 202u);
  EXPECT_EQ(testing::json_string_array(http.get("/v2/_catalog").body, "repositories"),
            std::vector<std::string>{"anyone/app"});

  // The admin API needs no credentials either.
  const auto me_response = http.get("/api/v1/me");
  ASSERT_EQ(me_response.status, 200u) << describe(me_response);
  EXPECT_FALSE(json_of(me_response.body).at("access_control").as_bool());
  const auto created = http.post("/api/v1/projects", R"({"name":"open-project","public":false})",
                                 {{"Content-Type", "application/json"}});
  EXPECT_EQ(created.status, 201u) << describe(created);

  // docker login against an open registry still finds a working token endpoint.
  const std::string token =
      fetch_token(http, TokenQuery{.scopes = {repo_scope("anyone/app", "pull,push,delete")}});
  EXPECT_EQ(http.get("/v2/anyone/app/tags/list", authorization(bearer_auth(token))).status, 200u);
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace berth::authtest
