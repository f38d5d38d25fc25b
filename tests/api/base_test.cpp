// The base endpoint (/v2/), probes (/healthz, /readyz), unknown paths and the headers every
// response carries. (Other paths are the web UI's: tests/ui.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class BaseTest : public ApiTest {};

TEST_F(BaseTest, GetBaseAnswers200WithApiVersion) {
  const auto r = http().get("/v2/");
  EXPECT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
  EXPECT_THAT(r.header("Content-Type"), StartsWith("application/json"));
}

TEST_F(BaseTest, GetBaseWithoutTrailingSlashAnswers200) {
  const auto r = http().get("/v2");
  EXPECT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
}

TEST_F(BaseTest, HeadBaseAnswers200WithoutBody) {
  const auto r = http().head("/v2/");
  EXPECT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(BaseTest, PostBaseIsMethodNotAllowed) {
  const auto r = http().post("/v2/", "");
  EXPECT_EQ(r.status, 405u) << BERTH_DESCRIBE(r);
  EXPECT_TRUE(r.has_header("Allow"));
  EXPECT_FALSE(error_code(r).empty()) << BERTH_DESCRIBE(r);
}

// A 405 lists the methods of the resource asked for (RFC 9110 15.5.6), not one list for all:
// every resource used to answer "GET, HEAD, POST, PUT, PATCH, DELETE", POST on a manifest
// included.
TEST_F(BaseTest, MethodNotAllowedListsTheMethodsOfThatResource) {
  const std::string name = repo();
  const std::string digest = registry().push_blob(name, "allowed");
  const std::string upload = registry().start_upload(name);
  struct Case {
    std::string method;
    std::string target;
    std::string allow;
  };
  const std::vector<Case> cases = {
      {"POST", "/v2/", "GET, HEAD"},
      {"POST", "/v2/_catalog", "GET"},
      {"DELETE", "/v2/" + name + "/tags/list", "GET"},
      {"POST", "/v2/" + name + "/manifests/v1", "GET, HEAD, PUT, DELETE"},
      {"PATCH", "/v2/" + name + "/manifests/v1", "GET, HEAD, PUT, DELETE"},
      {"PUT", "/v2/" + name + "/blobs/" + digest, "GET, HEAD, DELETE"},
      {"POST", "/v2/" + name + "/blobs/" + digest, "GET, HEAD, DELETE"},
      {"GET", "/v2/" + name + "/blobs/uploads/", "POST"},
      {"POST", upload, "GET, PATCH, PUT, DELETE"},
      {"PUT", "/v2/" + name + "/referrers/" + digest, "GET"},
      {"DELETE", "/token", "GET, POST"},
      {"PUT", "/api/v1/gc", "GET, POST"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target);
    const auto r = http().request(c.method, c.target, {}, c.method == "GET" ? "" : "{}");
    EXPECT_EQ(r.status, 405u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(r.header("Allow"), c.allow) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "UNSUPPORTED") << BERTH_DESCRIBE(r);
  }
}

TEST_F(BaseTest, UnknownPathsAnswer404WithJsonError) {
  for (const char* target :
       {"/v2/justaname", "/v2/name/unknownkind/x", "/v2/name/tags", "/v2/name/blobs",
        "/v2/name/manifests", "/api/v0/x", "/token/x", "/assets/missing-0.js"}) {
    SCOPED_TRACE(target);
    const auto r = http().get(target);
    EXPECT_EQ(r.status, 404u) << BERTH_DESCRIBE(r);
    EXPECT_THAT(r.header("Content-Type"), StartsWith("application/json"));
    EXPECT_FALSE(error_codes(r).empty()) << BERTH_DESCRIBE(r);
  }
}

TEST_F(BaseTest, HealthzAndReadyzAnswer200) {
  const auto health = http().get("/healthz");
  EXPECT_EQ(health.status, 200u) << BERTH_DESCRIBE(health);
  const auto ready = http().get("/readyz");
  EXPECT_EQ(ready.status, 200u) << BERTH_DESCRIBE(ready);
}

TEST_F(BaseTest, EveryResponseCarriesAUniqueRequestId) {
  const std::string name = repo();
  std::set<std::string> ids;
  std::vector<HttpResponse> responses;
  responses.push_back(http().get("/v2/"));
  responses.push_back(http().head("/v2/"));
  responses.push_back(http().get("/healthz"));
  responses.push_back(http().get("/readyz"));
  responses.push_back(http().get("/nothing/here"));
  responses.push_back(http().get("/v2/" + name + "/tags/list"));
  responses.push_back(http().get("/v2/" + name + "/manifests/latest"));
  responses.push_back(http().get("/v2/" + name + "/blobs/sha256:" + std::string(64, '0')));
  responses.push_back(http().get("/v2/UPPER/tags/list"));
  responses.push_back(http().post("/v2/" + name + "/blobs/uploads/", ""));
  responses.push_back(http().request("BREW", "/v2/"));
  for (const auto& r : responses) {
    const std::string id = r.header("X-Request-Id");
    EXPECT_FALSE(id.empty()) << BERTH_DESCRIBE(r);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), responses.size()) << "request ids repeat";
}

TEST_F(BaseTest, ErrorBodiesFollowTheOciShape) {
  const auto r = http().get("/v2/" + repo() + "/manifests/latest");
  ASSERT_EQ(r.status, 404u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(r.header("Content-Type"), StartsWith("application/json"));
  // {"errors":[{"code":"...","message":"...",...}]}
  EXPECT_THAT(r.body, HasSubstr("\"errors\""));
  EXPECT_THAT(r.body, HasSubstr("\"message\""));
  EXPECT_EQ(error_code(r), "MANIFEST_UNKNOWN");
}

// Repository names may contain the words the router looks for (blobs, uploads, manifests,
// tags, list, referrers, v2). Routing from the end of the path must still find the endpoint.
TEST_F(BaseTest, RepositoryNamesThatLookLikeEndpointsRoundTrip) {
  const std::string base = repo();
  for (const char* suffix : {"blobs", "uploads", "manifests", "tags", "list", "referrers", "v2",
                             "x/blobs", "x/blobs/uploads", "x/manifests/y", "x/tags/list",
                             "x/referrers/y", "blobs/blobs", "healthz", "v2/v2"}) {
    const std::string name = base + "/" + suffix;
    SCOPED_TRACE(name);
    try {
      const auto image = registry().push_image(name, "t1", ImageOptions().with_layers(1));
      registry().verify_image(name, image);
      EXPECT_EQ(registry().list_tags(name), std::vector<std::string>{"t1"});
      const std::string location = registry().start_upload(name);
      const auto status = http().get(location);
      EXPECT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
      EXPECT_EQ(http().del(location).status, 204u);
      const auto referrers = http().get("/v2/" + name + "/referrers/" + image.digest);
      EXPECT_EQ(referrers.status, 200u) << BERTH_DESCRIBE(referrers);
      const auto head = http().head("/v2/" + name + "/blobs/" + image.layers[0].digest);
      EXPECT_EQ(head.status, 200u) << BERTH_DESCRIBE(head);
    } catch (const RegistryClientError& e) {
      ADD_FAILURE() << e.what();
    }
  }
}

}  // namespace
}  // namespace berth::testing
