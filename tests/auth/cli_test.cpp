// The account commands (`berth user`, `project`, `project member`, `robot`) run against the
// data directory of a berth that is serving, and the server honours each change at once: no
// restart, no cache to wait for.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::error_code;

constexpr char kCiPassword[] = "ci-user-password-1";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A command is another process: what it changes reaches a server's auth caches within
    // auth.cache_sync (cache_revocation_test.cpp asserts that bound by polling). These tests
    // are about what the commands change, so this server answers every request from the
    // database: "the next request" sees the change without waiting.
    server_ =
        std::make_unique<AuthServer>(AuthServerOptions{.env = {{"BERTH_AUTH_CACHE_SYNC", "0"}}});
    http_ = server_->client();
  }

  CommandResult berth(std::vector<std::string> args, std::string_view input = {}) {
    args.push_back("--data");
    args.push_back(server_->data().string());
    return run_berth(args, input);
  }

  HttpResponse upload_blob(const std::string& repo, const std::string& authorization_value) {
    const std::string blob = testing::random_bytes(32);
    return http_->post(
        "/v2/" + repo + "/blobs/uploads/?digest=" + testing::sha256_digest(blob), blob,
        {{"Authorization", authorization_value}, {"Content-Type", "application/octet-stream"}});
  }

  std::unique_ptr<AuthServer> server_;
  std::unique_ptr<HttpClient> http_;
};

#define EXPECT_COMMAND_OK(result) \
  EXPECT_EQ((result).status, 0) << "stdout: " << (result).out << "\nstderr: " << (result).err

TEST_F(CliTest, AccountCommandsTakeEffectInTheRunningServer) {
  // A user, added on the command line, logs in right away.
  const auto added =
      berth({"user", "add", "ci-user", "--password-stdin"}, std::string(kCiPassword) + "\n");
  EXPECT_COMMAND_OK(added);
  EXPECT_NE(added.out.find("added user ci-user"), std::string::npos) << added.out;
  EXPECT_EQ(added.out.find(kCiPassword), std::string::npos);
  const auto listed = berth({"user", "list"});
  EXPECT_COMMAND_OK(listed);
  EXPECT_THAT(listed.out, ::testing::ContainsRegex("\nadmin +database +yes\n")) << listed.out;
  EXPECT_THAT(listed.out, ::testing::ContainsRegex("\nci-user +database +no\n")) << listed.out;
  const TokenQuery ci_push{.basic = std::make_pair("ci-user", kCiPassword),
                           .scopes = {repo_scope("cliproj/app", "pull,push")}};
  const std::string no_role = fetch_token(*http_, ci_push);

  // A project made on the command line exists for the server; without a role, no push.
  EXPECT_COMMAND_OK(berth({"project", "create", "cliproj"}));
  const auto project = server_->admin_api("GET", "/api/v1/projects/cliproj", "", 200);
  EXPECT_FALSE(json_of(project.body).at("public").as_bool());
  const auto refused = upload_blob("cliproj/app", bearer_auth(no_role));
  EXPECT_EQ(refused.status, 403u) << describe(refused);

  // With a role from the command line the next token grants the push.
  EXPECT_COMMAND_OK(berth({"project", "member", "add", "cliproj", "ci-user", "writer"}));
  auto pusher = server_->client();
  use_authorization(*pusher, bearer_auth(fetch_token(*http_, ci_push)));
  push_small_image(*pusher, "cliproj/app", "v1");

  // A robot: the token alone on stdout, the explanation on stderr.
  const auto robot = berth({"robot", "create", "ci-bot", "--project", "cliproj:writer"});
  EXPECT_COMMAND_OK(robot);
  ASSERT_FALSE(robot.out.empty());
  ASSERT_EQ(robot.out.back(), '\n');
  const std::string robot_token = robot.out.substr(0, robot.out.size() - 1);
  EXPECT_EQ(robot_token.find_first_of(" \t\n"), std::string::npos) << robot.out;
  EXPECT_NE(robot.err.find("robot$ci-bot"), std::string::npos) << robot.err;
  const std::string robot_basic = basic_auth("robot$ci-bot", robot_token);
  const auto robot_push = upload_blob("cliproj/app", robot_basic);
  EXPECT_EQ(robot_push.status, 201u) << describe(robot_push);
  const std::string robot_bearer =
      fetch_token(*http_, TokenQuery{.basic = std::make_pair("robot$ci-bot", robot_token),
                                     .scopes = {repo_scope("cliproj/app", "pull,push")}});
  EXPECT_EQ(upload_blob("cliproj/app", bearer_auth(robot_bearer)).status, 201u);
  // Its scope is its project only.
  const auto elsewhere = upload_blob("otherproj/app", robot_basic);
  EXPECT_EQ(elsewhere.status, 403u) << describe(elsewhere);

  // Revoked on the command line: Basic, the token endpoint and the token it already has all
  // stop working at once.
  EXPECT_COMMAND_OK(berth({"robot", "revoke", "ci-bot"}));
  const auto basic_after = upload_blob("cliproj/app", robot_basic);
  EXPECT_EQ(basic_after.status, 401u) << describe(basic_after);
  EXPECT_EQ(
      get_token(*http_, TokenQuery{.basic = std::make_pair("robot$ci-bot", robot_token)}).status,
      401u);
  const auto bearer_after = upload_blob("cliproj/app", bearer_auth(robot_bearer));
  EXPECT_EQ(bearer_after.status, 401u) << describe(bearer_after);
  const auto robots = berth({"robot", "list"});
  EXPECT_COMMAND_OK(robots);
  EXPECT_NE(robots.out.find("ci-bot\tcliproj:writer"), std::string::npos) << robots.out;
  EXPECT_NE(robots.out.find("revoked"), std::string::npos) << robots.out;
  EXPECT_NE(robots.out.find("last used 20"), std::string::npos)
      << "the robot's use was not recorded: " << robots.out;
}

TEST_F(CliTest, PasswordChangeAndDeletionTakeEffectInTheRunningServer) {
  EXPECT_COMMAND_OK(
      berth({"user", "add", "ci-user", "--password-stdin"}, std::string(kCiPassword) + "\n"));
  EXPECT_COMMAND_OK(berth({"project", "create", "cliproj", "--public"}));
  const std::string token =
      fetch_token(*http_, TokenQuery{.basic = std::make_pair("ci-user", kCiPassword),
                                     .scopes = {repo_scope("cliproj/app", "pull")}});

  EXPECT_COMMAND_OK(
      berth({"user", "passwd", "ci-user", "--password-stdin"}, "ci-user-password-2\n"));
  EXPECT_EQ(get_token(*http_, TokenQuery{.basic = std::make_pair("ci-user", kCiPassword)}).status,
            401u);
  EXPECT_EQ(get_token(*http_, TokenQuery{.basic = std::make_pair("ci-user", "ci-user-password-2")})
                .status,
            200u);

  EXPECT_COMMAND_OK(berth({"user", "del", "ci-user"}));
  const auto after = http_->get("/v2/cliproj/app/tags/list", authorization(bearer_auth(token)));
  EXPECT_EQ(after.status, 401u) << "a deleted user's token still works: " << describe(after);
  const auto listed = berth({"user", "list"});
  EXPECT_EQ(listed.out.find("ci-user"), std::string::npos) << listed.out;

  // The project is public: anonymous callers may pull what the administrator pushed.
  auto admin = server_->client();
  use_authorization(*admin, server_->admin_basic());
  const auto image = push_small_image(*admin, "cliproj/app", "v1");
  const auto anonymous = http_->get("/v2/cliproj/app/manifests/v1",
                                    {{"Accept", std::string(testing::media_types::kOciManifest)}});
  EXPECT_EQ(anonymous.status, 200u) << describe(anonymous);
  EXPECT_EQ(anonymous.body, image.manifest);
}

TEST_F(CliTest, CommandsRefuseBadInput) {
  const auto short_password =
      berth({"user", "add", "shorty", "--password-stdin"}, std::string("short\n"));
  EXPECT_NE(short_password.status, 0);
  EXPECT_NE(short_password.err.find("8 characters"), std::string::npos) << short_password.err;
  EXPECT_EQ(get_token(*http_, TokenQuery{.basic = std::make_pair("shorty", "short")}).status, 401u);

  const auto duplicate =
      berth({"user", "add", "admin", "--password-stdin"}, std::string("another-password-1\n"));
  EXPECT_NE(duplicate.status, 0);
  // The administrator's password is unchanged by the refused command.
  EXPECT_EQ(
      get_token(*http_, TokenQuery{.basic = std::make_pair("admin", "another-password-1")}).status,
      401u);

  const auto bad_scope = berth({"robot", "create", "bot", "--project", "no-role-given"});
  EXPECT_NE(bad_scope.status, 0);
  EXPECT_TRUE(bad_scope.out.empty()) << "a token was printed: " << bad_scope.out;
  const auto bad_role = berth({"project", "member", "add", "cliproj", "admin", "emperor"});
  EXPECT_NE(bad_role.status, 0);
  const auto bad_name = berth({"project", "create", "Not_A_Project"});
  EXPECT_NE(bad_name.status, 0);
}

}  // namespace
}  // namespace berth::authtest
