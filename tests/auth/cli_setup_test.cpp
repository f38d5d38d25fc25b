// What a new user tripped over in the account commands and `berth` itself: a wrong --data
// that made an empty database, a project delete that took images without asking, members that
// are no user, htpasswd users missing from `user list`, and help that exited non-zero.
#include <gtest/gtest.h>

#include <fstream>

#include "auth/password.hpp"
#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;

constexpr char kReaderPassword[] = "reader-password-1";

class CliSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto hash = auth::hash_password("htpasswd-password-1", kFastBcryptCost);
    ASSERT_TRUE(hash);
    std::ofstream(htpasswd()) << "carol:" << *hash << "\n";
    AuthServerOptions options;
    options.env["BERTH_AUTH_HTPASSWD"] = htpasswd().string();
    options.users = {{"reader", kReaderPassword}};
    server_ = std::make_unique<AuthServer>(std::move(options));
    std::ofstream(config()) << "data: " << server_->data().string()
                            << "\nauth:\n  htpasswd: " << htpasswd().string() << "\n";
  }

  fs::path htpasswd() const { return dir_.path() / "htpasswd"; }
  fs::path config() const { return dir_.path() / "berth.yaml"; }

  CommandResult berth(std::vector<std::string> args, std::string_view input = {}) {
    args.push_back("--config");
    args.push_back(config().string());
    return run_berth(args, input);
  }

  TempDir dir_;
  std::unique_ptr<AuthServer> server_;
};

#define EXPECT_COMMAND_OK(result) \
  EXPECT_EQ((result).status, 0) << "stdout: " << (result).out << "\nstderr: " << (result).err

TEST_F(CliSetupTest, AWrongDataDirectoryIsRefusedAndNothingIsCreated) {
  const fs::path typo = dir_.path() / "dta";
  for (const std::vector<std::string>& args : {std::vector<std::string>{"project", "create", "ci"},
                                               {"project", "list"},
                                               {"user", "list"},
                                               {"robot", "list"},
                                               {"project", "member", "list", "ci"}}) {
    auto with_data = args;
    with_data.insert(with_data.end(), {"--data", typo.string()});
    const auto result = run_berth(with_data);
    EXPECT_EQ(result.status, 1) << args[0] << " " << args[1] << ": " << result.out << result.err;
    EXPECT_NE(result.err.find("there is no database at " + (typo / "berth.db").string()),
              std::string::npos)
        << result.err;
  }
  const auto add = run_berth({"user", "add", "bob", "--password-stdin", "--data", typo.string()},
                             "bob-password-1\n");
  EXPECT_EQ(add.status, 1) << add.err;
  EXPECT_NE(add.err.find("--init"), std::string::npos)
      << "the refusal names the way out: " << add.err;
  EXPECT_FALSE(fs::exists(typo)) << "a refused command made the data directory";

  const auto init =
      run_berth({"user", "add", "bob", "--init", "--password-stdin", "--data", typo.string()},
                "bob-password-1\n");
  EXPECT_COMMAND_OK(init);
  EXPECT_TRUE(fs::exists(typo / "berth.db"));
}

TEST_F(CliSetupTest, AProjectWithImagesGoesOnlyWithWithImages) {
  server_->create_project("ci", false);
  auto admin = server_->client();
  use_authorization(*admin, server_->admin_basic());
  push_small_image(*admin, "ci/app", "v1");

  const auto refused = berth({"project", "delete", "ci"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("project ci still has 1 repository ("), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("--with-images"), std::string::npos) << refused.err;
  const auto still = admin->get("/v2/ci/app/manifests/v1",
                                {{"Accept", std::string(testing::media_types::kOciManifest)}});
  EXPECT_EQ(still.status, 200u) << "the refused delete took the image: " << describe(still);

  const auto api_refused = server_->admin_api("DELETE", "/api/v1/projects/ci", "", 409);
  EXPECT_NE(api_refused.body.find("with_images=true"), std::string::npos) << api_refused.body;

  const auto deleted = berth({"project", "delete", "ci", "--with-images"});
  EXPECT_COMMAND_OK(deleted);
  EXPECT_NE(deleted.out.find("with its 1 repositories"), std::string::npos) << deleted.out;
  EXPECT_NE(deleted.out.find("the next garbage collection frees"), std::string::npos)
      << deleted.out;
  server_->admin_api("GET", "/api/v1/projects/ci", "", 404);

  // An empty project needs no flag, through the API either.
  server_->create_project("empty", false);
  server_->admin_api("DELETE", "/api/v1/projects/empty", "", 204);
}

TEST_F(CliSetupTest, MembersMustBeUsersAndUserListShowsHtpasswdUsers) {
  server_->create_project("team", false);
  const auto unknown = berth({"project", "member", "add", "team", "nobody", "writer"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("no user nobody"), std::string::npos) << unknown.err;
  EXPECT_COMMAND_OK(berth({"project", "member", "add", "team", "carol", "reader"}));
  EXPECT_COMMAND_OK(berth({"project", "member", "add", "team", "reader", "writer"}));
  const auto members = berth({"project", "member", "list", "team"});
  EXPECT_NE(members.out.find("carol"), std::string::npos) << members.out;
  EXPECT_EQ(members.out.find("nobody"), std::string::npos) << members.out;

  const auto users = berth({"user", "list"});
  EXPECT_COMMAND_OK(users);
  EXPECT_EQ(users.out.rfind("USER", 0), 0u) << "a header first: " << users.out;
  EXPECT_NE(users.out.find("admin"), std::string::npos) << users.out;
  const auto carol = users.out.find("carol");
  ASSERT_NE(carol, std::string::npos) << "the htpasswd user is missing: " << users.out;
  EXPECT_NE(users.out.find("htpasswd", carol), std::string::npos) << users.out;
}

TEST_F(CliSetupTest, ProjectListHasAHeaderAndEachProjectsKind) {
  server_->create_project("ci", true);
  const auto listed = berth({"project", "list"});
  EXPECT_COMMAND_OK(listed);
  EXPECT_EQ(listed.out.rfind("PROJECT", 0), 0u) << listed.out;
  EXPECT_NE(listed.out.find("KIND"), std::string::npos) << listed.out;
  const auto line = listed.out.substr(listed.out.find("\nci ") + 1);
  EXPECT_NE(line.substr(0, line.find('\n')).find("hosted"), std::string::npos) << listed.out;
  EXPECT_NE(line.find("public"), std::string::npos) << listed.out;
}

TEST(BerthHelpTest, VersionHelpAndNoArgumentsSucceed) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, {"version"}, {"help"}, {}, {"--help"}}) {
    const auto result = run_berth(args);
    EXPECT_EQ(result.status, 0) << (args.empty() ? "(no arguments)" : args[0]) << ": "
                                << result.err;
    EXPECT_FALSE(result.out.empty());
  }
  EXPECT_EQ(run_berth({"--version"}).out.rfind("berth ", 0), 0u);
  EXPECT_NE(run_berth({}).out.find("serve"), std::string::npos) << "no arguments print the help";
  EXPECT_NE(run_berth({"no-such-command"}).status, 0);
}

}  // namespace
}  // namespace berth::authtest
