// The access matrix at the HTTP level: every kind of caller (users of each role, a user with no
// role, a system administrator, robots of each role, anonymous callers, and credentials that
// must no longer work) × {pull, push, delete, manage} × {public, private project}, through
// bearer tokens from /token and through plain Basic credentials. One table (expected()) says
// what the role table of auth/access_control.hpp promises; every request of every action is
// checked against it by status, error code and challenge, and every refused write is checked
// to have left no trace.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

namespace json = boost::json;
using testing::describe;
using testing::error_code;

enum class Act { kPull, kPush, kDelete, kManage };
constexpr Act kActs[] = {Act::kPull, Act::kPush, Act::kDelete, Act::kManage};

std::string act_name(Act act) {
  switch (act) {
    case Act::kPull:
      return "pull";
    case Act::kPush:
      return "push";
    case Act::kDelete:
      return "delete";
    case Act::kManage:
      return "manage";
  }
  return "?";
}

enum class Outcome { kAllowed, kDenied, kUnauthenticated };

std::string outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllowed:
      return "allowed";
    case Outcome::kDenied:
      return "403 DENIED";
    case Outcome::kUnauthenticated:
      return "401 with a challenge";
  }
  return "?";
}

struct ProjectCase {
  std::string name;
  bool is_public;
  std::string repo() const { return name + "/app"; }
};
const ProjectCase kProjects[] = {{"pub", true}, {"priv", false}};

const std::vector<std::string> kRoles = {"reader", "writer", "maintainer", "owner"};

std::string password_of(const std::string& user) { return user + "-password-1"; }

int rank_of(const std::string& role) {
  return static_cast<int>(std::find(kRoles.begin(), kRoles.end(), role) - kRoles.begin() + 1);
}

// Who is asking, and what kind of caller the role table sees.
struct Principal {
  enum class Kind { kMember, kNoRole, kAdmin, kAnonymous, kRejected };
  std::string label;
  // The Authorization header; empty: none.
  std::string authorization;
  Kind kind = Kind::kAnonymous;
  // For kMember, per project: 1 reader, 2 writer, 3 maintainer, 4 owner; absent: no role.
  std::map<std::string, int> roles{};
};

// A member with the same role in both projects.
Principal member(std::string label, std::string authorization, const std::string& role) {
  return Principal{std::move(label),
                   std::move(authorization),
                   Principal::Kind::kMember,
                   {{"pub", rank_of(role)}, {"priv", rank_of(role)}}};
}

// The role table: reader pull; writer + push; maintainer + delete; owner + manage; a public
// project lets everyone pull; administrators do everything; credentials that do not work are
// never treated as anonymous.
Outcome expected(const Principal& who, const ProjectCase& project, Act act) {
  const bool public_pull = act == Act::kPull && project.is_public;
  switch (who.kind) {
    case Principal::Kind::kRejected:
      return Outcome::kUnauthenticated;
    case Principal::Kind::kAdmin:
      return Outcome::kAllowed;
    case Principal::Kind::kAnonymous:
      return public_pull ? Outcome::kAllowed : Outcome::kUnauthenticated;
    case Principal::Kind::kNoRole:
      return public_pull ? Outcome::kAllowed : Outcome::kDenied;
    case Principal::Kind::kMember: {
      const int needs = static_cast<int>(act) + 1;
      const auto it = who.roles.find(project.name);
      const int role = it == who.roles.end() ? 0 : it->second;
      return role >= needs || public_pull ? Outcome::kAllowed : Outcome::kDenied;
    }
  }
  return Outcome::kDenied;
}

// The repository actions a token for "pull,push,delete" on a project's repository must grant.
std::set<std::string> expected_grant(const Principal& who, const ProjectCase& project) {
  std::set<std::string> out;
  for (Act act : {Act::kPull, Act::kPush, Act::kDelete}) {
    if (expected(who, project, act) == Outcome::kAllowed) {
      out.insert(act_name(act));
    }
  }
  return out;
}

// One request of an action.
struct Step {
  std::string what;
  HttpResponse response;
  unsigned success = 200;
  // A /v2 request (Bearer challenge with this scope) or an admin API one.
  bool v2 = true;
  std::string scope;
  // For reads: the body an allowed request must return.
  std::optional<std::string> body;
  // A HEAD request: its refusals have no body to carry an error code.
  bool head = false;
};

struct ActionResult {
  std::vector<Step> steps;
  // Whether the action's effect is visible to the administrator afterwards (writes only).
  std::optional<bool> took_effect;
};

class AccessMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    AuthServerOptions options;
    // Refused credentials are part of the matrix: they must stay 401, not turn into 429.
    options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "1000000";
    options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "1000000";
    for (const auto& role : kRoles) {
      options.users.emplace_back(role, password_of(role));
    }
    for (const std::string user : {"norole", "spare", "leaver", "mixed"}) {
      options.users.emplace_back(user, password_of(user));
    }
    server_ = new AuthServer(std::move(options));
    for (const auto& project : kProjects) {
      server_->create_project(project.name, project.is_public);
      for (const auto& role : kRoles) {
        server_->set_member(project.name, role, role);
      }
      server_->set_member(project.name, "leaver", "writer");
    }
    // Different rights in the two projects: nothing may leak from one to the other.
    server_->set_member("pub", "mixed", "owner");
    robot_tokens_ = new std::map<std::string, std::string>;
    for (const auto& role : kRoles) {
      (*robot_tokens_)[role] =
          server_->create_robot("bot-" + role, {{"pub", role}, {"priv", role}});
    }
    (*robot_tokens_)["mixed"] = server_->create_robot("bot-mixed", {{"priv", "owner"}});
    admin_ = server_->client().release();
    use_authorization(*admin_, server_->admin_basic());
    images_ = new std::map<std::string, SmallImage>;
    for (const auto& project : kProjects) {
      (*images_)[project.name] = push_small_image(*admin_, project.repo(), "v1");
    }
  }

  static void TearDownTestSuite() {
    delete admin_;
    delete images_;
    delete robot_tokens_;
    if (server_ != nullptr) {
      // Exit status 0: no crash, no sanitizer report, no leak.
      EXPECT_EQ(server_->process().stop(), 0) << server_->log();
      delete server_;
    }
  }

  static AuthServer& server() { return *server_; }
  static HttpClient& admin() { return *admin_; }
  static const std::string& robot_token(const std::string& role) { return robot_tokens_->at(role); }
  static const SmallImage& image_of(const std::string& project) { return images_->at(project); }

  static std::string all_actions_scope(const ProjectCase& project) {
    return repo_scope(project.repo(), "pull,push,delete");
  }

  // A token from /token with Basic credentials, for pull, push and delete on both projects,
  // and for the admin API (the "manage" actions).
  static std::string token_of(const std::string& user, const std::string& password) {
    auto http = server().client();
    return fetch_token(*http,
                       TokenQuery{.basic = std::make_pair(user, password),
                                  .scopes = {all_actions_scope(kProjects[0]),
                                             all_actions_scope(kProjects[1]), "registry:admin:*"}});
  }

  ActionResult run(const Principal& who, const ProjectCase& project, Act act) {
    HttpClient http("127.0.0.1", server().port());
    const auto auth = [&](HttpHeaders headers = {}) {
      if (!who.authorization.empty()) {
        headers.set("Authorization", who.authorization);
      }
      return headers;
    };
    const SmallImage& image = image_of(project.name);
    const std::string repo = project.repo();
    const std::string base = "/v2/" + repo;
    ActionResult result;
    switch (act) {
      case Act::kPull: {
        const std::string scope = repo_scope(repo, "pull");
        result.steps.push_back(
            Step{"GET manifest",
                 http.get(base + "/manifests/v1",
                          auth({{"Accept", std::string(testing::media_types::kOciManifest)}})),
                 200, true, scope, image.manifest});
        result.steps.push_back(Step{"GET blob",
                                    http.get(base + "/blobs/" + image.layer_digest, auth()), 200,
                                    true, scope, std::nullopt});
        result.steps.push_back(Step{"GET tags/list", http.get(base + "/tags/list", auth()), 200,
                                    true, scope, std::nullopt});
        result.steps.push_back(Step{"GET referrers",
                                    http.get(base + "/referrers/" + image.digest, auth()), 200,
                                    true, scope, std::nullopt});
        Step head{"HEAD manifest",
                  http.head(base + "/manifests/v1",
                            auth({{"Accept", std::string(testing::media_types::kOciManifest)}})),
                  200,
                  true,
                  scope,
                  std::nullopt};
        head.head = true;
        result.steps.push_back(std::move(head));
        break;
      }
      case Act::kPush: {
        const std::string scope = repo_scope(repo, "pull,push");
        const std::string blob = testing::random_bytes(64);
        result.steps.push_back(
            Step{"POST monolithic blob upload",
                 http.post(base + "/blobs/uploads/?digest=" + testing::sha256_digest(blob), blob,
                           auth({{"Content-Type", "application/octet-stream"}})),
                 201, true, scope, std::nullopt});
        const std::string tag = "push-" + testing::random_token();
        result.steps.push_back(Step{
            "PUT manifest",
            http.put(base + "/manifests/" + tag, image.manifest,
                     auth({{"Content-Type", std::string(testing::media_types::kOciManifest)}})),
            201, true, scope, std::nullopt});
        // An upload session someone else opened: the session URL alone is no permission.
        const auto started = admin().post(base + "/blobs/uploads/", "");
        if (started.status != 202) {
          throw std::runtime_error("cannot start an upload: " + describe(started));
        }
        result.steps.push_back(
            Step{"PATCH an upload session",
                 http.patch(testing::location_target(started), testing::random_bytes(16),
                            auth({{"Content-Type", "application/octet-stream"}})),
                 202, true, scope, std::nullopt});
        result.took_effect = admin().head(base + "/manifests/" + tag).status == 200;
        break;
      }
      case Act::kDelete: {
        const std::string tag = "del-" + testing::random_token();
        const auto tagged =
            admin().put(base + "/manifests/" + tag, image.manifest,
                        {{"Content-Type", std::string(testing::media_types::kOciManifest)}});
        if (tagged.status != 201) {
          throw std::runtime_error("cannot tag for the delete case: " + describe(tagged));
        }
        const std::string blob = testing::random_bytes(48);
        const std::string blob_digest = testing::sha256_digest(blob);
        const auto pushed = admin().post(base + "/blobs/uploads/?digest=" + blob_digest, blob,
                                         {{"Content-Type", "application/octet-stream"}});
        if (pushed.status != 201) {
          throw std::runtime_error("cannot push a blob for the delete case: " + describe(pushed));
        }
        result.steps.push_back(Step{"DELETE manifest by tag",
                                    http.del(base + "/manifests/" + tag, auth()), 202, true,
                                    repo_scope(repo, "delete"), std::nullopt});
        result.steps.push_back(Step{"DELETE blob", http.del(base + "/blobs/" + blob_digest, auth()),
                                    202, true, repo_scope(repo, "delete"), std::nullopt});
        const bool tag_gone = admin().head(base + "/manifests/" + tag).status == 404;
        const bool blob_gone = admin().head(base + "/blobs/" + blob_digest).status == 404;
        EXPECT_EQ(tag_gone, blob_gone) << "one delete took effect and the other did not";
        result.took_effect = tag_gone;
        break;
      }
      case Act::kManage: {
        const std::string members = "/api/v1/projects/" + project.name + "/members";
        result.steps.push_back(
            Step{"GET members", http.get(members, auth()), 200, false, "", std::nullopt});
        result.steps.push_back(Step{"PUT member",
                                    http.put(members + "/spare", R"({"role":"reader"})",
                                             auth({{"Content-Type", "application/json"}})),
                                    204, false, "", std::nullopt});
        const auto listed = admin().get(members);
        result.took_effect = listed.body.find("\"spare\"") != std::string::npos;
        result.steps.push_back(Step{"DELETE member", http.del(members + "/spare", auth()), 204,
                                    false, "", std::nullopt});
        const std::string body = project.is_public ? R"({"public":true})" : R"({"public":false})";
        result.steps.push_back(Step{"PATCH project",
                                    http.patch("/api/v1/projects/" + project.name, body,
                                               auth({{"Content-Type", "application/json"}})),
                                    204, false, "", std::nullopt});
        break;
      }
    }
    return result;
  }

  void check(const Step& step, Outcome outcome, const std::string& where, bool require_scope) {
    const auto& response = step.response;
    const std::string context = where + ", " + step.what + ": expected " + outcome_name(outcome) +
                                "; " + describe(response);
    switch (outcome) {
      case Outcome::kAllowed:
        EXPECT_EQ(response.status, step.success) << context;
        if (step.body && response.status == step.success) {
          EXPECT_EQ(response.body, *step.body) << context;
        }
        return;
      case Outcome::kDenied:
        EXPECT_EQ(response.status, 403u) << context;
        if (!step.head) {
          EXPECT_EQ(error_code(response), "DENIED") << context;
        }
        return;
      case Outcome::kUnauthenticated: {
        EXPECT_EQ(response.status, 401u) << context;
        if (!step.head) {
          EXPECT_EQ(error_code(response), "UNAUTHORIZED") << context;
        }
        const auto challenge = parse_challenge(response.header("WWW-Authenticate"));
        ASSERT_TRUE(challenge.has_value()) << "no parsable WWW-Authenticate; " << context;
        if (!step.v2) {
          return;  // the admin API asks for credentials, not for a registry scope
        }
        EXPECT_EQ(challenge->scheme, "Bearer") << context;
        EXPECT_EQ(challenge->get("realm"), server().realm()) << context;
        EXPECT_EQ(challenge->get("service"), "berth") << context;
        if (require_scope) {
          EXPECT_EQ(challenge->get("scope"), step.scope) << context;
        }
        EXPECT_FALSE(challenge->has("error")) << context;
        return;
      }
    }
  }

  // Runs every action on both projects as `who` and checks each request and each effect.
  // require_scope: unauthenticated answers must name the scope (anonymous callers); for
  // refused credentials that is checked by its own test below.
  void run_matrix(const Principal& who, bool require_scope = true) {
    for (const auto& project : kProjects) {
      for (Act act : kActs) {
        const Outcome outcome = expected(who, project, act);
        const std::string where =
            who.label + " × " + act_name(act) + " × " + (project.is_public ? "public" : "private");
        const ActionResult result = run(who, project, act);
        for (const auto& step : result.steps) {
          check(step, outcome, where, require_scope);
        }
        if (result.took_effect) {
          EXPECT_EQ(*result.took_effect, outcome == Outcome::kAllowed)
              << where << ": the effect is " << (*result.took_effect ? "" : "not ")
              << "visible afterwards";
        }
      }
    }
  }

  // The repository access a token grants, per repository.
  static std::map<std::string, std::set<std::string>> granted(const std::string& token) {
    std::map<std::string, std::set<std::string>> out;
    const auto payload = decode_jwt(token).payload;
    for (const auto& entry : payload.at("access").as_array()) {
      const auto& access = entry.as_object();
      if (access.at("type").as_string() != "repository") {
        continue;
      }
      auto& actions = out[std::string(access.at("name").as_string())];
      for (const auto& action : access.at("actions").as_array()) {
        actions.insert(std::string(action.as_string()));
      }
    }
    return out;
  }

  void expect_grant(const Principal& who, const std::string& token) {
    const auto access = granted(token);
    for (const auto& project : kProjects) {
      const auto want = expected_grant(who, project);
      const auto it = access.find(project.repo());
      const std::set<std::string> got = it == access.end() ? std::set<std::string>() : it->second;
      EXPECT_EQ(got, want) << who.label << ": the token's grant for " << project.repo();
    }
  }

 private:
  static AuthServer* server_;
  static HttpClient* admin_;
  static std::map<std::string, std::string>* robot_tokens_;
  static std::map<std::string, SmallImage>* images_;
};

AuthServer* AccessMatrixTest::server_ = nullptr;
HttpClient* AccessMatrixTest::admin_ = nullptr;
std::map<std::string, std::string>* AccessMatrixTest::robot_tokens_ = nullptr;
std::map<std::string, SmallImage>* AccessMatrixTest::images_ = nullptr;

TEST_F(AccessMatrixTest, UsersWithBearerTokens) {
  std::vector<Principal> principals;
  for (const auto& role : kRoles) {
    principals.push_back(
        member(role + " (token)", bearer_auth(token_of(role, password_of(role))), role));
  }
  principals.push_back(Principal{"user without a role (token)",
                                 bearer_auth(token_of("norole", password_of("norole"))),
                                 Principal::Kind::kNoRole});
  principals.push_back(Principal{"administrator (token)",
                                 bearer_auth(token_of("admin", std::string(kAdminPassword))),
                                 Principal::Kind::kAdmin});
  for (const auto& who : principals) {
    expect_grant(who, who.authorization.substr(std::string_view("Bearer ").size()));
    run_matrix(who);
  }
}

TEST_F(AccessMatrixTest, UsersWithBasicCredentialsOnV2) {
  std::vector<Principal> principals;
  for (const auto& role : kRoles) {
    principals.push_back(member(role + " (basic)", basic_auth(role, password_of(role)), role));
  }
  principals.push_back(Principal{"user without a role (basic)",
                                 basic_auth("norole", password_of("norole")),
                                 Principal::Kind::kNoRole});
  principals.push_back(
      Principal{"administrator (basic)", server().admin_basic(), Principal::Kind::kAdmin});
  for (const auto& who : principals) {
    run_matrix(who);
  }
}

TEST_F(AccessMatrixTest, RobotsWithBearerTokens) {
  for (const auto& role : kRoles) {
    const Principal who =
        member("robot " + role + " (token)",
               bearer_auth(token_of("robot$bot-" + role, robot_token(role))), role);
    expect_grant(who, who.authorization.substr(std::string_view("Bearer ").size()));
    run_matrix(who);
  }
}

TEST_F(AccessMatrixTest, RobotsWithBasicCredentialsOnV2) {
  for (const auto& role : kRoles) {
    run_matrix(member("robot " + role + " (basic)",
                      basic_auth("robot$bot-" + role, robot_token(role)), role));
  }
}

TEST_F(AccessMatrixTest, DifferentRolesInDifferentProjects) {
  // mixed: owner of pub, nothing in priv. bot-mixed: owner of priv, nothing in pub.
  const Principal user_token{"owner of pub only (token)",
                             bearer_auth(token_of("mixed", password_of("mixed"))),
                             Principal::Kind::kMember,
                             {{"pub", 4}}};
  const Principal user_basic{"owner of pub only (basic)",
                             basic_auth("mixed", password_of("mixed")),
                             Principal::Kind::kMember,
                             {{"pub", 4}}};
  const Principal by_robot_token{"robot owner of priv only (token)",
                                 bearer_auth(token_of("robot$bot-mixed", robot_token("mixed"))),
                                 Principal::Kind::kMember,
                                 {{"priv", 4}}};
  const Principal by_robot_basic{"robot owner of priv only (basic)",
                                 basic_auth("robot$bot-mixed", robot_token("mixed")),
                                 Principal::Kind::kMember,
                                 {{"priv", 4}}};
  for (const auto& who : {user_token, user_basic, by_robot_token, by_robot_basic}) {
    if (who.authorization.starts_with("Bearer ")) {
      expect_grant(who, who.authorization.substr(std::string_view("Bearer ").size()));
    }
    run_matrix(who);
  }
}

// Mounting a blob from another repository reads it: the caller must be allowed to pull there,
// and a token must grant that pull, or the mount falls back to an ordinary upload (202) and
// the blob stays out of reach.
TEST_F(AccessMatrixTest, MountNeedsPullOnTheSourceRepository) {
  const std::string layer = image_of("priv").layer_digest;
  const std::string target = "/v2/pub/app/blobs/uploads/?mount=" + layer + "&from=priv/app";
  auto http = server().client();
  // mixed owns pub but has no role in priv.
  const auto by_user =
      http->post(target, "", authorization(basic_auth("mixed", password_of("mixed"))));
  EXPECT_EQ(by_user.status, 202u) << "mounted from a repository the caller may not pull: "
                                  << describe(by_user);
  EXPECT_EQ(admin().head("/v2/pub/app/blobs/" + layer).status, 404u);

  // The owner may pull priv, but this token grants only pub/app: no mount either.
  const std::string narrow =
      fetch_token(*http, TokenQuery{.basic = std::make_pair("owner", password_of("owner")),
                                    .scopes = {repo_scope("pub/app", "pull,push")}});
  const auto by_token = http->post(target, "", authorization(bearer_auth(narrow)));
  EXPECT_EQ(by_token.status, 202u) << "mounted beyond the token's grant: " << describe(by_token);
  EXPECT_EQ(admin().head("/v2/pub/app/blobs/" + layer).status, 404u);

  // With the pull granted, the mount happens.
  const std::string wide = fetch_token(
      *http,
      TokenQuery{.basic = std::make_pair("owner", password_of("owner")),
                 .scopes = {repo_scope("pub/app", "pull,push"), repo_scope("priv/app", "pull")}});
  const auto mounted = http->post(target, "", authorization(bearer_auth(wide)));
  EXPECT_EQ(mounted.status, 201u) << describe(mounted);
  EXPECT_EQ(admin().head("/v2/pub/app/blobs/" + layer).status, 200u);
}

TEST_F(AccessMatrixTest, AnonymousCallers) {
  run_matrix(Principal{"anonymous (no credentials)", "", Principal::Kind::kAnonymous});

  auto http = server().client();
  const std::string token = fetch_token(
      *http,
      TokenQuery{.scopes = {all_actions_scope(kProjects[0]), all_actions_scope(kProjects[1])}});
  const Principal with_token{"anonymous (anonymous token)", bearer_auth(token),
                             Principal::Kind::kAnonymous};
  EXPECT_EQ(decode_jwt(token).payload.at("sub").as_string(), "");
  expect_grant(with_token, token);
  run_matrix(with_token);
}

TEST_F(AccessMatrixTest, BaseEndpointChallengesAnonymousProbes) {
  auto http = server().client();
  const auto probe = http->get("/v2/");
  EXPECT_EQ(probe.status, 401u) << describe(probe);
  const auto challenge = parse_challenge(probe.header("WWW-Authenticate"));
  ASSERT_TRUE(challenge) << describe(probe);
  EXPECT_EQ(challenge->scheme, "Bearer");
  EXPECT_EQ(challenge->get("realm"), server().realm());
  EXPECT_EQ(challenge->get("service"), "berth");

  // An anonymous token is an answer to the challenge: the probe then succeeds.
  const std::string anonymous = fetch_token(*http, TokenQuery{});
  EXPECT_EQ(http->get("/v2/", authorization(bearer_auth(anonymous))).status, 200u);
  const std::string user = token_of("reader", password_of("reader"));
  EXPECT_EQ(http->get("/v2/", authorization(bearer_auth(user))).status, 200u);
  EXPECT_EQ(http->get("/v2/", authorization(basic_auth("reader", password_of("reader")))).status,
            200u);
  // Wrong credentials are never anonymous.
  EXPECT_EQ(http->get("/v2/", authorization(basic_auth("reader", "wrong-password"))).status, 401u);
}

TEST_F(AccessMatrixTest, ExpiredAndRevokedRobotsAreRefused) {
  const std::string expired_token = seed_robot(
      server().data(), "bot-expired", {{"pub", meta::Role::kOwner}, {"priv", meta::Role::kOwner}},
      std::chrono::system_clock::now() - std::chrono::hours(1));
  const std::string revoked_token =
      server().create_robot("bot-revoked", {{"pub", "owner"}, {"priv", "owner"}});
  // A token issued while the robot was still good, used after the revocation.
  const std::string issued_before = token_of("robot$bot-revoked", revoked_token);
  server().admin_api("POST", "/api/v1/robots/bot-revoked/revoke", "", 204);

  auto http = server().client();
  for (const auto& [name, token] : {std::pair{"robot$bot-expired", expired_token},
                                    std::pair{"robot$bot-revoked", revoked_token}}) {
    const auto response = get_token(*http, TokenQuery{.basic = std::make_pair(name, token),
                                                      .scopes = {all_actions_scope(kProjects[0])}});
    EXPECT_EQ(response.status, 401u) << name << ": " << describe(response);
    EXPECT_EQ(error_code(response), "UNAUTHORIZED") << name;
  }

  run_matrix(Principal{"expired robot (basic)", basic_auth("robot$bot-expired", expired_token),
                       Principal::Kind::kRejected},
             false);
  run_matrix(Principal{"revoked robot (basic)", basic_auth("robot$bot-revoked", revoked_token),
                       Principal::Kind::kRejected},
             false);
  run_matrix(Principal{"revoked robot (token issued before the revocation)",
                       bearer_auth(issued_before), Principal::Kind::kRejected},
             false);
  // The robot list shows the revocation.
  const auto robots = server().admin_api("GET", "/api/v1/robots", "", 200);
  bool seen = false;
  const auto listed = json_of(robots.body);
  for (const auto& robot : listed.as_array()) {
    if (robot.at("name").as_string() == "bot-revoked") {
      seen = true;
      EXPECT_TRUE(robot.at("revoked").as_bool());
    }
  }
  EXPECT_TRUE(seen) << robots.body;
}

TEST_F(AccessMatrixTest, DeletedUsersTokenIsRefused) {
  const std::string token = token_of("leaver", password_of("leaver"));
  // While the user exists the token works (so the refusal below is about the deletion).
  auto http = server().client();
  EXPECT_EQ(http->get("/v2/priv/app/manifests/v1", authorization(bearer_auth(token))).status, 200u);
  server().admin_api("DELETE", "/api/v1/users/leaver", "", 204);
  run_matrix(Principal{"deleted user (token with a valid signature)", bearer_auth(token),
                       Principal::Kind::kRejected},
             false);
  run_matrix(Principal{"deleted user (basic)", basic_auth("leaver", password_of("leaver")),
                       Principal::Kind::kRejected},
             false);
}

// Rights are those of the account now, not when the token was issued: tokens live minutes,
// but a removed role, a demoted administrator or a project made private must count at once.
TEST_F(AccessMatrixTest, RightsAreCheckedNowNotWhenTheTokenWasIssued) {
  server().create_project("flux", true);
  server().set_member("flux", "spare", "maintainer");
  server().admin_api("POST", "/api/v1/users",
                     R"({"name":"deputy","password":"deputy-password-1","admin":true})", 201);
  auto admin_http = server().client();
  use_authorization(*admin_http, server().admin_basic());
  const SmallImage image = push_small_image(*admin_http, "flux/app", "v1");
  auto http = server().client();
  const auto token_for = [&](const std::string& user, const std::string& password) {
    return fetch_token(*http, TokenQuery{.basic = std::make_pair(user, password),
                                         .scopes = {repo_scope("flux/app", "pull,push,delete")}});
  };
  const std::string maintainer = token_for("spare", password_of("spare"));
  const std::string deputy = token_for("deputy", "deputy-password-1");
  const std::string anonymous =
      fetch_token(*http, TokenQuery{.scopes = {repo_scope("flux/app", "pull")}});
  const auto delete_tag = [&](const std::string& token) {
    const std::string tag = "t-" + testing::random_token();
    const auto tagged =
        admin_http->put("/v2/flux/app/manifests/" + tag, image.manifest,
                        {{"Content-Type", std::string(testing::media_types::kOciManifest)}});
    EXPECT_EQ(tagged.status, 201u) << describe(tagged);
    return http->del("/v2/flux/app/manifests/" + tag, authorization(bearer_auth(token)));
  };
  const auto pull = [&](const std::string& token) {
    return http->get("/v2/flux/app/tags/list", authorization(bearer_auth(token)));
  };
  ASSERT_EQ(delete_tag(maintainer).status, 202u);
  ASSERT_EQ(delete_tag(deputy).status, 202u);
  ASSERT_EQ(pull(anonymous).status, 200u);

  server().admin_api("DELETE", "/api/v1/projects/flux/members/spare", "", 204);
  server().admin_api("PATCH", "/api/v1/users/deputy", R"({"admin":false})", 204);
  server().admin_api("PATCH", "/api/v1/projects/flux", R"({"public":false})", 204);

  auto response = delete_tag(maintainer);
  EXPECT_EQ(response.status, 403u) << "a removed role still deletes: " << describe(response);
  response = delete_tag(deputy);
  EXPECT_EQ(response.status, 403u)
      << "a demoted administrator still deletes: " << describe(response);
  response = pull(anonymous);
  EXPECT_EQ(response.status, 401u)
      << "an anonymous token still pulls from a now private project: " << describe(response);
  response = pull(maintainer);
  EXPECT_EQ(response.status, 403u) << describe(response);
}

// Deleting a project removes its members and robot scopes: a project made again under the same
// name starts with nobody in it.
TEST_F(AccessMatrixTest, DeletedProjectTakesItsRolesAlong) {
  server().create_project("phoenix", false);
  server().set_member("phoenix", "spare", "owner");
  const std::string robot = server().create_robot("bot-phoenix", {{"phoenix", "writer"}});
  auto http = server().client();
  const auto try_push = [&](const std::string& authorization_value) {
    const std::string blob = testing::random_bytes(24);
    return http->post(
        "/v2/phoenix/app/blobs/uploads/?digest=" + testing::sha256_digest(blob), blob,
        {{"Authorization", authorization_value}, {"Content-Type", "application/octet-stream"}});
  };
  ASSERT_EQ(try_push(basic_auth("spare", password_of("spare"))).status, 201u);
  ASSERT_EQ(try_push(basic_auth("robot$bot-phoenix", robot)).status, 201u);

  server().admin_api("DELETE", "/api/v1/projects/phoenix?with_images=true", "", 204);
  server().create_project("phoenix", false);
  auto response = try_push(basic_auth("spare", password_of("spare")));
  EXPECT_EQ(response.status, 403u) << "an owner of the deleted project: " << describe(response);
  response = try_push(basic_auth("robot$bot-phoenix", robot));
  EXPECT_EQ(response.status, 403u) << "a robot of the deleted project: " << describe(response);
  const auto members = server().admin_api("GET", "/api/v1/projects/phoenix/members", "", 200);
  EXPECT_EQ(members.body, "[]");
}

// The project list and project pages show what the caller may pull, like the catalog.
// A token issued for pulling and pushing does not open the admin API: only one issued for it
// (scope registry:admin:*) does, and then the account's own rights decide.
TEST_F(AccessMatrixTest, AdminApiTakesOnlyTokensIssuedForIt) {
  auto http = server().client();
  const std::string pull_only =
      fetch_token(*http, TokenQuery{.basic = std::make_pair("owner", password_of("owner")),
                                    .scopes = {repo_scope("pub/app", "pull")}});
  const auto refused = http->get("/api/v1/me", authorization(bearer_auth(pull_only)));
  EXPECT_EQ(refused.status, 401u) << describe(refused);
  EXPECT_NE(refused.header("WWW-Authenticate").find("registry:admin:*"), std::string::npos)
      << refused.header("WWW-Authenticate");
  const std::string admin_token =
      fetch_token(*http, TokenQuery{.basic = std::make_pair("owner", password_of("owner")),
                                    .scopes = {"registry:admin:*"}});
  const auto me = http->get("/api/v1/me", authorization(bearer_auth(admin_token)));
  EXPECT_EQ(me.status, 200u) << describe(me);
  // Anonymous tokens never carry it.
  const std::string anonymous = fetch_token(*http, TokenQuery{.scopes = {"registry:admin:*"}});
  const auto nobody = http->get("/api/v1/me", authorization(bearer_auth(anonymous)));
  EXPECT_EQ(nobody.status, 401u) << describe(nobody);
}

TEST_F(AccessMatrixTest, ProjectListShowsOnlyVisibleProjects) {
  auto http = server().client();
  const auto names = [&](const std::string& authorization_value) {
    const auto response = http->get("/api/v1/projects", authorization(authorization_value));
    EXPECT_EQ(response.status, 200u) << describe(response);
    std::set<std::string> out;
    if (response.status == 200) {
      const auto listed = json_of(response.body);
      for (const auto& project : listed.as_array()) {
        out.insert(std::string(project.at("name").as_string()));
      }
    }
    return out;
  };
  const auto by_norole = names(basic_auth("norole", password_of("norole")));
  EXPECT_TRUE(by_norole.contains("pub"));
  EXPECT_FALSE(by_norole.contains("priv"));
  const auto by_reader = names(basic_auth("reader", password_of("reader")));
  EXPECT_TRUE(by_reader.contains("pub"));
  EXPECT_TRUE(by_reader.contains("priv"));
  const auto by_robot = names(basic_auth("robot$bot-mixed", robot_token("mixed")));
  EXPECT_TRUE(by_robot.contains("priv"));
  const auto by_admin = names(server().admin_basic());
  EXPECT_TRUE(by_admin.contains("pub") && by_admin.contains("priv"));

  const auto hidden = http->get("/api/v1/projects/priv",
                                authorization(basic_auth("norole", password_of("norole"))));
  EXPECT_EQ(hidden.status, 404u) << describe(hidden);
  const auto shown = http->get("/api/v1/projects/priv",
                               authorization(basic_auth("reader", password_of("reader"))));
  EXPECT_EQ(shown.status, 200u) << describe(shown);
  // Anonymous callers browse what they may pull, as the web UI shows it (issue 12): the
  // public projects only; the rest of the admin API still asks for credentials.
  EXPECT_EQ(names(""), std::set<std::string>{"pub"});
  EXPECT_EQ(http->get("/api/v1/projects/priv").status, 404u);
  EXPECT_EQ(http->get("/api/v1/users").status, 401u);
}

// A client whose token or password stopped working learns from the challenge which scope to
// ask for again, as Distribution's token access controller tells it.
TEST_F(AccessMatrixTest, ChallengeForRefusedCredentialsNamesTheScope) {
  auto http = server().client();
  const std::string expired_robot =
      seed_robot(server().data(), "bot-expired-2", {{"priv", meta::Role::kReader}},
                 std::chrono::system_clock::now() - std::chrono::hours(1));
  for (const auto& authorization_value :
       {basic_auth("reader", "wrong-password"), basic_auth("robot$bot-expired-2", expired_robot),
        bearer_auth("not.a.token")}) {
    const auto response =
        http->get("/v2/priv/app/manifests/v1", authorization(authorization_value));
    EXPECT_EQ(response.status, 401u) << describe(response);
    const auto challenge = parse_challenge(response.header("WWW-Authenticate"));
    ASSERT_TRUE(challenge) << describe(response);
    EXPECT_EQ(challenge->scheme, "Bearer");
    EXPECT_EQ(challenge->get("realm"), server().realm());
    EXPECT_EQ(challenge->get("scope"), "repository:priv/app:pull")
        << authorization_value.substr(0, 6) << ": " << response.header("WWW-Authenticate");
  }
}

}  // namespace
}  // namespace berth::authtest
