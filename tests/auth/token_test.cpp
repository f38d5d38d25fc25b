// Token security at the HTTP level: the unit tests of auth/token_service cover the JWT code;
// these prove the server's wiring. Tokens made by the test itself with the server's own signing
// key (read from the data directory) show that each refusal is about the one claim that is
// wrong: the same token with correct claims is accepted. Also the token endpoint itself: GET
// with Basic or anonymous, offline tokens, the OAuth2 password and refresh_token grants, and
// refresh tokens that must die with a password change or a robot revocation.
#include <gtest/gtest.h>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

namespace json = boost::json;
using testing::describe;
using testing::error_code;

class TokenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new AuthServer(AuthServerOptions{
        .users = {{"alice", kAlicePassword}, {"bob", kBobPassword}, {"carol", kCarolPassword}}});
    server_->create_project("team", false);
    server_->set_member("team", "alice", "writer");
    server_->set_member("team", "carol", "writer");
    auto admin = server_->client();
    use_authorization(*admin, server_->admin_basic());
    image_ = new SmallImage(push_small_image(*admin, "team/app", "v1"));
  }

  static void TearDownTestSuite() {
    delete image_;
    if (server_ != nullptr) {
      EXPECT_EQ(server_->process().stop(), 0) << server_->log();
      delete server_;
    }
  }

  void SetUp() override { http_ = server().client(); }

  static AuthServer& server() { return *server_; }
  HttpClient& http() { return *http_; }

  std::string alice_token(const std::vector<std::string>& scopes) {
    return fetch_token(
        http(), TokenQuery{.basic = std::make_pair("alice", kAlicePassword), .scopes = scopes});
  }

  HttpResponse pull_with(const std::string& token) {
    return http().get("/v2/team/app/manifests/v1",
                      {{"Authorization", bearer_auth(token)},
                       {"Accept", std::string(testing::media_types::kOciManifest)}});
  }

  // The account ("aid") the server binds a token of `subject` to, from one it issued.
  std::string account_of(const std::string& subject) {
    const std::string password = subject == "alice" ? kAlicePassword : kBobPassword;
    const auto issued =
        decode_jwt(fetch_token(http(), TokenQuery{.basic = std::make_pair(subject, password)}));
    return std::string(issued.payload.at("aid").as_string());
  }

  // The claims of a token the server would issue to `subject` for pulling team/app.
  json::object good_claims(const std::string& subject) {
    const auto now = unix_now();
    return json::object{
        {"iss", "berth"},
        {"sub", subject},
        {"aid", account_of(subject)},
        {"aud", "berth"},
        {"exp", now + 300},
        {"nbf", now - 10},
        {"iat", now - 10},
        {"jti", "test-" + testing::random_token()},
        {"access", json::array{json::object{
                       {"type", "repository"}, {"name", "team/app"}, {"actions", {"pull"}}}}}};
  }

  json::object good_header() {
    // The key id is the server's: take it from a token the server issued.
    const auto issued = decode_jwt(alice_token({}));
    return json::object{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", issued.header.at("kid")}};
  }

  static void expect_refused(const HttpResponse& response, const std::string& what) {
    EXPECT_EQ(response.status, 401u) << what << ": " << describe(response);
    EXPECT_EQ(error_code(response), "UNAUTHORIZED") << what;
    const auto challenge = parse_challenge(response.header("WWW-Authenticate"));
    ASSERT_TRUE(challenge) << what << ": " << describe(response);
    EXPECT_EQ(challenge->scheme, "Bearer") << what;
    EXPECT_EQ(challenge->get("realm"), server().realm()) << what;
  }

 private:
  static AuthServer* server_;
  static SmallImage* image_;
  std::unique_ptr<HttpClient> http_;
};

AuthServer* TokenTest::server_ = nullptr;
SmallImage* TokenTest::image_ = nullptr;

// ---------------------------------------------------------------------------- the endpoint

TEST_F(TokenTest, GetWithBasicCredentialsIssuesAScopedToken) {
  const auto response =
      get_token(http(), TokenQuery{.basic = std::make_pair("alice", kAlicePassword),
                                   .scopes = {repo_scope("team/app", "pull,push,delete"),
                                              repo_scope("team/other", "pull")}});
  ASSERT_EQ(response.status, 200u) << describe(response);
  EXPECT_EQ(response.header("Cache-Control"), "no-store");
  const auto body = json_of(response.body).as_object();
  ASSERT_TRUE(body.contains("token")) << response.body;
  const std::string token(body.at("token").as_string());
  EXPECT_EQ(body.at("access_token").as_string(), token);
  EXPECT_GT(body.at("expires_in").to_number<std::int64_t>(), 0);
  EXPECT_TRUE(body.at("issued_at").is_string());
  EXPECT_FALSE(body.contains("refresh_token")) << "no offline_token was asked for";

  const auto jwt = decode_jwt(token);
  EXPECT_EQ(jwt.header.at("alg").as_string(), "ES256");
  EXPECT_FALSE(jwt.header.at("kid").as_string().empty());
  EXPECT_EQ(jwt.payload.at("iss").as_string(), "berth");
  EXPECT_EQ(jwt.payload.at("sub").as_string(), "alice");
  EXPECT_EQ(jwt.payload.at("aud").as_string(), "berth");
  EXPECT_FALSE(jwt.payload.at("jti").as_string().empty());
  const auto iat = jwt.payload.at("iat").to_number<std::int64_t>();
  EXPECT_LE(jwt.payload.at("nbf").to_number<std::int64_t>(), iat);
  EXPECT_GT(jwt.payload.at("exp").to_number<std::int64_t>(), iat);
  // Asked: pull, push, delete on team/app and pull on team/other. A writer gets pull and push
  // on both (team/other is in her project), never delete.
  const json::array want{
      json::object{{"type", "repository"}, {"name", "team/app"}, {"actions", {"pull", "push"}}},
      json::object{{"type", "repository"}, {"name", "team/other"}, {"actions", {"pull"}}}};
  EXPECT_EQ(jwt.payload.at("access").as_array(), want) << json::serialize(jwt.payload);

  EXPECT_EQ(pull_with(token).status, 200u);
}

TEST_F(TokenTest, AnonymousGetIssuesATokenWithoutPrivateAccess) {
  const auto response =
      get_token(http(), TokenQuery{.scopes = {repo_scope("team/app", "pull")}, .offline = true});
  ASSERT_EQ(response.status, 200u) << describe(response);
  EXPECT_EQ(response.header("Cache-Control"), "no-store");
  const auto body = json_of(response.body).as_object();
  EXPECT_FALSE(body.contains("refresh_token")) << "anonymous callers get no refresh token";
  const auto jwt = decode_jwt(body.at("token").as_string());
  EXPECT_EQ(jwt.payload.at("sub").as_string(), "");
  EXPECT_TRUE(jwt.payload.at("access").as_array().empty()) << json::serialize(jwt.payload);
  const auto pulled = pull_with(std::string(body.at("token").as_string()));
  EXPECT_EQ(pulled.status, 401u) << describe(pulled);
}

TEST_F(TokenTest, OfflineTokenComesWithARefreshToken) {
  const auto response =
      get_token(http(), TokenQuery{.basic = std::make_pair("alice", kAlicePassword),
                                   .scopes = {repo_scope("team/app", "pull")},
                                   .offline = true});
  ASSERT_EQ(response.status, 200u) << describe(response);
  const auto body = json_of(response.body).as_object();
  ASSERT_TRUE(body.contains("refresh_token")) << response.body;
  const std::string refresh(body.at("refresh_token").as_string());
  EXPECT_GE(refresh.size(), 32u);

  // The refresh grant gives a new access token for alice, with the scope asked for now.
  const auto refreshed = post_token(http(), {{"grant_type", "refresh_token"},
                                             {"refresh_token", refresh},
                                             {"service", "berth"},
                                             {"client_id", "berth-tests"},
                                             {"scope", repo_scope("team/app", "pull,push")}});
  ASSERT_EQ(refreshed.status, 200u) << describe(refreshed);
  EXPECT_EQ(refreshed.header("Cache-Control"), "no-store");
  const auto fresh = json_of(refreshed.body).as_object();
  const std::string token(fresh.at("access_token").as_string());
  EXPECT_EQ(decode_jwt(token).payload.at("sub").as_string(), "alice");
  EXPECT_EQ(fresh.at("scope").as_string(), "repository:team/app:pull,push");
  EXPECT_EQ(pull_with(token).status, 200u);
}

TEST_F(TokenTest, PostPasswordGrant) {
  const auto response = post_token(http(), {{"grant_type", "password"},
                                            {"username", "alice"},
                                            {"password", kAlicePassword},
                                            {"service", "berth"},
                                            {"client_id", "berth-tests"},
                                            {"access_type", "offline"},
                                            {"scope", repo_scope("team/app", "pull")}});
  ASSERT_EQ(response.status, 200u) << describe(response);
  EXPECT_EQ(response.header("Cache-Control"), "no-store");
  const auto body = json_of(response.body).as_object();
  EXPECT_EQ(body.at("scope").as_string(), "repository:team/app:pull");
  EXPECT_TRUE(body.contains("refresh_token")) << response.body;
  EXPECT_EQ(pull_with(std::string(body.at("access_token").as_string())).status, 200u);

  const auto wrong = post_token(http(), {{"grant_type", "password"},
                                         {"username", "alice"},
                                         {"password", "not-her-password"},
                                         {"service", "berth"}});
  EXPECT_EQ(wrong.status, 401u) << describe(wrong);
  EXPECT_EQ(error_code(wrong), "UNAUTHORIZED");
  EXPECT_EQ(wrong.body.find("access_token"), std::string::npos);

  const auto unknown_grant =
      post_token(http(), {{"grant_type", "client_credentials"}, {"service", "berth"}});
  EXPECT_GE(unknown_grant.status, 400u) << describe(unknown_grant);
  EXPECT_LT(unknown_grant.status, 500u) << describe(unknown_grant);
  EXPECT_EQ(unknown_grant.body.find("access_token"), std::string::npos);

  const auto bogus_refresh = post_token(
      http(),
      {{"grant_type", "refresh_token"}, {"refresh_token", "brt_nonsense"}, {"service", "berth"}});
  EXPECT_EQ(bogus_refresh.status, 401u) << describe(bogus_refresh);
}

TEST_F(TokenTest, WrongServiceIsRefused) {
  const auto response =
      get_token(http(), TokenQuery{.basic = std::make_pair("alice", kAlicePassword),
                                   .scopes = {repo_scope("team/app", "pull")},
                                   .service = "some-other-registry"});
  EXPECT_GE(response.status, 400u) << describe(response);
  EXPECT_LT(response.status, 500u) << describe(response);
  EXPECT_FALSE(error_code(response).empty()) << describe(response);
  EXPECT_FALSE(json_of(response.body).as_object().contains("token")) << describe(response);

  const auto posted = post_token(http(), {{"grant_type", "password"},
                                          {"username", "alice"},
                                          {"password", kAlicePassword},
                                          {"service", "some-other-registry"}});
  EXPECT_GE(posted.status, 400u) << describe(posted);
  EXPECT_LT(posted.status, 500u) << describe(posted);
  EXPECT_EQ(posted.body.find("access_token"), std::string::npos) << describe(posted);
}

TEST_F(TokenTest, InvalidScopeIs400) {
  for (const std::string scope :
       {"repository:Team/App:pull", "nonsense", "repository:team/app", "repository::pull"}) {
    const auto response = get_token(
        http(), TokenQuery{.basic = std::make_pair("alice", kAlicePassword), .scopes = {scope}});
    EXPECT_EQ(response.status, 400u) << scope << ": " << describe(response);
    EXPECT_FALSE(error_code(response).empty()) << scope;
  }
}

// ---------------------------------------------------------------------------- forged tokens

TEST_F(TokenTest, SelfSignedTokenWithTheRightClaimsIsAccepted) {
  // The control for every forged token below: signing works, so a refusal is about the claim.
  const auto token = sign_es256(server().signing_key(), good_header(), good_claims("alice"));
  const auto response = pull_with(token);
  EXPECT_EQ(response.status, 200u) << describe(response);
}

// A token names the account it was issued to, not only its name: one of another account (or,
// from before accounts had ids, of none) is refused, however well signed.
TEST_F(TokenTest, TokenOfAnotherAccountOfTheSameNameIsRefused) {
  auto claims = good_claims("alice");
  claims["aid"] = "u999999";
  expect_refused(pull_with(sign_es256(server().signing_key(), good_header(), claims)),
                 "another account");
  claims.erase("aid");
  expect_refused(pull_with(sign_es256(server().signing_key(), good_header(), claims)),
                 "no account");
}

TEST_F(TokenTest, TamperedSignatureIsRefused) {
  const std::string token = alice_token({repo_scope("team/app", "pull")});
  ASSERT_EQ(pull_with(token).status, 200u);
  const auto last_dot = token.rfind('.');
  // A character in the middle of the signature (the last one may only carry padding bits).
  std::string flipped = token;
  const auto middle = last_dot + (token.size() - last_dot) / 2;
  flipped[middle] = flipped[middle] == 'A' ? 'B' : 'A';
  expect_refused(pull_with(flipped), "flipped signature");
  expect_refused(pull_with(token.substr(0, last_dot + 1)), "signature cut off");
  // (r, n - s) verifies mathematically; the server accepts one spelling only.
  expect_refused(pull_with(malleate_signature(token)), "malleated signature (r, n - s)");

  // The payload changed to another subject, the signature kept.
  auto jwt = decode_jwt(token);
  jwt.payload["sub"] = "admin";
  const auto first_dot = token.find('.');
  const std::string swapped = token.substr(0, first_dot) + "." +
                              base64url(json::serialize(jwt.payload)) + token.substr(last_dot);
  expect_refused(pull_with(swapped), "payload changed to sub=admin");
}

TEST_F(TokenTest, AlgNoneIsRefused) {
  auto header = good_header();
  header["alg"] = "none";
  expect_refused(pull_with(unsigned_jwt(header, good_claims("alice"))), "alg none");
  header["alg"] = "None";
  expect_refused(pull_with(unsigned_jwt(header, good_claims("alice"))), "alg None");
  // With a signature part anyway.
  header["alg"] = "none";
  expect_refused(pull_with(unsigned_jwt(header, good_claims("alice")) + "AAAA"),
                 "alg none with a signature");
}

TEST_F(TokenTest, HmacWithThePublicKeyIsRefused) {
  auto header = good_header();
  header["alg"] = "HS256";
  const auto token =
      sign_hs256(public_key_pem(server().signing_key()), header, good_claims("alice"));
  expect_refused(pull_with(token), "HS256 keyed with the public key");
}

TEST_F(TokenTest, WrongKeyIdIsRefused) {
  auto header = good_header();
  header["kid"] = "not-our-key";
  expect_refused(pull_with(sign_es256(server().signing_key(), header, good_claims("alice"))),
                 "unknown kid");
}

TEST_F(TokenTest, WrongAudienceOrIssuerIsRefused) {
  auto claims = good_claims("alice");
  claims["aud"] = "another-registry";
  expect_refused(pull_with(sign_es256(server().signing_key(), good_header(), claims)),
                 "wrong audience");
  claims = good_claims("alice");
  claims.erase("aud");
  expect_refused(pull_with(sign_es256(server().signing_key(), good_header(), claims)),
                 "no audience");
  claims = good_claims("alice");
  claims["iss"] = "someone-else";
  expect_refused(pull_with(sign_es256(server().signing_key(), good_header(), claims)),
                 "wrong issuer");
}

TEST_F(TokenTest, ExpiredOrNotYetValidIsRefused) {
  const auto now = unix_now();
  auto claims = good_claims("alice");
  claims["iat"] = now - 7200;
  claims["nbf"] = now - 7200;
  claims["exp"] = now - 3600;
  expect_refused(pull_with(sign_es256(server().signing_key(), good_header(), claims)), "expired");
  claims = good_claims("alice");
  claims.erase("exp");
  expect_refused(pull_with(sign_es256(server().signing_key(), good_header(), claims)), "no exp");
  claims = good_claims("alice");
  claims["nbf"] = now + 3600;
  claims["iat"] = now + 3600;
  claims["exp"] = now + 7200;
  expect_refused(pull_with(sign_es256(server().signing_key(), good_header(), claims)),
                 "not yet valid");
}

TEST_F(TokenTest, TokenForAnotherRepositoryAsksForTheRightScope) {
  // Alice may pull and push team/app, but this token is for team/other only: the client is
  // told to get a better token.
  const std::string token = alice_token({repo_scope("team/other", "pull,push")});
  const auto pulled = pull_with(token);
  EXPECT_EQ(pulled.status, 401u) << describe(pulled);
  auto challenge = parse_challenge(pulled.header("WWW-Authenticate"));
  ASSERT_TRUE(challenge) << describe(pulled);
  EXPECT_EQ(challenge->scheme, "Bearer");
  EXPECT_EQ(challenge->get("realm"), server().realm());
  EXPECT_EQ(challenge->get("service"), "berth");
  EXPECT_EQ(challenge->get("scope"), "repository:team/app:pull");
  EXPECT_EQ(challenge->get("error"), "insufficient_scope");

  const std::string blob = testing::random_bytes(32);
  const auto pushed = http().post(
      "/v2/team/app/blobs/uploads/?digest=" + testing::sha256_digest(blob), blob,
      {{"Authorization", bearer_auth(token)}, {"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(pushed.status, 401u) << describe(pushed);
  challenge = parse_challenge(pushed.header("WWW-Authenticate"));
  ASSERT_TRUE(challenge) << describe(pushed);
  EXPECT_EQ(challenge->get("scope"), "repository:team/app:pull,push");
  EXPECT_EQ(challenge->get("error"), "insufficient_scope");
}

TEST_F(TokenTest, TokenNamesExactlyOneRepository) {
  // A grant for team/app is not one for team/app/sub, team/ap or team/app2.
  const std::string token = alice_token({repo_scope("team/app", "pull")});
  for (const std::string repo : {"team/app/sub", "team/ap", "team/app2"}) {
    const auto response =
        http().get("/v2/" + repo + "/tags/list", authorization(bearer_auth(token)));
    EXPECT_EQ(response.status, 401u) << repo << ": " << describe(response);
    const auto challenge = parse_challenge(response.header("WWW-Authenticate"));
    ASSERT_TRUE(challenge) << describe(response);
    EXPECT_EQ(challenge->get("error"), "insufficient_scope") << repo;
  }
}

TEST_F(TokenTest, WildcardAndSpaceSeparatedScopes) {
  // "*" asks for everything; a writer gets what a writer may do.
  auto jwt = decode_jwt(alice_token({"repository:team/app:*"}));
  EXPECT_EQ(jwt.payload.at("access"),
            json::value(json::array{json::object{
                {"type", "repository"}, {"name", "team/app"}, {"actions", {"pull", "push"}}}}))
      << json::serialize(jwt.payload);
  // Several scopes in one parameter, separated by a space (the OAuth2 form).
  jwt = decode_jwt(alice_token({"repository:team/a:pull repository:team/b:push"}));
  EXPECT_EQ(jwt.payload.at("access").as_array().size(), 2u) << json::serialize(jwt.payload);
}

TEST_F(TokenTest, EveryIssuedTokenIsAccepted) {
  // An administrator asking for many repositories at once (a bulk copy, a mirror): the server
  // must either refuse the request or issue a token that it then accepts itself.
  std::vector<std::string> scopes;
  for (int i = 0; i < 200; ++i) {
    scopes.push_back(repo_scope("team/repo-" + std::to_string(i), "pull,push,delete"));
  }
  scopes.push_back(repo_scope("team/app", "pull"));
  const auto response = get_token(
      http(),
      TokenQuery{.basic = std::make_pair("admin", std::string(kAdminPassword)), .scopes = scopes});
  if (response.status != 200) {
    EXPECT_GE(response.status, 400u) << describe(response);
    EXPECT_LT(response.status, 500u) << describe(response);
    return;
  }
  const std::string token(json_of(response.body).at("token").as_string());
  const auto pulled = pull_with(token);
  EXPECT_EQ(pulled.status, 200u) << "a token of " << token.size()
                                 << " bytes issued by /token is refused: " << describe(pulled);
}

// The largest request /token takes (32 scopes of the longest repository names) still gives
// a token the server accepts.
TEST_F(TokenTest, LargestTokenRequestGivesAnAcceptedToken) {
  std::vector<std::string> scopes;
  for (int i = 0; i < 31; ++i) {
    std::string name = "team/" + std::to_string(i) + "-";
    name += std::string(255 - name.size(), 'x');
    scopes.push_back(repo_scope(name, "pull,push,delete"));
  }
  scopes.push_back(repo_scope("team/app", "pull"));
  const auto response = get_token(
      http(),
      TokenQuery{.basic = std::make_pair("admin", std::string(kAdminPassword)), .scopes = scopes});
  ASSERT_EQ(response.status, 200u) << describe(response);
  const std::string token(json_of(response.body).at("token").as_string());
  const auto pulled = pull_with(token);
  EXPECT_EQ(pulled.status, 200u) << "a token of " << token.size() << " bytes is refused";
  scopes.push_back(repo_scope("team/one-too-many", "pull"));
  const auto refused = get_token(
      http(),
      TokenQuery{.basic = std::make_pair("admin", std::string(kAdminPassword)), .scopes = scopes});
  EXPECT_EQ(refused.status, 400u) << describe(refused);
}

// The realm comes from the Host header when auth.realm is not set. Whatever a client sends
// there, the challenge must stay one well-formed header: no parameter smuggled in by a quote.
TEST_F(TokenTest, ChallengeIsWellFormedWhateverTheHostHeader) {
  const auto response =
      http().get("/v2/team/app/tags/list", {{"Host", "evil.example\",error=\"injected"}});
  if (response.status == 400) {
    return;  // refusing such a Host is fine too
  }
  EXPECT_EQ(response.status, 401u) << describe(response);
  const std::string header = response.header("WWW-Authenticate");
  const auto challenge = parse_challenge(header);
  ASSERT_TRUE(challenge) << header;
  EXPECT_FALSE(challenge->has("error")) << "a parameter was injected through Host: " << header;
  EXPECT_EQ(challenge->get("service"), "berth") << header;
  EXPECT_EQ(challenge->get("scope"), "repository:team/app:pull") << header;
}

TEST_F(TokenTest, PasswordMayContainColons) {
  // Basic splits "user:password" at the first colon; the rest is the password.
  seed_user(server().data(), "colon", "pass:word:1");
  const auto response =
      get_token(http(), TokenQuery{.basic = std::make_pair("colon", "pass:word:1")});
  EXPECT_EQ(response.status, 200u) << describe(response);
  EXPECT_EQ(get_token(http(), TokenQuery{.basic = std::make_pair("colon", "pass")}).status, 401u);
}

TEST_F(TokenTest, TokenForAnotherRepositoryIsDeniedWhenTheCallerMayNot) {
  // Bob has no role in team: a better token would not help, so 403.
  const std::string token =
      fetch_token(http(), TokenQuery{.basic = std::make_pair("bob", kBobPassword),
                                     .scopes = {repo_scope("team/other", "pull")}});
  const auto pulled = pull_with(token);
  EXPECT_EQ(pulled.status, 403u) << describe(pulled);
  EXPECT_EQ(error_code(pulled), "DENIED");

  // A correctly signed token that grants bob team/app does not either: the server checks the
  // account's rights as they are now, not only the token's word.
  const auto forged = sign_es256(server().signing_key(), good_header(), good_claims("bob"));
  const auto with_forged = pull_with(forged);
  EXPECT_EQ(with_forged.status, 403u) << describe(with_forged);
  EXPECT_EQ(error_code(with_forged), "DENIED");
}

// ---------------------------------------------------------------------------- refresh tokens

TEST_F(TokenTest, RefreshTokenDiesWithAPasswordChange) {
  const auto response =
      get_token(http(), TokenQuery{.basic = std::make_pair("carol", kCarolPassword),
                                   .scopes = {repo_scope("team/app", "pull")},
                                   .offline = true});
  ASSERT_EQ(response.status, 200u) << describe(response);
  const std::string refresh(json_of(response.body).at("refresh_token").as_string());
  const std::vector<std::pair<std::string, std::string>> grant{
      {"grant_type", "refresh_token"},
      {"refresh_token", refresh},
      {"service", "berth"},
      {"scope", repo_scope("team/app", "pull")}};
  ASSERT_EQ(post_token(http(), grant).status, 200u) << "the refresh token works at first";

  server().admin_api("PATCH", "/api/v1/users/carol", R"({"password":"carol-password-2"})", 204);
  const auto reused = post_token(http(), grant);
  EXPECT_EQ(reused.status, 401u) << describe(reused);
  EXPECT_EQ(error_code(reused), "UNAUTHORIZED");
  EXPECT_EQ(reused.body.find("access_token"), std::string::npos);
  // The old password is gone too, the new one works.
  EXPECT_EQ(get_token(http(), TokenQuery{.basic = std::make_pair("carol", kCarolPassword)}).status,
            401u);
  EXPECT_EQ(
      get_token(http(), TokenQuery{.basic = std::make_pair("carol", "carol-password-2")}).status,
      200u);
}

TEST_F(TokenTest, RefreshTokenDiesWithARobotRevocation) {
  const std::string robot = server().create_robot("refresher", {{"team", "writer"}});
  const auto response =
      get_token(http(), TokenQuery{.basic = std::make_pair("robot$refresher", robot),
                                   .scopes = {repo_scope("team/app", "pull")},
                                   .offline = true});
  ASSERT_EQ(response.status, 200u) << describe(response);
  const std::string refresh(json_of(response.body).at("refresh_token").as_string());
  const std::vector<std::pair<std::string, std::string>> grant{
      {"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"service", "berth"}};
  ASSERT_EQ(post_token(http(), grant).status, 200u) << "the refresh token works at first";

  server().admin_api("POST", "/api/v1/robots/refresher/revoke", "", 204);
  const auto reused = post_token(http(), grant);
  EXPECT_EQ(reused.status, 401u) << describe(reused);
  EXPECT_EQ(reused.body.find("access_token"), std::string::npos);
}

TEST_F(TokenTest, RefreshTokenDiesWithTheUser) {
  server().admin_api("POST", "/api/v1/users",
                     R"({"name":"temp","password":"temp-password-1","admin":false})", 201);
  const auto response = get_token(
      http(), TokenQuery{.basic = std::make_pair("temp", "temp-password-1"), .offline = true});
  ASSERT_EQ(response.status, 200u) << describe(response);
  const std::string refresh(json_of(response.body).at("refresh_token").as_string());
  const std::vector<std::pair<std::string, std::string>> grant{
      {"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"service", "berth"}};
  ASSERT_EQ(post_token(http(), grant).status, 200u);
  server().admin_api("DELETE", "/api/v1/users/temp", "", 204);
  EXPECT_EQ(post_token(http(), grant).status, 401u);
}

}  // namespace
}  // namespace berth::authtest
