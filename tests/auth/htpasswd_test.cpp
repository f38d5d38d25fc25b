// An htpasswd file as a second source of users, edited while berth runs: a bcrypt line added
// works without a restart, an MD5 ($apr1$) line is refused with a warning in the log, an
// htpasswd user given a role with the admin API can push, and a line taken out stops the
// user's tokens too.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "auth/password.hpp"
#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::error_code;

// `openssl passwd -apr1 -salt berthslt dave-password-1`: a valid MD5 hash of dave's password,
// so a refusal is about the hash kind, not about a wrong password.
constexpr char kDaveApr1Line[] = "dave:$apr1$berthslt$yTTigB5ktoiAMVJ6Paess.";

std::string bcrypt_line(const std::string& user, std::string_view password) {
  auto hash = auth::hash_password(password, kFastBcryptCost);
  if (!hash) {
    throw std::runtime_error("cannot hash: " + hash.error().message);
  }
  return user + ":" + *hash;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

class HtpasswdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(file(), "# berth test users\n");
    AuthServerOptions options;
    options.env["BERTH_AUTH_HTPASSWD"] = file().string();
    // The test polls with credentials that do not work yet: no lockout for that.
    options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "1000000";
    options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "1000000";
    server_ = std::make_unique<AuthServer>(std::move(options));
    server_->create_project("team", false);
    http_ = server_->client();
  }

  void TearDown() override { EXPECT_EQ(server_->process().stop(), 0) << server_->log(); }

  fs::path file() const { return dir_.path() / "htpasswd"; }

  unsigned login_status(const std::string& user, const std::string& password) {
    return get_token(*http_, TokenQuery{.basic = std::make_pair(user, password)}).status;
  }

  // Waits until a login answers `status`: the file is re-read at most once a second.
  bool wait_for_login(const std::string& user, const std::string& password, unsigned status) {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (std::chrono::steady_clock::now() < deadline) {
      if (login_status(user, password) == status) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<AuthServer> server_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(HtpasswdTest, UserAddedWhileRunningCanLogInAndPushWithARole) {
  EXPECT_EQ(login_status("carol", kCarolPassword), 401u) << "carol is not in the file yet";

  // Edited in place, as `htpasswd -B` does.
  {
    std::ofstream out(file(), std::ios::binary | std::ios::app);
    out << bcrypt_line("carol", kCarolPassword) << "\n" << kDaveApr1Line << "\n";
  }
  ASSERT_TRUE(wait_for_login("carol", kCarolPassword, 200))
      << "carol could not log in after being added to the htpasswd file\n"
      << server_->log();
  EXPECT_EQ(login_status("carol", "carol-wrong-password"), 401u);

  // The MD5 line was read in the same pass, and refused, with a log line naming the user.
  EXPECT_EQ(login_status("dave", kDavePassword), 401u) << "an $apr1$ (MD5) line was accepted";
  const std::string log = server_->log();
  bool warned = false;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("dave") != std::string::npos &&
        (line.find("warn") != std::string::npos || line.find("WARN") != std::string::npos)) {
      warned = true;
    }
  }
  EXPECT_TRUE(warned) << "no warning about dave's MD5 line in the log:\n" << log;
  EXPECT_EQ(log.find("yTTigB5ktoiAMVJ6Paess"), std::string::npos) << "the log shows dave's hash";

  // Without a role carol may not push; with writer from the admin API she may.
  const TokenQuery push_query{.basic = std::make_pair("carol", kCarolPassword),
                              .scopes = {repo_scope("team/app", "pull,push")}};
  const std::string no_role = fetch_token(*http_, push_query);
  const std::string blob = testing::random_bytes(32);
  const auto refused = http_->post(
      "/v2/team/app/blobs/uploads/?digest=" + testing::sha256_digest(blob), blob,
      {{"Authorization", bearer_auth(no_role)}, {"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(refused.status, 403u) << describe(refused);
  EXPECT_EQ(error_code(refused), "DENIED");

  server_->set_member("team", "carol", "writer");
  // A member that exists nowhere is refused by the same endpoint.
  const auto nobody = server_->client()->put(
      "/api/v1/projects/team/members/nobody", R"({"role":"writer"})",
      {{"Authorization", server_->admin_basic()}, {"Content-Type", "application/json"}});
  EXPECT_EQ(nobody.status, 404u) << describe(nobody);

  auto pusher = server_->client();
  use_authorization(*pusher, bearer_auth(fetch_token(*http_, push_query)));
  const auto image = push_small_image(*pusher, "team/app", "carol");
  const auto pulled = pusher->get("/v2/team/app/manifests/carol",
                                  {{"Accept", std::string(testing::media_types::kOciManifest)}});
  EXPECT_EQ(pulled.status, 200u) << describe(pulled);
  EXPECT_EQ(pulled.body, image.manifest);
  // Plain Basic on /v2 works for her too.
  const auto basic = http_->get("/v2/team/app/manifests/carol",
                                {{"Authorization", basic_auth("carol", kCarolPassword)},
                                 {"Accept", std::string(testing::media_types::kOciManifest)}});
  EXPECT_EQ(basic.status, 200u) << describe(basic);
}

TEST_F(HtpasswdTest, LineRemovedWhileRunningEndsTheUsersTokens) {
  write_file(file(), bcrypt_line("carol", kCarolPassword) + "\n");
  ASSERT_TRUE(wait_for_login("carol", kCarolPassword, 200)) << server_->log();
  server_->set_member("team", "carol", "reader");
  auto admin = server_->client();
  use_authorization(*admin, server_->admin_basic());
  push_small_image(*admin, "team/app", "v1");
  const std::string token =
      fetch_token(*http_, TokenQuery{.basic = std::make_pair("carol", kCarolPassword),
                                     .scopes = {repo_scope("team/app", "pull")}});
  ASSERT_EQ(http_->get("/v2/team/app/tags/list", authorization(bearer_auth(token))).status, 200u);

  // Replaced by a new file (a new inode) without carol.
  const fs::path replacement = dir_.path() / "htpasswd.new";
  write_file(replacement, "# nobody\n");
  fs::rename(replacement, file());
  ASSERT_TRUE(wait_for_login("carol", kCarolPassword, 401)) << server_->log();
  const auto after = http_->get("/v2/team/app/tags/list", authorization(bearer_auth(token)));
  EXPECT_EQ(after.status, 401u) << "a removed htpasswd user's token still works: "
                                << describe(after);
}

TEST_F(HtpasswdTest, ChangedPasswordLineReplacesTheOldPassword) {
  write_file(file(), bcrypt_line("carol", kCarolPassword) + "\n");
  ASSERT_TRUE(wait_for_login("carol", kCarolPassword, 200)) << server_->log();
  // Same size as before, and maybe within the same file-time tick: a new file renamed into
  // place (a new inode) is a change the server can always see.
  const fs::path replacement = dir_.path() / "htpasswd.new";
  write_file(replacement, bcrypt_line("carol", "carol-password-2") + "\n");
  fs::rename(replacement, file());
  ASSERT_TRUE(wait_for_login("carol", "carol-password-2", 200)) << server_->log();
  EXPECT_EQ(login_status("carol", kCarolPassword), 401u) << "the old password still works";
}

// Regression: a password changed in the htpasswd file left that user's refresh tokens valid
// (a database user's change revokes them), so a stolen `docker login` stayed good for 30 days.
// Sessions are bound to the password line they were made with (a fingerprint of it is stored
// with the refresh token, so no memory of the old file is needed, across restarts too); a new
// line ends them, access tokens included.
TEST_F(HtpasswdTest, ChangedPasswordLineEndsTheUsersSessions) {
  write_file(file(), bcrypt_line("carol", kCarolPassword) + "\n");
  ASSERT_TRUE(wait_for_login("carol", kCarolPassword, 200)) << server_->log();
  server_->set_member("team", "carol", "reader");
  const auto issued = get_token(*http_, TokenQuery{.basic = std::make_pair("carol", kCarolPassword),
                                                   .scopes = {repo_scope("team/app", "pull")},
                                                   .offline = true});
  ASSERT_EQ(issued.status, 200u) << describe(issued);
  const auto body = json_of(issued.body).as_object();
  const std::string token(body.at("token").as_string());
  const std::string refresh(body.at("refresh_token").as_string());
  const std::vector<std::pair<std::string, std::string>> grant{
      {"grant_type", "refresh_token"},
      {"refresh_token", refresh},
      {"service", "berth"},
      {"scope", repo_scope("team/app", "pull")}};
  ASSERT_EQ(post_token(*http_, grant).status, 200u) << "the refresh token works at first";
  ASSERT_EQ(http_->get("/v2/team/app/tags/list", authorization(bearer_auth(token))).status, 404u)
      << "the access token works at first (an empty repository)";

  const fs::path replacement = dir_.path() / "htpasswd.new";
  write_file(replacement, bcrypt_line("carol", "carol-password-2") + "\n");
  fs::rename(replacement, file());
  ASSERT_TRUE(wait_for_login("carol", "carol-password-2", 200)) << server_->log();
  const auto refreshed = post_token(*http_, grant);
  EXPECT_EQ(refreshed.status, 401u)
      << "a refresh token from before the change: " << describe(refreshed);
  EXPECT_EQ(refreshed.body.find("access_token"), std::string::npos);
  const auto pulled = http_->get("/v2/team/app/tags/list", authorization(bearer_auth(token)));
  EXPECT_EQ(pulled.status, 401u) << "an access token from before the change: " << describe(pulled);
}

}  // namespace
}  // namespace berth::authtest
