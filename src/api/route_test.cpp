#include "api/route.hpp"

#include <gtest/gtest.h>

#include "api/metrics_handler.hpp"

namespace berth::api {
namespace {

struct Case {
  std::string target;
  Endpoint endpoint;
  std::string name;
  std::string argument;
};

class RouteTest : public ::testing::TestWithParam<Case> {};

TEST_P(RouteTest, Recognises) {
  const auto& c = GetParam();
  auto r = route(c.target);
  EXPECT_EQ(r.endpoint, c.endpoint) << c.target;
  EXPECT_EQ(r.name, c.name) << c.target;
  EXPECT_EQ(r.argument, c.argument) << c.target;
}

const std::string kDigest =
    "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

INSTANTIATE_TEST_SUITE_P(
    Endpoints, RouteTest,
    ::testing::Values(
        Case{"/v2/", Endpoint::kBase, "", ""}, Case{"/v2", Endpoint::kBase, "", ""},
        Case{"/v2/_catalog?n=10", Endpoint::kCatalog, "", ""},
        Case{"/v2/a/b/c/tags/list", Endpoint::kTags, "a/b/c", ""},
        Case{"/v2/app/manifests/latest", Endpoint::kManifest, "app", "latest"},
        Case{"/v2/app/manifests/" + kDigest, Endpoint::kManifest, "app", kDigest},
        Case{"/v2/app/referrers/" + kDigest + "?artifactType=x", Endpoint::kReferrers, "app",
             kDigest},
        Case{"/v2/app/blobs/" + kDigest, Endpoint::kBlob, "app", kDigest},
        Case{"/v2/team/app/blobs/uploads/", Endpoint::kUploads, "team/app", ""},
        Case{"/v2/team/app/blobs/uploads", Endpoint::kUploads, "team/app", ""},
        Case{"/v2/team/app/blobs/uploads/?digest=" + kDigest, Endpoint::kUploads, "team/app", ""},
        Case{"/v2/app/blobs/uploads/0123abcd", Endpoint::kUpload, "app", "0123abcd"},
        // Names may contain the words the endpoints use.
        Case{"/v2/blobs/blobs/" + kDigest, Endpoint::kBlob, "blobs", kDigest},
        Case{"/v2/manifests/manifests/x", Endpoint::kManifest, "manifests", "x"},
        Case{"/v2/tags/list/tags/list", Endpoint::kTags, "tags/list", ""},
        // Percent-encoding is decoded before matching, so it cannot smuggle anything past the
        // name grammar: the handler sees "../x" and refuses it.
        Case{"/v2/%2e%2e/x/tags/list", Endpoint::kTags, "../x", ""},
        Case{"/healthz", Endpoint::kHealth, "", ""}, Case{"/readyz", Endpoint::kReady, "", ""},
        Case{"/token?service=berth&scope=repository:a:pull", Endpoint::kToken, "", ""},
        Case{"/metrics", Endpoint::kMetrics, "", ""},
        Case{"/metrics/x", Endpoint::kNotFound, "", ""},
        Case{"/api/v1/projects/ci/members", Endpoint::kAdmin, "", "projects/ci/members"},
        Case{"/api/v1/users", Endpoint::kAdmin, "", "users"},
        Case{"/", Endpoint::kNotFound, "", ""}, Case{"/v1/", Endpoint::kNotFound, "", ""},
        Case{"/v2/app", Endpoint::kNotFound, "", ""},
        Case{"/v2/manifests/x", Endpoint::kNotFound, "", ""},
        Case{"not a path", Endpoint::kNotFound, "", ""}));

TEST(RouteQueryTest, RepeatedAndDecodedParameters) {
  auto r = route("/v2/app/manifests/" + kDigest + "?tag=a&tag=b%2Dc&x");
  EXPECT_EQ(r.params("tag"), (std::vector<std::string>{"a", "b-c"}));
  EXPECT_EQ(r.param("tag"), "a");
  EXPECT_EQ(r.param("x"), "");
  EXPECT_FALSE(r.param("missing"));
}

TEST(EncodeQueryValueTest, EscapesReservedCharacters) {
  EXPECT_EQ(encode_query_value("a/b:c"), "a/b:c");
  EXPECT_EQ(encode_query_value("a&b=c d"), "a%26b%3Dc%20d");
}

}  // namespace
}  // namespace berth::api

namespace berth::api {
namespace {

// The route label of the metrics (metrics/http_metrics.hpp) for each endpoint.
TEST(RouteClassTest, EveryEndpointHasItsLabel) {
  using metrics::route_label;
  EXPECT_EQ(route_label(route_class(route("/v2/").endpoint, true)), "base");
  EXPECT_EQ(route_label(route_class(route("/v2/a/b/manifests/v1").endpoint, true)), "manifest");
  EXPECT_EQ(route_label(route_class(route("/v2/a/blobs/uploads/").endpoint, true)), "upload");
  EXPECT_EQ(route_label(route_class(route("/v2/a/blobs/uploads/id").endpoint, true)), "upload");
  EXPECT_EQ(route_label(route_class(route("/v2/a/blobs/" + kDigest).endpoint, true)), "blob");
  EXPECT_EQ(route_label(route_class(route("/v2/a/tags/list").endpoint, true)), "tags");
  EXPECT_EQ(route_label(route_class(route("/v2/_catalog").endpoint, true)), "catalog");
  EXPECT_EQ(route_label(route_class(route("/v2/a/referrers/" + kDigest).endpoint, true)),
            "referrers");
  EXPECT_EQ(route_label(route_class(route("/token").endpoint, true)), "token");
  EXPECT_EQ(route_label(route_class(route("/api/v1/users").endpoint, true)), "api");
  EXPECT_EQ(route_label(route_class(route("/metrics").endpoint, true)), "metrics");
  EXPECT_EQ(route_label(route_class(route("/projects/x").endpoint, true)), "ui");
  EXPECT_EQ(route_label(route_class(route("/projects/x").endpoint, false)), "other");
  EXPECT_EQ(route_label(route_class(route("/healthz").endpoint, true)), "other");
}

}  // namespace
}  // namespace berth::api
