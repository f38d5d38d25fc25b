// Manifests: PUT, GET, HEAD and DELETE by tag and by digest, for every media type Berth
// accepts, and every way a manifest can be refused (schema 1, bad JSON, missing blobs or
// children, media type mismatches, size, digest and name rules).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

namespace mt = media_types;

class ManifestTest : public ApiTest {
 protected:
  static std::string manifest_path(std::string_view name, std::string_view reference) {
    return "/v2/" + std::string(name) + "/manifests/" + std::string(reference);
  }

  struct Parts {
    Descriptor config;
    std::vector<Descriptor> layers;
  };
  // Pushes a config and `layers` layers into `name` and returns their descriptors.
  Parts push_parts(std::string_view name, bool docker = false, std::size_t layers = 2,
                   std::string_view config_type = {}) {
    Parts parts;
    const std::string config =
        R"({"architecture":"amd64","os":"linux","id":")" + random_token(12) + "\"}";
    registry().push_blob(name, config);
    parts.config = describe(!config_type.empty() ? config_type
                            : docker             ? mt::kDockerConfig
                                                 : mt::kOciConfig,
                            config);
    for (std::size_t i = 0; i < layers; ++i) {
      const std::string layer = random_bytes(1000 + i);
      registry().push_blob(name, layer);
      parts.layers.push_back(describe(docker ? mt::kDockerLayer : mt::kOciLayer, layer));
    }
    return parts;
  }

  // A pushable OCI image manifest in `name` (blobs pushed, manifest not).
  std::string oci_manifest(std::string_view name, ManifestOptions options = {}) {
    const auto parts = push_parts(name);
    return make_image_manifest(parts.config, parts.layers, options);
  }

  HttpResponse put(std::string_view name, std::string_view reference, std::string_view body,
                   std::string_view content_type) {
    return http().put(manifest_path(name, reference), body,
                      {{"Content-Type", std::string(content_type)}});
  }

  // GET and HEAD by `reference` answer with exactly these bytes and this media type.
  void expect_served(std::string_view name, std::string_view reference, const std::string& bytes,
                     std::string_view media_type) {
    SCOPED_TRACE("reference " + std::string(reference));
    const std::string digest = sha256_digest(bytes);
    const auto get = registry().get_manifest(name, reference);
    ASSERT_EQ(get.status, 200u) << BERTH_DESCRIBE(get);
    EXPECT_EQ(get.body, bytes);
    EXPECT_EQ(get.header("Content-Type"), media_type);
    EXPECT_EQ(get.header("Content-Length"), std::to_string(bytes.size()));
    EXPECT_EQ(get.header("Docker-Content-Digest"), digest);
    const auto head =
        http().head(manifest_path(name, reference), {{"Accept", std::string(media_type)}});
    ASSERT_EQ(head.status, 200u) << BERTH_DESCRIBE(head);
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(head.header("Content-Type"), media_type);
    EXPECT_EQ(head.header("Content-Length"), std::to_string(bytes.size()));
    EXPECT_EQ(head.header("Docker-Content-Digest"), digest);
  }

  // PUT by tag answers 201 with Location and digest, then it is served by tag and digest.
  void push_and_check(std::string_view name, std::string_view tag, const std::string& bytes,
                      std::string_view media_type) {
    const std::string digest = sha256_digest(bytes);
    const auto r = put(name, tag, bytes, media_type);
    ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(location_target(r), manifest_path(name, digest));
    EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
    expect_served(name, tag, bytes, media_type);
    expect_served(name, digest, bytes, media_type);
  }
};

// ---------------------------------------------------------------- media types

TEST_F(ManifestTest, OciImageManifestByTag) {
  const std::string name = repo();
  push_and_check(name, "v1", oci_manifest(name), mt::kOciManifest);
}

TEST_F(ManifestTest, OciImageManifestByDigest) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::string digest = sha256_digest(bytes);
  const auto r = put(name, digest, bytes, mt::kOciManifest);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(location_target(r), manifest_path(name, digest));
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  expect_served(name, digest, bytes, mt::kOciManifest);
  // Pushed by digest only: no tag appeared.
  EXPECT_THAT(registry().list_tags(name), IsEmpty());
}

TEST_F(ManifestTest, OciImageIndex) {
  const std::string name = repo();
  const auto amd64 = registry().push_image(name, "", ImageOptions().with_layers(1));
  const auto arm64 = registry().push_image(name, "", ImageOptions().with_layers(1));
  Descriptor a = amd64.descriptor;
  a.platform_os = "linux";
  a.platform_architecture = "amd64";
  Descriptor b = arm64.descriptor;
  b.platform_os = "linux";
  b.platform_architecture = "arm64";
  const std::string index = make_index({a, b}, ManifestOptions().with_media_type(mt::kOciIndex));
  push_and_check(name, "multi", index, mt::kOciIndex);
}

TEST_F(ManifestTest, DockerSchema2Manifest) {
  const std::string name = repo();
  const auto parts = push_parts(name, /*docker=*/true);
  const std::string bytes = make_image_manifest(
      parts.config, parts.layers, ManifestOptions().with_media_type(mt::kDockerManifest));
  push_and_check(name, "docker", bytes, mt::kDockerManifest);
}

TEST_F(ManifestTest, DockerManifestList) {
  const std::string name = repo();
  const auto one = registry().push_image(
      name, "", ImageOptions().with_layers(1).with_media_type(mt::kDockerManifest));
  const auto two = registry().push_image(
      name, "", ImageOptions().with_layers(1).with_media_type(mt::kDockerManifest));
  Descriptor a = one.descriptor;
  a.platform_os = "linux";
  a.platform_architecture = "amd64";
  Descriptor b = two.descriptor;
  b.platform_os = "linux";
  b.platform_architecture = "arm";
  const std::string list =
      make_index({a, b}, ManifestOptions().with_media_type(mt::kDockerManifestList));
  push_and_check(name, "list", list, mt::kDockerManifestList);
}

TEST_F(ManifestTest, OciArtifactWithArtifactTypeAndCustomConfig) {
  const std::string name = repo();
  const auto parts = push_parts(name, false, 1, "application/vnd.example.thing.config.v1+json");
  const std::string bytes = make_image_manifest(
      parts.config, parts.layers,
      ManifestOptions()
          .with_artifact_type("application/vnd.example.thing.v1")
          .with_annotation("org.opencontainers.image.created", "2024-01-01T00:00:00Z"));
  push_and_check(name, "artifact", bytes, mt::kOciManifest);
}

TEST_F(ManifestTest, OciArtifactWithEmptyConfig) {
  const std::string name = repo();
  const std::string empty = "{}";
  registry().push_blob(name, empty);
  const std::string payload = random_bytes(100);
  registry().push_blob(name, payload);
  const std::string bytes = make_image_manifest(
      describe(mt::kOciEmpty, empty), {describe("application/vnd.example.payload", payload)},
      ManifestOptions().with_artifact_type("application/vnd.example.sbom.v1+json"));
  push_and_check(name, "sbom", bytes, mt::kOciManifest);
}

TEST_F(ManifestTest, ManifestIsStoredByteForByte) {
  const std::string name = repo();
  const auto parts = push_parts(name, false, 1);
  // Odd key order, indentation and a trailing newline: the digest is over exactly these bytes.
  const std::string bytes =
      "{\n  \"layers\": [\n    {\"size\": " + std::to_string(parts.layers[0].size) +
      ", \"digest\": \"" + parts.layers[0].digest + "\", \"mediaType\": \"" +
      parts.layers[0].media_type + "\"}\n  ],\n\t\"config\" : {\"mediaType\":\"" +
      parts.config.media_type + "\",\"size\":" + std::to_string(parts.config.size) +
      ",\"digest\":\"" + parts.config.digest + "\"},\n" + "  \"mediaType\": \"" +
      std::string(mt::kOciManifest) + "\",\n  \"schemaVersion\": 2\n}\n";
  push_and_check(name, "pretty", bytes, mt::kOciManifest);
}

TEST_F(ManifestTest, ManifestWithoutMediaTypeFieldTakesTheContentType) {
  const std::string name = repo();
  const auto parts = push_parts(name);
  const std::string bytes =
      make_image_manifest(parts.config, parts.layers, ManifestOptions().with_media_type(""));
  push_and_check(name, "bare", bytes, mt::kOciManifest);
}

TEST_F(ManifestTest, Sha512DigestReference) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::string digest = sha512_digest(bytes);
  const auto r = put(name, digest, bytes, mt::kOciManifest);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  const auto get = registry().get_manifest(name, digest);
  ASSERT_EQ(get.status, 200u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(get.body, bytes);
  EXPECT_EQ(get.header("Docker-Content-Digest"), digest);
}

TEST_F(ManifestTest, ManifestWithoutContentTypeOrMediaTypeIsAnOciManifest) {
  const std::string name = repo();
  const auto parts = push_parts(name);
  const std::string bytes =
      make_image_manifest(parts.config, parts.layers, ManifestOptions().with_media_type(""));
  const auto r = http().put(manifest_path(name, "plain"), bytes);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  expect_served(name, "plain", bytes, mt::kOciManifest);
}

TEST_F(ManifestTest, TagsAreCaseSensitive) {
  const std::string name = repo();
  const auto lower = registry().push_image(name, "latest");
  const auto upper = registry().push_image(name, "LATEST");
  expect_served(name, "latest", lower.manifest, mt::kOciManifest);
  expect_served(name, "LATEST", upper.manifest, mt::kOciManifest);
  EXPECT_THAT(registry().list_tags(name), UnorderedElementsAre("latest", "LATEST"));
}

// ---------------------------------------------------------------- refusals

TEST_F(ManifestTest, Schema1IsRefusedWithAClearError) {
  const std::string name = repo();
  const std::string schema1 =
      R"({"schemaVersion":1,"name":"x","tag":"latest","architecture":"amd64","fsLayers":[],)"
      R"("history":[]})";
  for (std::string_view type : {mt::kDockerSchema1, mt::kDockerSchema1Signed, mt::kOciManifest}) {
    SCOPED_TRACE(std::string(type));
    const auto r = put(name, "old", schema1, type);
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "MANIFEST_INVALID") << BERTH_DESCRIBE(r);
    EXPECT_THAT(r.body, HasSubstr("schema 1")) << "the message should say why";
  }
  EXPECT_FALSE(registry().manifest_exists(name, "old"));
}

TEST_F(ManifestTest, MalformedJsonIsManifestInvalid) {
  const std::string name = repo();
  const std::string good = oci_manifest(name);
  const std::vector<std::string> bodies = {
      "",
      "{",
      "not json",
      "[]",
      "\"a string\"",
      good.substr(0, good.size() - 1),
      good + ",",
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})",
      R"({"schemaVersion":3,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]})",
      R"({"schemaVersion":"2","mediaType":"application/vnd.oci.image.manifest.v1+json"})",
      R"({"schemaVersion":2,"schemaVersion":2,"config":{},"layers":[]})",
  };
  for (const auto& body : bodies) {
    SCOPED_TRACE(body.substr(0, 80));
    const auto r = put(name, "bad", body, mt::kOciManifest);
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "MANIFEST_INVALID") << BERTH_DESCRIBE(r);
  }
  EXPECT_FALSE(registry().manifest_exists(name, "bad"));
}

TEST_F(ManifestTest, DescriptorWithBadDigestIsRefused) {
  const std::string name = repo();
  const auto parts = push_parts(name);
  Descriptor config = parts.config;
  config.digest = "sha256:1234";
  const auto r = put(name, "bad", make_image_manifest(config, parts.layers), mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_FALSE(error_code(r).empty());
}

TEST_F(ManifestTest, IndexWithImageFieldsIsRefused) {
  // CVE-2021-41190: a document that reads as both an index and an image.
  const std::string name = repo();
  const auto image = registry().push_image(name, "", ImageOptions().with_layers(1));
  const std::string bytes =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":")" +
      image.descriptor.media_type + R"(","digest":")" + image.digest + R"(","size":)" +
      std::to_string(image.descriptor.size) + R"(}],"layers":[]})";
  const auto r = put(name, "ambiguous", bytes, mt::kOciIndex);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_INVALID");
}

TEST_F(ManifestTest, DockerManifestWithoutMediaTypeIsRefused) {
  const std::string name = repo();
  const auto parts = push_parts(name, true);
  const std::string bytes =
      make_image_manifest(parts.config, parts.layers, ManifestOptions().with_media_type(""));
  const auto r = put(name, "x", bytes, mt::kDockerManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_INVALID");
}

TEST_F(ManifestTest, MissingConfigBlobIsManifestBlobUnknown) {
  const std::string name = repo();
  auto parts = push_parts(name);
  parts.config = describe(mt::kOciConfig, "{\"never\":\"pushed\"}");
  const auto r = put(name, "v1", make_image_manifest(parts.config, parts.layers), mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_BLOB_UNKNOWN") << BERTH_DESCRIBE(r);
  EXPECT_FALSE(registry().manifest_exists(name, "v1"));
}

TEST_F(ManifestTest, MissingLayerBlobIsManifestBlobUnknown) {
  const std::string name = repo();
  auto parts = push_parts(name);
  parts.layers.push_back(describe(mt::kOciLayer, random_bytes(100)));
  const auto bytes = make_image_manifest(parts.config, parts.layers);
  const auto r = put(name, "v1", bytes, mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_BLOB_UNKNOWN") << BERTH_DESCRIBE(r);
  EXPECT_FALSE(registry().manifest_exists(name, "v1"));
  EXPECT_FALSE(registry().manifest_exists(name, sha256_digest(bytes)));
}

TEST_F(ManifestTest, BlobOnlyInAnotherRepositoryIsManifestBlobUnknown) {
  const std::string name = repo();
  const std::string other = repo("other");
  const auto parts = push_parts(other);
  const auto r = put(name, "v1", make_image_manifest(parts.config, parts.layers), mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_BLOB_UNKNOWN") << BERTH_DESCRIBE(r);
}

TEST_F(ManifestTest, ForeignLayerWithUrlsNeedNotBePushed) {
  const std::string name = repo();
  auto parts = push_parts(name, true, 1);
  // Docker's non-distributable layers: named by URL, never pushed.
  const std::string foreign = random_bytes(100);
  const std::string bytes =
      R"({"schemaVersion":2,"mediaType":")" + std::string(mt::kDockerManifest) +
      R"(","config":{"mediaType":")" + parts.config.media_type + R"(","digest":")" +
      parts.config.digest + R"(","size":)" + std::to_string(parts.config.size) +
      R"(},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",)"
      R"("digest":")" +
      sha256_digest(foreign) +
      R"(","size":100,)"
      R"("urls":["https://example.invalid/layer"]}]})";
  push_and_check(name, "windows", bytes, mt::kDockerManifest);
}

TEST_F(ManifestTest, MissingChildManifestOfAnIndexIsManifestBlobUnknown) {
  const std::string name = repo();
  const auto present = registry().push_image(name, "", ImageOptions().with_layers(1));
  Descriptor missing = describe(mt::kOciManifest, "{\"not\":\"pushed\"}");
  const auto bytes =
      make_index({present.descriptor, missing}, ManifestOptions().with_media_type(mt::kOciIndex));
  const auto r = put(name, "multi", bytes, mt::kOciIndex);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_BLOB_UNKNOWN") << BERTH_DESCRIBE(r);
  EXPECT_FALSE(registry().manifest_exists(name, "multi"));
}

TEST_F(ManifestTest, ChildManifestOnlyInAnotherRepositoryIsManifestBlobUnknown) {
  const std::string name = repo();
  const std::string other = repo("other");
  const auto image = registry().push_image(other, "", ImageOptions().with_layers(1));
  const auto bytes =
      make_index({image.descriptor}, ManifestOptions().with_media_type(mt::kOciIndex));
  const auto r = put(name, "multi", bytes, mt::kOciIndex);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_BLOB_UNKNOWN") << BERTH_DESCRIBE(r);
}

TEST_F(ManifestTest, MediaTypeAndContentTypeMismatchIsRefused) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);  // says it is an OCI image manifest
  for (std::string_view type : {mt::kOciIndex, mt::kDockerManifest, mt::kDockerManifestList}) {
    SCOPED_TRACE(std::string(type));
    const auto r = put(name, "mismatch", bytes, type);
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "MANIFEST_INVALID") << BERTH_DESCRIBE(r);
  }
  EXPECT_FALSE(registry().manifest_exists(name, "mismatch"));
}

TEST_F(ManifestTest, ContentTypeWithParametersAndCaseIsAccepted) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const auto r =
      put(name, "params", bytes, "Application/VND.oci.image.manifest.v1+json; charset=utf-8");
  EXPECT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
}

TEST_F(ManifestTest, WrongBlobSizeInADescriptorIsRefused) {
  const std::string name = repo();
  auto parts = push_parts(name);
  parts.layers[0].size += 1;
  const auto r = put(name, "v1", make_image_manifest(parts.config, parts.layers), mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_INVALID") << BERTH_DESCRIBE(r);
  EXPECT_FALSE(registry().manifest_exists(name, "v1"));
}

TEST_F(ManifestTest, ManifestOverFourMebibytesIs413) {
  const std::string name = repo();
  const auto parts = push_parts(name, false, 1);
  // A valid manifest made large by one annotation.
  const std::string bytes =
      make_image_manifest(parts.config, parts.layers,
                          ManifestOptions().with_annotation("padding", std::string(4u << 20, 'x')));
  ASSERT_GT(bytes.size(), 4u << 20);
  const auto r = put(name, "big", bytes, mt::kOciManifest);
  EXPECT_EQ(r.status, 413u) << BERTH_DESCRIBE(r);
  EXPECT_FALSE(error_code(r).empty()) << BERTH_DESCRIBE(r);

  // Without a Content-Length the limit must hold all the same.
  RequestOptions chunked;
  chunked.chunked = true;
  const auto streamed =
      http().request("PUT", manifest_path(name, "big"),
                     {{"Content-Type", std::string(mt::kOciManifest)}}, bytes, chunked);
  EXPECT_EQ(streamed.status, 413u) << BERTH_DESCRIBE(streamed);
  EXPECT_FALSE(registry().manifest_exists(name, "big"));
}

TEST_F(ManifestTest, ManifestOverTheLimitWithExpectContinueIsRefusedBeforeTheBody) {
  const std::string name = repo();
  const std::string bytes = "{" + std::string((4u << 20) + 10, ' ') + "}";
  RequestOptions options;
  options.expect_continue = true;
  const auto r = http().request("PUT", manifest_path(name, "big"),
                                {{"Content-Type", std::string(mt::kOciManifest)}}, bytes, options);
  EXPECT_EQ(r.status, 413u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.continues, 0u) << "the server asked for a body it was going to refuse";
}

TEST_F(ManifestTest, ManifestPutWithExpectContinue) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  RequestOptions options;
  options.expect_continue = true;
  const auto r = http().request("PUT", manifest_path(name, "v1"),
                                {{"Content-Type", std::string(mt::kOciManifest)}}, bytes, options);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.continues, 1u);
  expect_served(name, "v1", bytes, mt::kOciManifest);
}

TEST_F(ManifestTest, ManifestJustUnderTheLimitIsAccepted) {
  const std::string name = repo();
  const auto parts = push_parts(name, false, 1);
  std::string bytes = make_image_manifest(parts.config, parts.layers,
                                          ManifestOptions().with_annotation("padding", ""));
  const std::size_t room = (4u << 20) - bytes.size();
  bytes = make_image_manifest(parts.config, parts.layers,
                              ManifestOptions().with_annotation("padding", std::string(room, 'x')));
  ASSERT_EQ(bytes.size(), 4u << 20);
  push_and_check(name, "max", bytes, mt::kOciManifest);
}

TEST_F(ManifestTest, DigestReferenceMismatchIsDigestInvalid) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::string wrong = sha256_digest(bytes + " ");
  const auto r = put(name, wrong, bytes, mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "DIGEST_INVALID") << BERTH_DESCRIBE(r);
  EXPECT_FALSE(registry().manifest_exists(name, wrong));
  EXPECT_FALSE(registry().manifest_exists(name, sha256_digest(bytes)));
}

TEST_F(ManifestTest, MalformedDigestReferenceIsDigestInvalid) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const auto r = put(name, "sha256:totallywrong", bytes, mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "DIGEST_INVALID") << BERTH_DESCRIBE(r);
  const auto get = http().get(manifest_path(name, "sha256:totallywrong"));
  EXPECT_EQ(get.status, 400u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(error_code(get), "DIGEST_INVALID") << BERTH_DESCRIBE(get);
}

TEST_F(ManifestTest, InvalidTagIsTagInvalid) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::vector<std::string> tags = {".dot", "-dash", std::string(129, 'a'),
                                         "a+b",  "a%20b", "t%C3%A9"};
  for (const auto& tag : tags) {
    SCOPED_TRACE(tag.substr(0, 40));
    const auto r = put(name, tag, bytes, mt::kOciManifest);
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "TAG_INVALID") << BERTH_DESCRIBE(r);
  }
  EXPECT_THAT(registry().list_tags(name), IsEmpty());
  // The longest legal tag and every legal character.
  const std::string longest = "_" + std::string(127, 'Z');
  EXPECT_EQ(put(name, longest, bytes, mt::kOciManifest).status, 201u);
  EXPECT_EQ(put(name, "A_b.c-9", bytes, mt::kOciManifest).status, 201u);
}

// Nothing can exist under a reference that is no valid tag: reading or deleting it finds
// nothing (404 MANIFEST_UNKNOWN, as Distribution and zot answer and the conformance suite
// checks), it used to answer 400. Only a PUT is told the tag is invalid (above).
TEST_F(ManifestTest, InvalidTagIsAnUnknownManifestToReadOrDelete) {
  const std::string name = repo();
  registry().push_image(name, "v1");
  for (const std::string tag : {".INVALID_MANIFEST_NAME", "-dash", "a%20b"}) {
    SCOPED_TRACE(tag);
    const auto get =
        http().get(manifest_path(name, tag), {{"Accept", std::string(mt::kOciManifest)}});
    EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
    EXPECT_EQ(error_code(get), "MANIFEST_UNKNOWN") << BERTH_DESCRIBE(get);
    const auto head = http().head(manifest_path(name, tag));
    EXPECT_EQ(head.status, 404u) << BERTH_DESCRIBE(head);
    const auto del = http().del(manifest_path(name, tag));
    EXPECT_EQ(del.status, 404u) << BERTH_DESCRIBE(del);
    EXPECT_EQ(error_code(del), "MANIFEST_UNKNOWN") << BERTH_DESCRIBE(del);
  }
  // In a repository that does not exist either.
  const auto missing = http().get(manifest_path(repo("nothing"), ".INVALID_MANIFEST_NAME"));
  EXPECT_EQ(missing.status, 404u) << BERTH_DESCRIBE(missing);
  EXPECT_EQ(error_code(missing), "MANIFEST_UNKNOWN") << BERTH_DESCRIBE(missing);
  EXPECT_TRUE(registry().manifest_exists(name, "v1"));
}

TEST_F(ManifestTest, InvalidNameIsNameInvalid) {
  const std::string bytes = R"({"schemaVersion":2,"config":{},"layers":[]})";
  const std::vector<std::string> names = {"Upper",
                                          "ok/UPPER",
                                          "a..b",
                                          "a/../b",
                                          "%2e%2e",
                                          "a/%2e%2e",
                                          "a/%2E%2E/b",
                                          std::string(256, 'a'),
                                          "a/" + std::string(254, 'b'),
                                          "a__-b"};
  for (const auto& name : names) {
    SCOPED_TRACE(name.substr(0, 40));
    const auto r = put(name, "v1", bytes, mt::kOciManifest);
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "NAME_INVALID") << BERTH_DESCRIBE(r);
    const auto get = http().get(manifest_path(name, "v1"));
    EXPECT_EQ(get.status, 400u) << BERTH_DESCRIBE(get);
    EXPECT_EQ(error_code(get), "NAME_INVALID") << BERTH_DESCRIBE(get);
  }
}

TEST_F(ManifestTest, LongNestedNameIsAccepted) {
  std::string name = repo();
  while (name.size() < 240) {
    name += "/deeper";
  }
  name += "/" + std::string(255 - name.size() - 1, 'z');
  ASSERT_EQ(name.size(), 255u);
  const std::string bytes = oci_manifest(name);
  push_and_check(name, "long", bytes, mt::kOciManifest);
}

// ---------------------------------------------------------------- tags

TEST_F(ManifestTest, SeveralTagsInOnePut) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::string digest = sha256_digest(bytes);
  const auto r = put(name, digest + "?tag=alpha&tag=beta&tag=gamma", bytes, mt::kOciManifest);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  for (const char* tag : {"alpha", "beta", "gamma"}) {
    expect_served(name, tag, bytes, mt::kOciManifest);
  }
  EXPECT_THAT(registry().list_tags(name), UnorderedElementsAre("alpha", "beta", "gamma"));
}

TEST_F(ManifestTest, InvalidExtraTagStoresNothing) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::string digest = sha256_digest(bytes);
  const auto r = put(name, digest + "?tag=good&tag=.bad", bytes, mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "TAG_INVALID");
  EXPECT_FALSE(registry().manifest_exists(name, "good"));
  EXPECT_FALSE(registry().manifest_exists(name, digest));
}

TEST_F(ManifestTest, TagMovesToTheNewManifest) {
  const std::string name = repo();
  const auto first = registry().push_image(name, "latest");
  const auto second = registry().push_image(name, "latest");
  ASSERT_NE(first.digest, second.digest);
  const auto get = registry().get_manifest(name, "latest");
  ASSERT_EQ(get.status, 200u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(get.header("Docker-Content-Digest"), second.digest);
  EXPECT_EQ(get.body, second.manifest);
  // The old one stays readable by digest.
  expect_served(name, first.digest, first.manifest, mt::kOciManifest);
  EXPECT_THAT(registry().list_tags(name), UnorderedElementsAre("latest"));
}

TEST_F(ManifestTest, PushingTheSameManifestTwiceIsIdempotent) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const auto first = put(name, "v1", bytes, mt::kOciManifest);
  const auto second = put(name, "v1", bytes, mt::kOciManifest);
  EXPECT_EQ(first.status, 201u) << BERTH_DESCRIBE(first);
  EXPECT_EQ(second.status, 201u) << BERTH_DESCRIBE(second);
  EXPECT_EQ(first.header("Docker-Content-Digest"), second.header("Docker-Content-Digest"));
  expect_served(name, "v1", bytes, mt::kOciManifest);
}

// ---------------------------------------------------------------- subject

TEST_F(ManifestTest, SubjectIsEchoedInOciSubject) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const std::string bytes =
      oci_manifest(name, ManifestOptions()
                             .with_artifact_type("application/vnd.example.signature")
                             .with_subject(image.descriptor));
  const auto r = put(name, sha256_digest(bytes), bytes, mt::kOciManifest);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("OCI-Subject"), image.digest);
}

TEST_F(ManifestTest, SubjectMayNotExistYet) {
  const std::string name = repo();
  const Descriptor absent = describe(mt::kOciManifest, "{\"absent\":true}");
  const std::string bytes = oci_manifest(name, ManifestOptions().with_subject(absent));
  const auto r = put(name, sha256_digest(bytes), bytes, mt::kOciManifest);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("OCI-Subject"), absent.digest);
}

TEST_F(ManifestTest, NoSubjectNoOciSubjectHeader) {
  const std::string name = repo();
  const auto r = put(name, "v1", oci_manifest(name), mt::kOciManifest);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_FALSE(r.has_header("OCI-Subject"));
}

// ---------------------------------------------------------------- reads

TEST_F(ManifestTest, UnknownManifestIs404ManifestUnknown) {
  const std::string name = repo();
  registry().push_image(name, "exists");
  for (const std::string& reference : {std::string("missing"), sha256_digest("nothing")}) {
    SCOPED_TRACE(reference);
    const auto get = http().get(manifest_path(name, reference));
    EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
    EXPECT_EQ(error_code(get), "MANIFEST_UNKNOWN");
    const auto head = http().head(manifest_path(name, reference));
    EXPECT_EQ(head.status, 404u) << BERTH_DESCRIBE(head);
  }
  // And in a repository that does not exist at all.
  const auto none = http().get(manifest_path(repo("none"), "latest"));
  EXPECT_EQ(none.status, 404u) << BERTH_DESCRIBE(none);
  EXPECT_THAT(error_code(none), ::testing::AnyOf("MANIFEST_UNKNOWN", "NAME_UNKNOWN"));
}

TEST_F(ManifestTest, BlobDigestIsNotAManifest) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  for (const auto& digest : {image.config.digest, image.layers[0].digest}) {
    SCOPED_TRACE(digest);
    const auto get = http().get(manifest_path(name, digest));
    EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
    EXPECT_EQ(error_code(get), "MANIFEST_UNKNOWN");
    const auto del = http().del(manifest_path(name, digest));
    EXPECT_EQ(del.status, 404u) << BERTH_DESCRIBE(del);
  }
  EXPECT_TRUE(registry().blob_exists(name, image.layers[0].digest));
}

TEST_F(ManifestTest, ManifestBytesDoNotLeakThroughTheBlobEndpoint) {
  const std::string name = repo();
  const std::string other = repo("other");
  const auto image = registry().push_image(name, "v1");
  registry().push_image(other, "v1");
  // In its own repository a registry may serve a manifest as a blob (Distribution does) ...
  const auto own = http().get("/v2/" + name + "/blobs/" + image.digest);
  if (own.status == 200) {
    EXPECT_EQ(own.body, image.manifest);
  } else {
    EXPECT_EQ(own.status, 404u) << BERTH_DESCRIBE(own);
  }
  // ... but never through another repository.
  const auto foreign = http().get("/v2/" + other + "/blobs/" + image.digest);
  EXPECT_EQ(foreign.status, 404u) << BERTH_DESCRIBE(foreign);
  EXPECT_EQ(error_code(foreign), "BLOB_UNKNOWN");
  const auto mounted = http().post(
      "/v2/" + repo("thief") + "/blobs/uploads/?mount=" + image.digest + "&from=" + other, "");
  EXPECT_EQ(mounted.status, 202u) << BERTH_DESCRIBE(mounted);
}

TEST_F(ManifestTest, DeletingAManifestKeepsTheSameBytesPushedAsABlobElsewhere) {
  const std::string name = repo();
  const std::string other = repo("other");
  const std::string bytes = oci_manifest(name);
  const std::string digest = sha256_digest(bytes);
  ASSERT_EQ(registry().push_blob(other, bytes), digest);
  registry().push_manifest(name, "v1", bytes, mt::kOciManifest);
  ASSERT_EQ(http().del(manifest_path(name, digest)).status, 202u);
  EXPECT_EQ(registry().pull_blob(other, digest), bytes);
}

TEST_F(ManifestTest, ManifestOfAnotherRepositoryIsNotReadable) {
  const std::string name = repo();
  const std::string other = repo("other");
  const auto image = registry().push_image(name, "v1");
  registry().push_image(other, "v1");
  const auto get = http().get(manifest_path(other, image.digest));
  EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(error_code(get), "MANIFEST_UNKNOWN");
  const auto del = http().del(manifest_path(other, image.digest));
  EXPECT_EQ(del.status, 404u) << BERTH_DESCRIBE(del);
  expect_served(name, image.digest, image.manifest, mt::kOciManifest);
}

TEST_F(ManifestTest, IfNoneMatchIs304) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const std::string etag = "\"" + image.digest + "\"";
  const auto first = registry().get_manifest(name, "v1");
  ASSERT_EQ(first.status, 200u);
  EXPECT_EQ(first.header("ETag"), etag);

  for (const std::string& reference : {std::string("v1"), image.digest}) {
    SCOPED_TRACE(reference);
    const auto get = http().get(manifest_path(name, reference), {{"If-None-Match", etag}});
    EXPECT_EQ(get.status, 304u) << BERTH_DESCRIBE(get);
    EXPECT_TRUE(get.body.empty());
    EXPECT_EQ(get.header("Docker-Content-Digest"), image.digest);
    const auto head = http().head(manifest_path(name, reference), {{"If-None-Match", etag}});
    EXPECT_EQ(head.status, 304u) << BERTH_DESCRIBE(head);
  }
  const auto other = http().get(manifest_path(name, "v1"),
                                {{"If-None-Match", "\"" + sha256_digest("other") + "\""}});
  EXPECT_EQ(other.status, 200u) << BERTH_DESCRIBE(other);
  EXPECT_EQ(other.body, image.manifest);
}

TEST_F(ManifestTest, IfNoneMatchFollowsRfc9110) {
  // If-None-Match is a list of entity tags compared weakly, or "*" (RFC 9110 13.1.2).
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const std::string etag = "\"" + image.digest + "\"";
  const std::string other = "\"" + sha256_digest("other") + "\"";
  for (const std::string& header :
       {other + ", " + etag, other + "," + etag, "W/" + etag, std::string("*")}) {
    SCOPED_TRACE(header);
    const auto get = http().get(manifest_path(name, "v1"), {{"If-None-Match", header}});
    EXPECT_EQ(get.status, 304u) << BERTH_DESCRIBE(get);
  }
}

TEST_F(ManifestTest, PostOnAManifestIsNotAllowed) {
  const std::string name = repo();
  const auto r = http().post(manifest_path(name, "v1"), "{}");
  EXPECT_EQ(r.status, 405u) << BERTH_DESCRIBE(r);
}

// ---------------------------------------------------------------- deletes

TEST_F(ManifestTest, DeleteByTagRemovesOnlyThatTag) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::string digest = sha256_digest(bytes);
  ASSERT_EQ(put(name, digest + "?tag=one&tag=two", bytes, mt::kOciManifest).status, 201u);

  const auto del = http().del(manifest_path(name, "one"));
  EXPECT_EQ(del.status, 202u) << BERTH_DESCRIBE(del);

  const auto gone = http().get(manifest_path(name, "one"));
  EXPECT_EQ(gone.status, 404u) << BERTH_DESCRIBE(gone);
  EXPECT_EQ(error_code(gone), "MANIFEST_UNKNOWN");
  expect_served(name, digest, bytes, mt::kOciManifest);
  expect_served(name, "two", bytes, mt::kOciManifest);
  EXPECT_THAT(registry().list_tags(name), UnorderedElementsAre("two"));
}

TEST_F(ManifestTest, DeleteByDigestRemovesTheManifestAndItsTags) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::string digest = sha256_digest(bytes);
  ASSERT_EQ(put(name, digest + "?tag=one&tag=two", bytes, mt::kOciManifest).status, 201u);
  const auto keep = registry().push_image(name, "keep");

  const auto del = http().del(manifest_path(name, digest));
  EXPECT_EQ(del.status, 202u) << BERTH_DESCRIBE(del);

  for (const std::string& reference : {digest, std::string("one"), std::string("two")}) {
    SCOPED_TRACE(reference);
    const auto get = http().get(manifest_path(name, reference));
    EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
    EXPECT_EQ(error_code(get), "MANIFEST_UNKNOWN");
  }
  EXPECT_THAT(registry().list_tags(name), UnorderedElementsAre("keep"));
  expect_served(name, "keep", keep.manifest, mt::kOciManifest);
}

TEST_F(ManifestTest, DeleteUnknownIs404ManifestUnknown) {
  const std::string name = repo();
  registry().push_image(name, "exists");
  for (const std::string& reference : {std::string("missing"), sha256_digest("nothing")}) {
    SCOPED_TRACE(reference);
    const auto del = http().del(manifest_path(name, reference));
    EXPECT_EQ(del.status, 404u) << BERTH_DESCRIBE(del);
    EXPECT_EQ(error_code(del), "MANIFEST_UNKNOWN") << BERTH_DESCRIBE(del);
  }
}

TEST_F(ManifestTest, DeletingAChildOfAnIndexIsHandled) {
  // The spec leaves it open whether a manifest an index refers to may be deleted; either way
  // the answer is a clean 202 or 4xx, and the index stays readable.
  const std::string name = repo();
  const auto child = registry().push_image(name, "");
  const std::string index =
      make_index({child.descriptor}, ManifestOptions().with_media_type(mt::kOciIndex));
  registry().push_manifest(name, "multi", index, mt::kOciIndex);
  const auto del = http().del(manifest_path(name, child.digest));
  EXPECT_TRUE(del.status == 202 || (del.status >= 400 && del.status < 500)) << BERTH_DESCRIBE(del);
  EXPECT_FALSE(del.status == 202 && error_code(del) != "") << BERTH_DESCRIBE(del);
  expect_served(name, "multi", index, mt::kOciIndex);
}

// Deleting a layer (or config) that an image of the repository uses would break the image:
// refused with 409 DENIED naming the image (a tagged one), and the image stays whole. Once no
// manifest names it, the blob can go.
TEST_F(ManifestTest, DeletingABlobAnImageUsesIsRefusedNamingTheImage) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const auto untagged = registry().push_image(name, "", ImageOptions().with_layers(1));
  for (const auto& used : {image.layers[0].digest, image.config.digest}) {
    const auto del = http().del("/v2/" + name + "/blobs/" + used);
    EXPECT_EQ(del.status, 409u) << BERTH_DESCRIBE(del);
    EXPECT_EQ(error_code(del), "DENIED") << BERTH_DESCRIBE(del);
    EXPECT_THAT(del.body, HasSubstr("used by image " + name + ":v1")) << BERTH_DESCRIBE(del);
  }
  const auto only_untagged = http().del("/v2/" + name + "/blobs/" + untagged.layers[0].digest);
  EXPECT_EQ(only_untagged.status, 409u) << BERTH_DESCRIBE(only_untagged);
  EXPECT_THAT(only_untagged.body, HasSubstr(name + "@" + untagged.digest));
  expect_served(name, "v1", image.manifest, mt::kOciManifest);
  registry().verify_image(name, image);

  ASSERT_EQ(http().del(manifest_path(name, image.digest)).status, 202u);
  const auto freed = http().del("/v2/" + name + "/blobs/" + image.layers[0].digest);
  EXPECT_EQ(freed.status, 202u) << BERTH_DESCRIBE(freed);
}

// The blob endpoint never deletes a manifest (it answered 202 and left the tag naming a
// manifest whose bytes were unlinked): 404 BLOB_UNKNOWN, as Distribution answers.
TEST_F(ManifestTest, DeletingAManifestThroughTheBlobEndpointIsBlobUnknown) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const auto del = http().del("/v2/" + name + "/blobs/" + image.digest);
  EXPECT_EQ(del.status, 404u) << BERTH_DESCRIBE(del);
  EXPECT_EQ(error_code(del), "BLOB_UNKNOWN") << BERTH_DESCRIBE(del);
  EXPECT_THAT(del.body, HasSubstr("/manifests/" + image.digest));
  expect_served(name, "v1", image.manifest, mt::kOciManifest);
  expect_served(name, image.digest, image.manifest, mt::kOciManifest);
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + image.digest).status, 200u);
}

TEST_F(ManifestTest, UnlinkedBlobCannotBeReferenced) {
  const std::string name = repo();
  const auto parts = push_parts(name);
  ASSERT_EQ(http().del("/v2/" + name + "/blobs/" + parts.layers[0].digest).status, 202u);
  const auto r = put(name, "v1", make_image_manifest(parts.config, parts.layers), mt::kOciManifest);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "MANIFEST_BLOB_UNKNOWN") << BERTH_DESCRIBE(r);
}

TEST_F(ManifestTest, DeletedManifestCanBePushedAgain) {
  const std::string name = repo();
  const std::string bytes = oci_manifest(name);
  const std::string digest = sha256_digest(bytes);
  ASSERT_EQ(put(name, "v1", bytes, mt::kOciManifest).status, 201u);
  ASSERT_EQ(http().del(manifest_path(name, digest)).status, 202u);
  const auto again = put(name, "v1", bytes, mt::kOciManifest);
  EXPECT_EQ(again.status, 201u) << BERTH_DESCRIBE(again);
  expect_served(name, "v1", bytes, mt::kOciManifest);
}

}  // namespace
}  // namespace berth::testing
