// Password guessing: failed logins are limited per client address and per user name at that
// address, over the token endpoint and Basic on /v2 alike; past the limit even the right password
// from that address gets 429 TOOMANYREQUESTS with a clear message, within the window, while the
// user signs in from elsewhere and robots are never locked by name. Failures and lockouts are
// logged; an administrator lifts a lockout. And the server log, with debug and access logging
// on, never shows a password, a robot token, an access or a refresh token.
#include <gtest/gtest.h>

#include <algorithm>
#include <latch>
#include <thread>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::error_code;

constexpr char kVictimPassword[] = "victim-password-1";

// 429 with the code and a message saying what happened and when to come back.
void expect_throttled(const HttpResponse& response, const std::string& what) {
  EXPECT_EQ(response.status, 429u) << what << ": " << describe(response);
  EXPECT_EQ(error_code(response), "TOOMANYREQUESTS") << what;
  EXPECT_NE(response.body.find("too many failed logins"), std::string::npos)
      << what << ": " << response.body;
  EXPECT_NE(response.body.find("try again"), std::string::npos) << what << ": " << response.body;
  EXPECT_EQ(response.body.find("token\""), std::string::npos) << what << ": a token was issued";
}

// Regression: failures per user name counted from every address, so ten wrong passwords from
// anywhere locked the user out everywhere, the right password from another address included:
// anyone could lock out the administrator or a CI robot for good.
TEST(BruteForceTest, FailuresPerUserLockOnlyTheAddressTheyCameFrom) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "3";
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "1000";
  options.env["BERTH_AUTH_LOGIN_FAILURE_WINDOW"] = "1h";
  options.users = {{"victim", kVictimPassword}, {"bystander", "bystander-password-1"}};
  AuthServer server(std::move(options));
  server.create_project("team", true);
  auto http = server.client();

  const std::vector<std::string> guesses = {"guess-one-1", "guess-two-2", "guess-three-3"};
  for (const auto& guess : guesses) {
    const auto response = get_token(*http, TokenQuery{.basic = std::make_pair("victim", guess)});
    EXPECT_EQ(response.status, 401u) << guess << ": " << describe(response);
  }
  // The limit is reached at this address: the right password is refused too, on every way in.
  expect_throttled(get_token(*http, TokenQuery{.basic = std::make_pair("victim", kVictimPassword)}),
                   "GET /token with the right password");
  expect_throttled(post_token(*http, {{"grant_type", "password"},
                                      {"username", "victim"},
                                      {"password", kVictimPassword},
                                      {"service", "berth"}}),
                   "POST /token with the right password");
  expect_throttled(
      http->get("/v2/team/app/tags/list", authorization(basic_auth("victim", kVictimPassword))),
      "Basic on /v2 with the right password");
  expect_throttled(http->get("/api/v1/me", authorization(basic_auth("victim", kVictimPassword))),
                   "Basic on /api/v1 with the right password");

  // Other users from the same address are not locked out by the victim's limit...
  const auto other =
      get_token(*http, TokenQuery{.basic = std::make_pair("bystander", "bystander-password-1")});
  EXPECT_EQ(other.status, 200u) << describe(other);
  // ...and the victim, from an address that has not failed, signs in.
  auto elsewhere = server.client();
  elsewhere->set_source_address("127.0.0.2");
  const auto from_elsewhere =
      get_token(*elsewhere, TokenQuery{.basic = std::make_pair("victim", kVictimPassword)});
  EXPECT_EQ(from_elsewhere.status, 200u) << describe(from_elsewhere);

  // Each failure is logged with user, address and reason, and the lockout once; nothing of
  // what was typed reaches the log.
  const std::string log = wait_for_log(server.process(), "login lockout: user 'victim'");
  EXPECT_NE(log.find("login lockout: user 'victim' from 127.0.0.1 after 3 failed logins"),
            std::string::npos)
      << log;
  std::size_t failures = 0;
  for (auto at = log.find("failed login of user 'victim' from 127.0.0.1: wrong password");
       at != std::string::npos;
       at = log.find("failed login of user 'victim' from 127.0.0.1: wrong password", at + 1)) {
    ++failures;
  }
  EXPECT_EQ(failures, guesses.size()) << log;
  for (const auto& secret : guesses) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "the log shows " << secret;
  }
  EXPECT_EQ(log.find(kVictimPassword), std::string::npos) << "the log shows the password";
}

TEST(BruteForceTest, GuessedRobotTokensDoNotLockTheRobotOut) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "2";
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "1000";
  options.env["BERTH_AUTH_LOGIN_FAILURE_WINDOW"] = "1h";
  AuthServer server(std::move(options));
  server.create_project("ci", false);
  const std::string token = server.create_robot("builder", {{"ci", "writer"}});
  auto attacker = server.client();
  attacker->set_source_address("127.0.0.2");
  for (int i = 0; i < 5; ++i) {
    const auto guess = get_token(
        *attacker,
        TokenQuery{.basic = std::make_pair("robot$builder", "brb_guess-" + std::to_string(i))});
    EXPECT_EQ(guess.status, 401u) << describe(guess);
  }
  // The robot's own token works, from its address and from the guesser's (whose address is not
  // at its limit): a robot's name is not locked.
  auto ci = server.client();
  EXPECT_EQ(get_token(*ci, TokenQuery{.basic = std::make_pair("robot$builder", token)}).status,
            200u);
  EXPECT_EQ(
      get_token(*attacker, TokenQuery{.basic = std::make_pair("robot$builder", token)}).status,
      200u);
  EXPECT_NE(server.log().find("failed login of user 'robot$builder' from 127.0.0.2: wrong robot "
                              "token"),
            std::string::npos)
      << server.log();
}

TEST(BruteForceTest, UnlockLiftsALockoutFromTheCommandLineAndTheApi) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "2";
  options.env["BERTH_AUTH_LOGIN_FAILURE_WINDOW"] = "1h";
  options.users = {{"victim", kVictimPassword}, {"other", "other-password-1"}};
  AuthServer server(std::move(options));
  auto http = server.client();
  auto lock_out = [&] {
    for (int i = 0; i < 2; ++i) {
      (void)get_token(*http, TokenQuery{.basic = std::make_pair("victim", "wrong-guess")});
    }
    expect_throttled(
        get_token(*http, TokenQuery{.basic = std::make_pair("victim", kVictimPassword)}),
        "after two wrong guesses");
  };
  lock_out();
  // `berth user unlock` runs beside the server, on its data directory.
  const auto unlocked = run_berth({"user", "unlock", "victim", "--data", server.data().string()});
  ASSERT_EQ(unlocked.status, 0) << unlocked.out << unlocked.err;
  EXPECT_EQ(get_token(*http, TokenQuery{.basic = std::make_pair("victim", kVictimPassword)}).status,
            200u);

  lock_out();
  // Only an administrator unlocks.
  const auto refused = http->post("/api/v1/users/victim/unlock", "",
                                  authorization(basic_auth("other", "other-password-1")));
  EXPECT_EQ(refused.status, 403u) << describe(refused);
  expect_throttled(get_token(*http, TokenQuery{.basic = std::make_pair("victim", kVictimPassword)}),
                   "after a refused unlock");
  server.admin_api("POST", "/api/v1/users/victim/unlock", "", 204);
  EXPECT_EQ(get_token(*http, TokenQuery{.basic = std::make_pair("victim", kVictimPassword)}).status,
            200u);
}

// Regression: the count was checked before the password and raised after it, so 30 concurrent
// wrong passwords all passed the check: 17 bcrypt checks against a limit of 10. Each attempt now
// holds its place under the limit from before its check.
TEST(BruteForceTest, ConcurrentGuessesCheckNoMorePasswordsThanTheLimit) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "10";
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "1000";
  options.env["BERTH_AUTH_LOGIN_FAILURE_WINDOW"] = "1h";
  // Enough threads and room for every guess at once: nothing but the limit holds them back.
  options.env["BERTH_AUTH_PASSWORD_HASH_THREADS"] = "32";
  options.env["BERTH_AUTH_PASSWORD_HASH_QUEUE"] = "32";
  options.env["BERTH_HTTP_BLOCKING_THREADS"] = "32";
  AuthServer server(std::move(options));
  seed_user(server.data(), "victim", kVictimPassword, false, 10);

  constexpr int kGuesses = 30;
  const auto clients = connected_clients(server, kGuesses);
  std::latch start(kGuesses);
  std::vector<unsigned> statuses(kGuesses);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kGuesses; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        statuses[i] =
            get_token(*clients[i], TokenQuery{.basic = std::make_pair("victim", "wrong-guess")})
                .status;
      });
    }
  }
  const auto checked = std::count(statuses.begin(), statuses.end(), 401u);
  const auto throttled = std::count(statuses.begin(), statuses.end(), 429u);
  EXPECT_EQ(checked, 10) << "passwords checked by concurrent guesses";
  EXPECT_EQ(throttled, kGuesses - 10);
}

TEST(BruteForceTest, ThrottledAnswerSaysWhenToRetry) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "1";
  options.env["BERTH_AUTH_LOGIN_FAILURE_WINDOW"] = "1h";
  options.users = {{"victim", kVictimPassword}};
  AuthServer server(std::move(options));
  auto http = server.client();
  EXPECT_EQ(get_token(*http, TokenQuery{.basic = std::make_pair("victim", "wrong-guess-1")}).status,
            401u);
  const auto response =
      get_token(*http, TokenQuery{.basic = std::make_pair("victim", kVictimPassword)});
  expect_throttled(response, "GET /token after the limit");
  // The limiter knows how long the wait is (it is in the message); HTTP clients read it from
  // Retry-After (RFC 9110 section 10.2.3), as auth/rate_limiter.hpp promises.
  const std::string retry_after = response.header("Retry-After");
  ASSERT_FALSE(retry_after.empty()) << "no Retry-After on a 429: " << describe(response);
  EXPECT_GT(std::stol(retry_after), 0) << retry_after;
  EXPECT_LE(std::stol(retry_after), 3600) << retry_after;
}

TEST(BruteForceTest, FailuresPerAddressBlockEveryUserFromThatAddress) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "1000";
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "4";
  options.env["BERTH_AUTH_LOGIN_FAILURE_WINDOW"] = "1h";
  for (int i = 1; i <= 5; ++i) {
    options.users.emplace_back("user" + std::to_string(i), "password-" + std::to_string(i));
  }
  AuthServer server(std::move(options));
  auto http = server.client();
  // One wrong password for each of four users (no per-user limit is near), spread over the
  // token endpoint and Basic on /v2.
  for (int i = 1; i <= 4; ++i) {
    const std::string user = "user" + std::to_string(i);
    const auto response =
        i % 2 == 0 ? get_token(*http, TokenQuery{.basic = std::make_pair(user, "wrong-guess")})
                   : http->get("/v2/", authorization(basic_auth(user, "wrong-guess")));
    EXPECT_EQ(response.status, 401u) << user << ": " << describe(response);
  }
  expect_throttled(get_token(*http, TokenQuery{.basic = std::make_pair("user5", "password-5")}),
                   "a fifth user's right password from the same address");
  expect_throttled(http->get("/v2/", authorization(basic_auth("admin", kAdminPassword))),
                   "the administrator from the same address");
  // Requests without credentials are not logins and stay possible.
  EXPECT_EQ(get_token(*http, TokenQuery{}).status, 200u);
}

// Regression: behind a reverse proxy every client had the proxy's address, so a handful of
// wrong passwords from anyone locked every user out of logging in through the proxy.
TEST(BruteForceTest, BehindATrustedProxyEachForwardedClientHasItsOwnLimit) {
  AuthServerOptions options;
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "1000";
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "3";
  options.env["BERTH_AUTH_LOGIN_FAILURE_WINDOW"] = "1h";
  options.env["BERTH_HTTP_TRUSTED_PROXIES"] = "127.0.0.1";
  options.users = {{"victim", kVictimPassword}};
  AuthServer server(std::move(options));
  auto proxy = server.client();
  auto through_proxy = [&](const std::string& client, const std::string& password) {
    return proxy->get("/v2/", HttpHeaders{{"Authorization", basic_auth("victim", password)},
                                          {"X-Forwarded-For", client}});
  };
  // The guesser also writes a made-up address of its own on the left: not believed.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(through_proxy("198.51.100.9, 203.0.113.66", "wrong-guess").status, 401u);
  }
  expect_throttled(through_proxy("203.0.113.66", kVictimPassword), "the guesser's address");
  expect_throttled(through_proxy("198.51.100.9, 203.0.113.66", kVictimPassword),
                   "the guesser's address with another made-up one on the left");
  const auto victim = through_proxy("203.0.113.7", kVictimPassword);
  EXPECT_EQ(victim.status, 200u) << "another client behind the same proxy: " << describe(victim);
  const std::string log = wait_for_log(server.process(), "login lockout");
  EXPECT_NE(log.find("failed login of user 'victim' from 203.0.113.66"), std::string::npos) << log;

  // A peer that is not a trusted proxy cannot choose its address.
  auto direct = server.client();
  direct->set_source_address("127.0.0.2");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(direct
                  ->get("/v2/", HttpHeaders{{"Authorization", basic_auth("victim", "wrong-guess")},
                                            {"X-Forwarded-For", "192.0.2." + std::to_string(i)}})
                  .status,
              401u);
  }
  expect_throttled(
      direct->get("/v2/", HttpHeaders{{"Authorization", basic_auth("victim", kVictimPassword)},
                                      {"X-Forwarded-For", "192.0.2.200"}}),
      "an untrusted peer naming a fresh address");
}

TEST(BruteForceTest, ServerLogNeverShowsSecrets) {
  AuthServerOptions options;
  options.env["BERTH_LOG_LEVEL"] = "trace";
  options.env["BERTH_LOG_ACCESS"] = "true";
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "2";
  options.users = {{"alice", "alice-password-1"}};
  AuthServer server(std::move(options));
  server.create_project("team", false);
  server.set_member("team", "alice", "writer");
  auto http = server.client();
  std::vector<std::string> secrets = {"alice-password-1", std::string(kAdminPassword),
                                      basic_auth("alice", "alice-password-1").substr(6)};

  // Every way a secret travels: Basic on /token and /v2, the password grant, offline and
  // refresh tokens, access tokens, robot tokens, passwords in admin API bodies.
  const auto issued =
      get_token(*http, TokenQuery{.basic = std::make_pair("alice", "alice-password-1"),
                                  .scopes = {repo_scope("team/app", "pull,push")},
                                  .offline = true});
  ASSERT_EQ(issued.status, 200u) << describe(issued);
  const auto body = json_of(issued.body).as_object();
  const std::string token(body.at("token").as_string());
  const std::string refresh(body.at("refresh_token").as_string());
  secrets.push_back(token);
  secrets.push_back(token.substr(token.rfind('.') + 1));
  secrets.push_back(refresh);
  auto pusher = server.client();
  use_authorization(*pusher, bearer_auth(token));
  push_small_image(*pusher, "team/app", "v1");
  EXPECT_EQ(
      http->get("/v2/team/app/tags/list", authorization(basic_auth("alice", "alice-password-1")))
          .status,
      200u);
  EXPECT_EQ(post_token(
                *http,
                {{"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"service", "berth"}})
                .status,
            200u);
  EXPECT_EQ(post_token(*http, {{"grant_type", "password"},
                               {"username", "alice"},
                               {"password", "alice-password-1"},
                               {"service", "berth"}})
                .status,
            200u);
  const std::string robot = server.create_robot("ci", {{"team", "reader"}});
  secrets.push_back(robot);
  EXPECT_EQ(get_token(*http, TokenQuery{.basic = std::make_pair("robot$ci", robot)}).status, 200u);
  EXPECT_EQ(
      http->get("/v2/team/app/tags/list", authorization(basic_auth("robot$ci", robot))).status,
      200u);
  server.admin_api("POST", "/api/v1/users", R"({"name":"newcomer","password":"newcomer-pass-1"})",
                   201);
  secrets.push_back("newcomer-pass-1");
  server.admin_api("PATCH", "/api/v1/users/newcomer", R"({"password":"newcomer-pass-2"})", 204);
  secrets.push_back("newcomer-pass-2");
  // Wrong ones, up to and past the limit, and a malformed bearer token.
  for (const std::string wrong : {"alice-wrong-1", "alice-wrong-2", "alice-wrong-3"}) {
    secrets.push_back(wrong);
    (void)get_token(*http, TokenQuery{.basic = std::make_pair("alice", wrong)});
  }
  secrets.push_back("brb_not-a-real-robot-token");
  (void)http->get("/v2/", authorization(basic_auth("robot$ci", "brb_not-a-real-robot-token")));
  secrets.push_back("eyJub3QiOiJhIHRva2VuIn0.garbage-token-text");
  (void)http->get("/v2/", authorization(bearer_auth("eyJub3QiOiJhIHRva2VuIn0.garbage-token-text")));

  EXPECT_EQ(server.process().stop(), 0);
  const std::string log = server.log();
  ASSERT_NE(log.find("/token"), std::string::npos) << "access logging is not on:\n" << log;
  for (const auto& secret : secrets) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "the log shows a secret: " << secret;
  }
}

}  // namespace
}  // namespace berth::authtest
