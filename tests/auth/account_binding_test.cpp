// Tokens belong to an account, not to a name: a user deleted and made again under the same name
// is a new account, and the old account's tokens do nothing for it. And a user who changes
// their own password through the API proves they know the current one (a stolen token is not
// enough to take the account over); an administrator resetting another's password need not.
#include <gtest/gtest.h>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::error_code;

// Regression: tokens were bound to the account's name. Delete user tmp2, create a new tmp2, and
// the old token worked as the new account, and could even change its password.
TEST(AccountBindingTest, TokensOfADeletedUserDoNothingForItsNamesake) {
  AuthServer server;
  server.create_project("team", false);
  server.admin_api("POST", "/api/v1/users", R"({"name":"tmp2","password":"first-password-1"})",
                   201);
  server.set_member("team", "tmp2", "reader");
  auto http = server.client();
  const std::string token = fetch_token(
      *http, TokenQuery{.basic = std::make_pair("tmp2", "first-password-1"),
                        .scopes = {repo_scope("team/app", "pull"), "registry:admin:*"}});
  const auto before = http->get("/api/v1/me", authorization(bearer_auth(token)));
  ASSERT_EQ(before.status, 200u) << "the token works at first: " << describe(before);

  server.admin_api("DELETE", "/api/v1/users/tmp2", "", 204);
  server.admin_api("POST", "/api/v1/users", R"({"name":"tmp2","password":"second-password-2"})",
                   201);
  server.set_member("team", "tmp2", "reader");

  const auto me = http->get("/api/v1/me", authorization(bearer_auth(token)));
  EXPECT_EQ(me.status, 401u) << describe(me);
  const auto pulled = http->get("/v2/team/app/tags/list", authorization(bearer_auth(token)));
  EXPECT_EQ(pulled.status, 401u) << describe(pulled);
  const auto takeover =
      http->patch("/api/v1/users/tmp2",
                  R"({"password":"mallory-password-3","current_password":"second-password-2"})",
                  {{"Authorization", bearer_auth(token)}, {"Content-Type", "application/json"}});
  EXPECT_EQ(takeover.status, 401u) << describe(takeover);
  // The new account is untouched and works with its own password.
  const auto fresh =
      get_token(*http, TokenQuery{.basic = std::make_pair("tmp2", "second-password-2")});
  EXPECT_EQ(fresh.status, 200u) << describe(fresh);
}

TEST(AccountBindingTest, ChangingYourOwnPasswordNeedsTheCurrentOne) {
  AuthServer server(AuthServerOptions{.users = {{"alice", "alice-password-1"}}});
  auto http = server.client();
  const std::string token =
      fetch_token(*http, TokenQuery{.basic = std::make_pair("alice", "alice-password-1"),
                                    .scopes = {"registry:admin:*"}});
  const HttpHeaders as_alice{{"Authorization", bearer_auth(token)},
                             {"Content-Type", "application/json"}};

  const auto without =
      http->patch("/api/v1/users/alice", R"({"password":"taken-over-1"})", as_alice);
  EXPECT_EQ(without.status, 400u) << describe(without);
  EXPECT_NE(without.body.find("current_password"), std::string::npos) << without.body;
  const auto wrong =
      http->patch("/api/v1/users/alice",
                  R"({"password":"taken-over-1","current_password":"a-guess-1"})", as_alice);
  EXPECT_EQ(wrong.status, 403u) << describe(wrong);
  EXPECT_EQ(error_code(wrong), "DENIED");
  EXPECT_EQ(get_token(*http, TokenQuery{.basic = std::make_pair("alice", "taken-over-1")}).status,
            401u)
      << "a refused change changed the password";
  // A wrong current password is a failed login like any other: logged, and counted.
  EXPECT_NE(server.log().find("failed login of user 'alice' from 127.0.0.1: wrong password"),
            std::string::npos)
      << server.log();

  const auto right = http->patch(
      "/api/v1/users/alice",
      R"({"password":"alice-password-2","current_password":"alice-password-1"})", as_alice);
  EXPECT_EQ(right.status, 204u) << describe(right);
  EXPECT_EQ(
      get_token(*http, TokenQuery{.basic = std::make_pair("alice", "alice-password-2")}).status,
      200u);

  // An administrator resets another's password without knowing it.
  server.admin_api("PATCH", "/api/v1/users/alice", R"({"password":"reset-by-admin-1"})", 204);
  EXPECT_EQ(
      get_token(*http, TokenQuery{.basic = std::make_pair("alice", "reset-by-admin-1")}).status,
      200u);
  // An administrator changing their own needs it too.
  const auto own =
      http->patch("/api/v1/users/admin", R"({"password":"new-admin-secret-1"})",
                  {{"Authorization", server.admin_basic()}, {"Content-Type", "application/json"}});
  EXPECT_EQ(own.status, 400u) << describe(own);
}

}  // namespace
}  // namespace berth::authtest
