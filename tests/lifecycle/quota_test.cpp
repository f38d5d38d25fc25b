// Quotas over HTTP: a project's byte and repository quotas set through PUT
// /api/v1/projects/{p}/settings, pushes refused with DENIED and a message saying by how much (at
// upload start when the size is announced, at the closing PUT of a chunked upload, at a mount,
// at the manifest PUT), and usage from GET .../usage that equals the sum of the project's unique
// blobs after pushes, a mount within the project, a mount from another project, a delete and a
// garbage collection.
//
// The expected usage never comes from the server's figures: it is what the test pushed, and,
// independently, what the project's repositories answer to HEAD for every digest the test ever
// sent (expected_usage).
#include <gtest/gtest.h>

#include "lifecycle_support.hpp"

namespace berth::testing::lifecycle {
namespace {

namespace json = boost::json;

class QuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    berth_.start();
    registry_ = std::make_unique<RegistryClient>("127.0.0.1", berth_.port());
    admin_ = std::make_unique<AdminApi>(registry_->http());
  }

  void TearDown() override {
    registry_.reset();
    EXPECT_EQ(berth_.stop(), 0) << berth_.logs();
    EXPECT_EQ(crash::find_sanitizer_report(berth_.logs()), "");
  }

  // Everything the test has sent into the project, for expected_usage.
  void remember(const std::map<std::string, std::uint64_t>& digests) {
    sent_.insert(digests.begin(), digests.end());
  }
  void remember(const PushedBlob& blob) { sent_[blob.digest] = blob.bytes.size(); }

  Usage oracle() { return expected_usage(registry_->http(), repos_, sent_); }

  void set_quota(std::optional<std::uint64_t> bytes, std::optional<std::uint64_t> repositories) {
    auto limit = [](const std::optional<std::uint64_t>& value) {
      return value ? std::to_string(*value) : std::string("null");
    };
    const std::string settings = R"({"immutable_tags":[],"quota":{"bytes":)" + limit(bytes) +
                                 R"(,"repositories":)" + limit(repositories) + "}}";
    const auto response = admin_->put_settings("quota", settings);
    ASSERT_EQ(response.status, 200u) << describe(response);
  }

  CrashableBerth berth_{kGcOnDemand};
  std::unique_ptr<RegistryClient> registry_;
  std::unique_ptr<AdminApi> admin_;
  const std::vector<std::string> repos_ = {"quota/a", "quota/b", "quota/c", "quota/d"};
  std::map<std::string, std::uint64_t> sent_;
};

// The message of a DENIED refusal; fails the test if the response is not one.
std::string denial(const HttpResponse& response) {
  EXPECT_EQ(response.status, 403u) << describe(response);
  EXPECT_EQ(error_code(response), "DENIED") << describe(response);
  const auto body = json_object(response.body);
  return std::string(body.at("errors").as_array().at(0).as_object().at("message").as_string());
}

std::string over_by(std::uint64_t bytes) {
  return "would exceed the quota by " + std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

TEST_F(QuotaTest, UsageIsExactAndPushesOverTheQuotaAreRefusedSayingByHowMuch) {
  auto& registry = *registry_;
  auto& http = registry.http();

  // ---- usage through pushes and mounts
  const auto first =
      push_image_of(registry, "quota/a", "v1", {new_layer(1000), new_layer(1500)}, true);
  remember(stored_digests(first));
  EXPECT_EQ(admin_->usage("quota"), (Usage{total_size(stored_digests(first)), 1}));
  EXPECT_EQ(admin_->usage("quota"), oracle());

  // A mount within the project links a blob the project holds already: it costs nothing.
  const auto mounted =
      http.post("/v2/quota/b/blobs/uploads/?mount=" + first.layers[0].digest + "&from=quota/a", "");
  ASSERT_EQ(mounted.status, 201u) << describe(mounted);
  const auto fresh = new_layer(700);
  registry.push_blob("quota/b", fresh.bytes);
  const auto second = push_image_of(registry, "quota/b", "v1", {first.layers[0], fresh}, false);
  remember(stored_digests(second));
  const std::uint64_t both = total_size(stored_digests(first)) + second.config.bytes.size() +
                             fresh.bytes.size() + second.manifest.size();
  EXPECT_EQ(admin_->usage("quota"), (Usage{both, 2}));
  EXPECT_EQ(admin_->usage("quota"), oracle());

  // A mount into another project counts there, once, and changes nothing here.
  const auto across =
      http.post("/v2/other/x/blobs/uploads/?mount=" + first.layers[1].digest + "&from=quota/a", "");
  ASSERT_EQ(across.status, 201u) << describe(across);
  EXPECT_EQ(admin_->usage("other"), (Usage{first.layers[1].bytes.size(), 1}));
  EXPECT_EQ(admin_->usage("quota"), (Usage{both, 2}));

  // Uploading a blob the project holds already costs nothing either.
  registry.push_blob("quota/a", first.layers[1].bytes);
  EXPECT_EQ(admin_->usage("quota"), (Usage{both, 2}));

  // ---- the byte quota: 5000 bytes left
  const std::uint64_t quota = both + 5000;
  ASSERT_NO_FATAL_FAILURE(set_quota(quota, 4));
  const auto settings = json_object(http.get("/api/v1/projects/quota/settings").body);
  EXPECT_EQ(settings.at("quota").at("bytes").to_number<std::uint64_t>(), quota);
  EXPECT_EQ(settings.at("quota").at("repositories").to_number<std::uint64_t>(), 4u);

  // At upload start, when Content-Length announces the size: 6000 bytes are 1000 too many.
  const auto big = new_layer(6000);
  remember(big);
  const auto monolithic = http.post("/v2/quota/a/blobs/uploads/?digest=" + big.digest, big.bytes,
                                    {{"Content-Type", "application/octet-stream"}});
  EXPECT_NE(denial(monolithic).find(over_by(1000)), std::string::npos) << describe(monolithic);
  EXPECT_FALSE(registry.blob_exists("quota/a", big.digest));
  // ... before a single byte of the body is read: the answer comes to the headers alone.
  auto held = crash::send_partial_request(
      berth_.port(), "POST", "/v2/quota/a/blobs/uploads/?digest=" + big.digest,
      {{"Content-Type", "application/octet-stream"}}, big.bytes.size(), "");
  const auto early = held->read_response(30s);
  EXPECT_NE(denial(early).find(over_by(1000)), std::string::npos) << describe(early);
  held.reset();

  // A chunked upload announces no total size: it is refused at the chunk that takes it past
  // what is left (it used to be taken whole and refused at its closing PUT), before that
  // chunk's bytes are read when its Content-Length says, and discarded.
  const std::string location = registry.start_upload("quota/a");
  const auto first_chunk =
      http.patch(location, big.bytes.substr(0, 4000),
                 {{"Content-Type", "application/octet-stream"}, {"Content-Range", "0-3999"}});
  ASSERT_EQ(first_chunk.status, 202u) << describe(first_chunk);
  const auto second_chunk =
      http.patch(location_target(first_chunk), big.bytes.substr(4000),
                 {{"Content-Type", "application/octet-stream"}, {"Content-Range", "4000-5999"}});
  EXPECT_NE(denial(second_chunk).find(over_by(1000)), std::string::npos) << describe(second_chunk);
  EXPECT_EQ(http.get(location_target(first_chunk)).status, 404u) << "the upload was discarded";
  EXPECT_FALSE(registry.blob_exists("quota/a", big.digest));
  EXPECT_EQ(admin_->usage("quota"), (Usage{both, 2}));
  // Without a Content-Length (a chunked body), as soon as the running total passes it.
  const std::string streamed = registry.start_upload("quota/a");
  std::size_t sent = 0;
  const auto streaming = http.request_stream(
      "PATCH", streamed, {{"Content-Type", "application/octet-stream"}},
      [&] {
        std::string piece = sent < big.bytes.size() ? big.bytes.substr(sent, 1000) : "";
        sent += piece.size();
        return piece;
      },
      std::nullopt);
  // By how much depends on where the reads fell: at most the 1000 bytes of the last piece.
  EXPECT_NE(denial(streaming).find("would exceed the quota by"), std::string::npos)
      << describe(streaming);
  EXPECT_EQ(http.get(streamed).status, 404u) << "the upload was discarded";
  EXPECT_FALSE(registry.blob_exists("quota/a", big.digest));

  // What fits goes in: 4000 of the 5000 bytes.
  const auto fits = new_layer(4000);
  remember(fits);
  registry.push_blob("quota/a", fits.bytes);
  EXPECT_EQ(admin_->usage("quota"), (Usage{both + 4000, 2}));

  // A mount of 2000 bytes new to the project is refused like an upload.
  const auto elsewhere = new_layer(2000);
  remember(elsewhere);
  registry.push_blob("other/x", elsewhere.bytes);
  const auto mount_over =
      http.post("/v2/quota/a/blobs/uploads/?mount=" + elsewhere.digest + "&from=other/x", "");
  EXPECT_NE(denial(mount_over).find(over_by(1000)), std::string::npos) << describe(mount_over);
  EXPECT_FALSE(registry.blob_exists("quota/a", elsewhere.digest));

  // At the manifest PUT at the latest: its blobs fit, its own bytes do not, by one byte.
  const auto small = new_layer(300);
  remember(small);
  registry.push_blob("quota/c", small.bytes);
  PushedImage third;
  third.config.bytes = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
  third.config.digest = registry.push_blob("quota/c", third.config.bytes);
  third.layers = {small};
  third.manifest = make_image_manifest(describe(media_types::kOciConfig, third.config.bytes),
                                       {describe(media_types::kOciLayer, small.bytes)});
  third.digest = sha256_digest(third.manifest);
  third.media_type = std::string(media_types::kOciManifest);
  remember(stored_digests(third));
  const auto usage_now = admin_->usage("quota");
  EXPECT_EQ(usage_now, oracle());
  ASSERT_NO_FATAL_FAILURE(set_quota(usage_now.bytes + third.manifest.size() - 1, 4));
  const auto refused_manifest =
      http.put("/v2/quota/c/manifests/v1", third.manifest,
               {{"Content-Type", std::string(media_types::kOciManifest)}});
  EXPECT_NE(denial(refused_manifest).find(over_by(1)), std::string::npos)
      << describe(refused_manifest);
  EXPECT_FALSE(registry.manifest_exists("quota/c", "v1"));
  ASSERT_NO_FATAL_FAILURE(set_quota(usage_now.bytes + third.manifest.size(), 4));
  registry.push_manifest("quota/c", "v1", third.manifest, media_types::kOciManifest);
  EXPECT_EQ(admin_->usage("quota"), (Usage{usage_now.bytes + third.manifest.size(), 3}));
  EXPECT_EQ(admin_->usage("quota"), oracle());

  // ---- the repository quota: three repositories hold blobs, three are allowed
  ASSERT_NO_FATAL_FAILURE(set_quota(std::nullopt, 3));
  const auto stray = new_layer(10);
  remember(stray);
  const auto fourth = http.post("/v2/quota/d/blobs/uploads/?digest=" + stray.digest, stray.bytes,
                                {{"Content-Type", "application/octet-stream"}});
  EXPECT_NE(denial(fourth).find("would exceed the quota by 1 repository"), std::string::npos)
      << describe(fourth);
  EXPECT_FALSE(registry.blob_exists("quota/d", stray.digest));
  // The repositories the project has still take pushes (no byte quota now).
  registry.push_blob("quota/b", stray.bytes);
  EXPECT_EQ(admin_->usage("quota"), oracle());

  // ---- delete and collect: usage falls to exactly what the remaining images store
  const auto deleted = http.del("/v2/quota/b/manifests/" + second.digest);
  ASSERT_EQ(deleted.status, 202u) << describe(deleted);
  EXPECT_EQ(admin_->usage("quota"), oracle());
  const auto report = admin_->gc(false);
  EXPECT_TRUE(report.at("errors").as_array().empty()) << json::serialize(report);
  auto remaining = stored_digests(first);
  const auto third_digests = stored_digests(third);
  remaining.insert(third_digests.begin(), third_digests.end());
  EXPECT_EQ(admin_->usage("quota"), (Usage{total_size(remaining), 2}));
  EXPECT_EQ(admin_->usage("quota"), oracle());
  // The other project's mounted link and lone blob went too.
  EXPECT_EQ(admin_->usage("other"), (Usage{0, 0}));
  // And the images left are whole.
  EXPECT_EQ(image_problem(registry, "quota/a", "v1", first), "");
  EXPECT_EQ(image_problem(registry, "quota/c", "v1", third), "");
}

}  // namespace
}  // namespace berth::testing::lifecycle
