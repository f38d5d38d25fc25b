// What the auth caches remember (verified tokens, who an account is and what it may do, right
// passwords) never outlives a change: revoking a robot, deleting or demoting a user, removing a
// member or making a project private through this server's API is refused on the very next
// request; the same changes made by the `berth` command line (another process) within
// auth.cache_sync. And a wrong password is never remembered: it is refused every time, counts
// toward the lockout, and a lockout refuses even a password the server remembers.
//
// A request is "let in" when the gate passes it: tags/list of a repository that does not exist
// answers 404 then, and 401 or 403 when the gate refuses.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using namespace std::chrono_literals;
using testing::describe;

constexpr std::string_view kTags = "/v2/team/app/tags/list";

unsigned tags_status(HttpClient& http, const std::string& credentials) {
  return http.get(kTags, authorization(credentials)).status;
}

std::string pull_token(HttpClient& http, const std::string& user, const std::string& secret) {
  return fetch_token(http, TokenQuery{.basic = std::make_pair(user, secret),
                                      .scopes = {repo_scope("team/app", "pull")}});
}

// Polls until `status()` is not 404 (the gate refuses), for at most `bound`; how long it took.
template <class Status>
std::chrono::milliseconds until_refused(Status status, std::chrono::milliseconds bound,
                                        unsigned& last) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    last = status();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (last != 404u || took > bound) {
      return took;
    }
    std::this_thread::sleep_for(20ms);
  }
}

TEST(CacheRevocationTest, ChangesThroughTheApiAreRefusedOnTheNextRequest) {
  AuthServer server(AuthServerOptions{.users = {{"alice", "alice-password-1"},
                                                {"bob", "bob-password-1"},
                                                {"carol", "carol-password-1"}}});
  server.create_project("team", false);
  server.set_member("team", "alice", "reader");
  server.admin_api("PATCH", "/api/v1/users/bob", R"({"admin":true})", 204);
  const std::string robot = server.create_robot("ci", {{"team", "reader"}});
  auto http = server.client();

  const auto alice = bearer_auth(pull_token(*http, "alice", "alice-password-1"));
  const auto bob = bearer_auth(pull_token(*http, "bob", "bob-password-1"));
  const auto ci = bearer_auth(pull_token(*http, "robot$ci", robot));
  const auto carol_basic = basic_auth("carol", "carol-password-1");
  server.set_member("team", "carol", "reader");
  // Twice each: the second answer comes from what the server remembers.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(tags_status(*http, alice), 404u);
    ASSERT_EQ(tags_status(*http, bob), 404u);
    ASSERT_EQ(tags_status(*http, ci), 404u);
    ASSERT_EQ(tags_status(*http, carol_basic), 404u);
  }

  server.admin_api("POST", "/api/v1/robots/ci/revoke", "", 204);
  EXPECT_EQ(tags_status(*http, ci), 401u) << "a revoked robot";
  server.admin_api("DELETE", "/api/v1/projects/team/members/alice", "", 204);
  EXPECT_EQ(tags_status(*http, alice), 403u) << "a member removed";
  server.admin_api("PATCH", "/api/v1/users/bob", R"({"admin":false})", 204);
  EXPECT_EQ(tags_status(*http, bob), 403u) << "an administrator demoted";
  server.admin_api("DELETE", "/api/v1/users/carol", "", 204);
  EXPECT_EQ(tags_status(*http, carol_basic), 401u) << "a user deleted (Basic)";

  // A public project made private: anonymous pulls are refused on the next request.
  server.create_project("open", true);
  const std::string open_tags = "/v2/open/app/tags/list";
  ASSERT_EQ(http->get(open_tags).status, 404u);
  ASSERT_EQ(http->get(open_tags).status, 404u);
  server.admin_api("PATCH", "/api/v1/projects/open", R"({"public":false})", 204);
  const auto closed = http->get(open_tags);
  EXPECT_EQ(closed.status, 401u) << describe(closed);
}

TEST(CacheRevocationTest, ChangesByTheCommandLineAreRefusedWithinTheSyncInterval) {
  AuthServer server(AuthServerOptions{.env = {{"BERTH_AUTH_CACHE_SYNC", "300ms"}},
                                      .users = {{"alice", "alice-password-1"}}});
  server.create_project("team", false);
  server.set_member("team", "alice", "reader");
  const std::string robot = server.create_robot("ci", {{"team", "reader"}});
  auto http = server.client();
  const auto ci = bearer_auth(pull_token(*http, "robot$ci", robot));
  const auto alice = basic_auth("alice", "alice-password-1");
  ASSERT_EQ(tags_status(*http, ci), 404u);
  ASSERT_EQ(tags_status(*http, ci), 404u);
  ASSERT_EQ(tags_status(*http, alice), 404u);
  ASSERT_EQ(tags_status(*http, alice), 404u);

  const auto data = server.data().string();
  const auto revoked = run_berth({"robot", "revoke", "ci", "--data", data});
  ASSERT_EQ(revoked.status, 0) << revoked.out << revoked.err;
  unsigned last = 0;
  // The bound is the sync interval plus what a loaded test machine adds; never the point of
  // the test, which is that it ends at all without a restart.
  auto took = until_refused([&] { return tags_status(*http, ci); }, 10s, last);
  EXPECT_EQ(last, 401u) << "a robot revoked by the command line, after " << took.count() << " ms";

  const auto removed = run_berth({"project", "member", "remove", "team", "alice", "--data", data});
  ASSERT_EQ(removed.status, 0) << removed.out << removed.err;
  took = until_refused([&] { return tags_status(*http, alice); }, 10s, last);
  EXPECT_EQ(last, 403u) << "a member removed by the command line, after " << took.count() << " ms";
}

TEST(CacheRevocationTest, AWrongPasswordIsNeverRememberedAndALockoutRefusesARightOne) {
  AuthServer server(AuthServerOptions{.env = {{"BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER", "3"}},
                                      .users = {{"alice", "alice-password-1"}}});
  server.create_project("team", false);
  server.set_member("team", "alice", "reader");
  auto http = server.client();
  const auto right = basic_auth("alice", "alice-password-1");
  const auto wrong = basic_auth("alice", "alice-password-2");
  ASSERT_EQ(tags_status(*http, right), 404u);
  ASSERT_EQ(tags_status(*http, right), 404u);
  // Each wrong password is checked and refused, remembered or not the right one.
  EXPECT_EQ(tags_status(*http, wrong), 401u);
  EXPECT_EQ(tags_status(*http, wrong), 401u);
  EXPECT_EQ(
      get_token(*http, TokenQuery{.basic = std::make_pair("alice", "alice-password-2")}).status,
      401u);
  // Three failures, so each wrong password was counted: locked out at this address, the
  // remembered password included.
  EXPECT_EQ(tags_status(*http, right), 429u);
  const auto token =
      get_token(*http, TokenQuery{.basic = std::make_pair("alice", "alice-password-1")});
  EXPECT_EQ(token.status, 429u) << describe(token);

  // A password changed through the API: the old one is refused on the next request.
  server.admin_api("POST", "/api/v1/users/alice/unlock", "", 204);
  ASSERT_EQ(tags_status(*http, right), 404u);
  server.admin_api("PATCH", "/api/v1/users/alice", R"({"password":"alice-password-3"})", 204);
  EXPECT_EQ(tags_status(*http, right), 401u);
  EXPECT_EQ(tags_status(*http, basic_auth("alice", "alice-password-3")), 404u);
}

}  // namespace
}  // namespace berth::authtest
