// The catalog shows each caller only the repositories it may pull: public projects to
// everyone, private ones to their members, everything to administrators. Pagination must stay
// right while the filter drops names: pages of n, in order, no repeats, a Link exactly when
// more follow, also across a run of more hidden repositories than the server reads per batch.
#include <gtest/gtest.h>

#include <algorithm>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::next_link;

// More than the server's batch of 100 names, so one page needs several batches.
constexpr int kHiddenRepositories = 105;

class CatalogFilterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new AuthServer(
        AuthServerOptions{.users = {{"alice", kAlicePassword}, {"bob", kBobPassword}}});
    server_->create_project("alpha", true);
    server_->create_project("bravo", false);
    server_->create_project("charlie", true);
    server_->create_project("delta", false);
    server_->set_member("delta", "alice", "reader");

    auto admin = server_->client();
    use_authorization(*admin, server_->admin_basic());
    all_ = new std::vector<std::string>;
    for (const std::string project : {"alpha", "charlie", "delta"}) {
      for (const std::string name : {"r1", "r2", "r3"}) {
        all_->push_back(project + "/" + name);
      }
    }
    for (int i = 0; i < kHiddenRepositories; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "bravo/r%03d", i);
      all_->push_back(name);
    }
    std::sort(all_->begin(), all_->end());
    // The config blob is the same everywhere; each push links it into one more repository.
    const std::string config =
        R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
    const std::string config_digest = testing::sha256_digest(config);
    const std::string manifest = testing::make_image_manifest(
        testing::describe(testing::media_types::kOciConfig, config), {});
    for (const auto& repo : *all_) {
      const auto blob = admin->post("/v2/" + repo + "/blobs/uploads/?digest=" + config_digest,
                                    config, {{"Content-Type", "application/octet-stream"}});
      const auto put =
          admin->put("/v2/" + repo + "/manifests/v1", manifest,
                     {{"Content-Type", std::string(testing::media_types::kOciManifest)}});
      if (blob.status != 201 || put.status != 201) {
        throw std::runtime_error("cannot push " + repo + ": " + describe(blob) + " / " +
                                 describe(put));
      }
    }
  }

  static void TearDownTestSuite() {
    delete all_;
    if (server_ != nullptr) {
      EXPECT_EQ(server_->process().stop(), 0) << server_->log();
      delete server_;
    }
  }

  static AuthServer& server() { return *server_; }

  static std::vector<std::string> in_projects(const std::vector<std::string>& projects) {
    std::vector<std::string> out;
    for (const auto& repo : *all_) {
      const auto project = repo.substr(0, repo.find('/'));
      if (std::find(projects.begin(), projects.end(), project) != projects.end()) {
        out.push_back(repo);
      }
    }
    return out;
  }

  // Every name of the catalog, following Link headers with pages of n (0: the server's
  // default), checking each page on the way.
  static std::vector<std::string> walk(const std::string& authorization_value, std::size_t n) {
    auto http = server().client();
    std::string target = n == 0 ? "/v2/_catalog" : "/v2/_catalog?n=" + std::to_string(n);
    std::vector<std::string> names;
    for (int pages = 0; pages < 1000; ++pages) {
      const auto response = http->get(target, authorization(authorization_value));
      if (response.status != 200) {
        ADD_FAILURE() << target << ": " << describe(response);
        return names;
      }
      const auto page = testing::json_string_array(response.body, "repositories");
      if (n != 0) {
        EXPECT_LE(page.size(), n) << target;
      }
      const auto link = next_link(response);
      if (link) {
        EXPECT_FALSE(page.empty()) << "a Link after an empty page: " << target;
        if (n != 0) {
          EXPECT_EQ(page.size(), n) << "a short page before the end: " << target;
        }
      }
      names.insert(names.end(), page.begin(), page.end());
      if (!link) {
        return names;
      }
      target = *link;
    }
    ADD_FAILURE() << "the catalog never ended";
    return names;
  }

  static void expect_catalog(const std::string& who, const std::string& authorization_value,
                             const std::vector<std::string>& want) {
    for (std::size_t n : {std::size_t{0}, std::size_t{2}, std::size_t{7}, std::size_t{1000}}) {
      EXPECT_EQ(walk(authorization_value, n), want) << who << ", pages of " << n;
    }
  }

 private:
  static AuthServer* server_;
  static std::vector<std::string>* all_;
};

AuthServer* CatalogFilterTest::server_ = nullptr;
std::vector<std::string>* CatalogFilterTest::all_ = nullptr;

TEST_F(CatalogFilterTest, AnonymousSeesPublicProjectsOnly) {
  expect_catalog("anonymous", "", in_projects({"alpha", "charlie"}));
  auto http = server().client();
  const std::string token = fetch_token(*http, TokenQuery{.scopes = {"registry:catalog:*"}});
  expect_catalog("anonymous with a token", bearer_auth(token), in_projects({"alpha", "charlie"}));
}

TEST_F(CatalogFilterTest, MembersSeeTheirPrivateProjects) {
  expect_catalog("alice (basic)", basic_auth("alice", kAlicePassword),
                 in_projects({"alpha", "charlie", "delta"}));
  auto http = server().client();
  const std::string token =
      fetch_token(*http, TokenQuery{.basic = std::make_pair("alice", kAlicePassword),
                                    .scopes = {"registry:catalog:*"}});
  expect_catalog("alice (token)", bearer_auth(token), in_projects({"alpha", "charlie", "delta"}));
  // Bob is a user, but of no project: what anonymous callers see.
  expect_catalog("bob", basic_auth("bob", kBobPassword), in_projects({"alpha", "charlie"}));
}

TEST_F(CatalogFilterTest, AdministratorSeesEverything) {
  expect_catalog("admin", server().admin_basic(),
                 in_projects({"alpha", "bravo", "charlie", "delta"}));
}

TEST_F(CatalogFilterTest, TokenWithoutTheCatalogScopeAsksForIt) {
  auto http = server().client();
  const std::string token =
      fetch_token(*http, TokenQuery{.basic = std::make_pair("alice", kAlicePassword),
                                    .scopes = {repo_scope("delta/r1", "pull")}});
  const auto response = http->get("/v2/_catalog", authorization(bearer_auth(token)));
  EXPECT_EQ(response.status, 401u) << describe(response);
  const auto challenge = parse_challenge(response.header("WWW-Authenticate"));
  ASSERT_TRUE(challenge) << describe(response);
  EXPECT_EQ(challenge->scheme, "Bearer");
  EXPECT_EQ(challenge->get("realm"), server().realm());
  EXPECT_EQ(challenge->get("scope"), "registry:catalog:*");
  EXPECT_EQ(challenge->get("error"), "insufficient_scope");
}

TEST_F(CatalogFilterTest, LastBeyondHiddenNamesContinuesCorrectly) {
  // A client may pass any `last`, also one it could not have seen: the next page still holds
  // only names it may see, in order.
  auto http = server().client();
  const auto response = http->get("/v2/_catalog?n=2&last=bravo/r050");
  ASSERT_EQ(response.status, 200u) << describe(response);
  EXPECT_EQ(testing::json_string_array(response.body, "repositories"),
            (std::vector<std::string>{"charlie/r1", "charlie/r2"}));
}

}  // namespace
}  // namespace berth::authtest
