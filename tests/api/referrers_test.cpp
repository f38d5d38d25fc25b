// GET /v2/<name>/referrers/<digest>: the manifests whose subject is that digest, as an OCI
// image index, with artifactType filtering. A digest with no referrers is an empty index, never
// a 404.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

namespace json = boost::json;
namespace mt = media_types;

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr std::string_view kSignature = "application/vnd.example.signature.v1";
constexpr std::string_view kSbom = "application/vnd.example.sbom.v1+json";
// kSbom as a query value: '+' in a query means a space.
constexpr std::string_view kSbomInQuery = "application/vnd.example.sbom.v1%2Bjson";

class ReferrersTest : public ApiTest {
 protected:
  static std::string referrers_path(std::string_view name, std::string_view digest) {
    return "/v2/" + std::string(name) + "/referrers/" + std::string(digest);
  }

  // Pushes an artifact manifest about `subject` (empty config + one small layer) and returns
  // its descriptor. With `via_config`, the type is carried by config.mediaType instead of
  // artifactType.
  Descriptor push_artifact(const std::string& name, const Descriptor& subject,
                           std::string_view artifact_type, std::string_view annotation,
                           bool via_config = false) {
    const std::string config = via_config ? "{\"kind\":\"" + random_token(6) + "\"}" : "{}";
    registry().push_blob(name, config);
    const std::string payload = random_bytes(64);
    registry().push_blob(name, payload);
    const std::string manifest =
        make_image_manifest(describe(via_config ? artifact_type : mt::kOciEmpty, config),
                            {describe("application/octet-stream", payload)},
                            ManifestOptions()
                                .with_artifact_type(via_config ? std::string_view() : artifact_type)
                                .with_subject(subject)
                                .with_annotation("org.example.note", std::string(annotation)));
    const std::string digest = sha256_digest(manifest);
    const auto r = http().put("/v2/" + name + "/manifests/" + digest, manifest,
                              {{"Content-Type", std::string(mt::kOciManifest)}});
    EXPECT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(r.header("OCI-Subject"), subject.digest);
    Descriptor d = describe(mt::kOciManifest, manifest);
    d.artifact_type = artifact_type;
    d.annotations = {{"org.example.note", std::string(annotation)}};
    return d;
  }

  // The index a referrers response holds, checked for shape.
  json::array manifests_of(const HttpResponse& r) {
    EXPECT_EQ(r.header("Content-Type"), mt::kOciIndex);
    json::error_code ec;
    auto value = json::parse(r.body, ec);
    if (ec || !value.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << r.body;
      return {};
    }
    const auto& index = value.get_object();
    EXPECT_EQ(index.contains("schemaVersion") ? index.at("schemaVersion").as_int64() : 0, 2);
    EXPECT_EQ(index.contains("mediaType") ? json::value_to<std::string>(index.at("mediaType"))
                                          : std::string(),
              mt::kOciIndex);
    if (!index.contains("manifests") || !index.at("manifests").is_array()) {
      ADD_FAILURE() << "no manifests array: " << r.body;
      return {};
    }
    return index.at("manifests").as_array();
  }

  static std::vector<std::string> digests_of(const json::array& manifests) {
    std::vector<std::string> out;
    for (const auto& entry : manifests) {
      out.push_back(json::value_to<std::string>(entry.at("digest")));
    }
    return out;
  }

  // The entry of `manifests` for `d` matches it field by field.
  static void expect_entry(const json::array& manifests, const Descriptor& d) {
    for (const auto& entry : manifests) {
      const auto& object = entry.as_object();
      if (json::value_to<std::string>(object.at("digest")) != d.digest) {
        continue;
      }
      EXPECT_EQ(json::value_to<std::string>(object.at("mediaType")), d.media_type);
      EXPECT_EQ(object.at("size").to_number<std::uint64_t>(), d.size);
      ASSERT_TRUE(object.contains("artifactType")) << json::serialize(object);
      EXPECT_EQ(json::value_to<std::string>(object.at("artifactType")), d.artifact_type);
      ASSERT_TRUE(object.contains("annotations")) << json::serialize(object);
      const auto& annotations = object.at("annotations").as_object();
      EXPECT_EQ(annotations.size(), d.annotations.size());
      for (const auto& [key, value] : d.annotations) {
        ASSERT_TRUE(annotations.contains(key)) << key;
        EXPECT_EQ(json::value_to<std::string>(annotations.at(key)), value);
      }
      return;
    }
    ADD_FAILURE() << d.digest << " is not among the referrers";
  }
};

TEST_F(ReferrersTest, NoReferrersIsAnEmptyIndex) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const auto r = http().get(referrers_path(name, image.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(manifests_of(r), IsEmpty());
  EXPECT_FALSE(r.has_header("OCI-Filters-Applied"));

  // A digest nothing in the repository knows about: still an empty index.
  const auto unknown = http().get(referrers_path(name, sha256_digest(random_bytes(10))));
  ASSERT_EQ(unknown.status, 200u) << BERTH_DESCRIBE(unknown);
  EXPECT_THAT(manifests_of(unknown), IsEmpty());
}

TEST_F(ReferrersTest, ReferrersAreListedWithArtifactTypeAndAnnotations) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const auto signature = push_artifact(name, image.descriptor, kSignature, "signed");
  const auto sbom = push_artifact(name, image.descriptor, kSbom, "sbom");
  // The type comes from config.mediaType when the manifest has no artifactType.
  const auto legacy = push_artifact(name, image.descriptor, kSbom, "legacy", /*via_config=*/true);
  // An unrelated artifact about some other image.
  const auto other_image = registry().push_image(name, "v2");
  push_artifact(name, other_image.descriptor, kSignature, "other");

  const auto r = http().get(referrers_path(name, image.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  const auto manifests = manifests_of(r);
  EXPECT_THAT(digests_of(manifests),
              UnorderedElementsAre(signature.digest, sbom.digest, legacy.digest));
  expect_entry(manifests, signature);
  expect_entry(manifests, sbom);
  expect_entry(manifests, legacy);
}

TEST_F(ReferrersTest, IndexWithSubjectIsAReferrer) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const auto child = registry().push_image(name, "");
  const std::string index =
      make_index({child.descriptor}, ManifestOptions()
                                         .with_media_type(mt::kOciIndex)
                                         .with_artifact_type("application/vnd.example.bundle")
                                         .with_subject(image.descriptor)
                                         .with_annotation("org.example.note", "bundle"));
  const std::string digest = sha256_digest(index);
  const auto put = http().put("/v2/" + name + "/manifests/" + digest, index,
                              {{"Content-Type", std::string(mt::kOciIndex)}});
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(put.header("OCI-Subject"), image.digest);

  const auto r = http().get(referrers_path(name, image.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  const auto manifests = manifests_of(r);
  Descriptor expected = describe(mt::kOciIndex, index);
  expected.artifact_type = "application/vnd.example.bundle";
  expected.annotations = {{"org.example.note", "bundle"}};
  EXPECT_THAT(digests_of(manifests), UnorderedElementsAre(digest));
  expect_entry(manifests, expected);
}

TEST_F(ReferrersTest, ArtifactTypeRulesOfTheSpec) {
  // A manifest without artifactType takes its config's media type (here the empty config's);
  // an index without artifactType has none.
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  registry().push_blob(name, "{}");
  const std::string payload = random_bytes(32);
  registry().push_blob(name, payload);
  const std::string manifest = make_image_manifest(
      describe(mt::kOciEmpty, "{}"), {describe("application/octet-stream", payload)},
      ManifestOptions().with_subject(image.descriptor));
  const std::string manifest_digest =
      registry().push_manifest(name, sha256_digest(manifest), manifest, mt::kOciManifest);
  const auto child = registry().push_image(name, "");
  const std::string index =
      make_index({child.descriptor},
                 ManifestOptions().with_media_type(mt::kOciIndex).with_subject(image.descriptor));
  const std::string index_digest =
      registry().push_manifest(name, sha256_digest(index), index, mt::kOciIndex);

  const auto r = http().get(referrers_path(name, image.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  const auto manifests = manifests_of(r);
  ASSERT_EQ(manifests.size(), 2u) << r.body;
  for (const auto& entry : manifests) {
    const auto& object = entry.as_object();
    const auto digest = json::value_to<std::string>(object.at("digest"));
    if (digest == manifest_digest) {
      ASSERT_TRUE(object.contains("artifactType")) << r.body;
      EXPECT_EQ(json::value_to<std::string>(object.at("artifactType")), mt::kOciEmpty);
      EXPECT_FALSE(object.contains("annotations")) << r.body;
    } else {
      EXPECT_EQ(digest, index_digest);
      EXPECT_FALSE(object.contains("artifactType")) << r.body;
      EXPECT_EQ(json::value_to<std::string>(object.at("mediaType")), mt::kOciIndex);
    }
  }
}

TEST_F(ReferrersTest, ArtifactTypeFilter) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const auto signature = push_artifact(name, image.descriptor, kSignature, "signed");
  const auto sbom = push_artifact(name, image.descriptor, kSbom, "sbom");
  const auto legacy = push_artifact(name, image.descriptor, kSbom, "legacy", /*via_config=*/true);

  const auto r =
      http().get(referrers_path(name, image.digest) + "?artifactType=" + std::string(kSbomInQuery));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("OCI-Filters-Applied"), "artifactType");
  const auto manifests = manifests_of(r);
  EXPECT_THAT(digests_of(manifests), UnorderedElementsAre(sbom.digest, legacy.digest));
  expect_entry(manifests, sbom);
  expect_entry(manifests, legacy);

  const auto signatures =
      http().get(referrers_path(name, image.digest) + "?artifactType=" + std::string(kSignature));
  ASSERT_EQ(signatures.status, 200u) << BERTH_DESCRIBE(signatures);
  EXPECT_EQ(signatures.header("OCI-Filters-Applied"), "artifactType");
  EXPECT_THAT(digests_of(manifests_of(signatures)), UnorderedElementsAre(signature.digest));
}

TEST_F(ReferrersTest, FilterMatchingNothingIsAnEmptyFilteredIndex) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  push_artifact(name, image.descriptor, kSignature, "signed");
  const auto r =
      http().get(referrers_path(name, image.digest) + "?artifactType=application/vnd.example.none");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("OCI-Filters-Applied"), "artifactType");
  EXPECT_THAT(manifests_of(r), IsEmpty());
}

TEST_F(ReferrersTest, ReferrerOfAMissingSubjectIsListed) {
  const std::string name = repo();
  const Descriptor absent = describe(mt::kOciManifest, "{\"absent\":\"" + random_token() + "\"}");
  const auto artifact = push_artifact(name, absent, kSignature, "early");
  const auto r = http().get(referrers_path(name, absent.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  const auto manifests = manifests_of(r);
  EXPECT_THAT(digests_of(manifests), UnorderedElementsAre(artifact.digest));
  expect_entry(manifests, artifact);
}

TEST_F(ReferrersTest, ReferrersAreScopedToTheRepository) {
  const std::string name = repo();
  const std::string other = repo("other");
  const auto image = registry().push_image(name, "v1");
  // The same subject digest, referred to from another repository.
  push_artifact(other, image.descriptor, kSignature, "elsewhere");
  const auto r = http().get(referrers_path(name, image.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(manifests_of(r), IsEmpty());
}

TEST_F(ReferrersTest, DeletedReferrerDisappears) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const auto keep = push_artifact(name, image.descriptor, kSignature, "keep");
  const auto drop = push_artifact(name, image.descriptor, kSignature, "drop");
  ASSERT_EQ(http().del("/v2/" + name + "/manifests/" + drop.digest).status, 202u);
  const auto r = http().get(referrers_path(name, image.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(digests_of(manifests_of(r)), UnorderedElementsAre(keep.digest));
}

TEST_F(ReferrersTest, ManyReferrers) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) {
    expected.push_back(
        push_artifact(name, image.descriptor, kSignature, "n" + std::to_string(i)).digest);
  }
  const auto r = http().get(referrers_path(name, image.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(digests_of(manifests_of(r)), UnorderedElementsAreArray(expected));
}

TEST_F(ReferrersTest, InvalidDigestIs400) {
  const std::string name = repo();
  registry().push_image(name, "v1");
  for (const char* digest : {"v1", "sha256:abc",
                             "sha256:"
                             "ZZZZ",
                             "notadigest"}) {
    SCOPED_TRACE(digest);
    const auto r = http().get(referrers_path(name, digest));
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "DIGEST_INVALID") << BERTH_DESCRIBE(r);
  }
}

TEST_F(ReferrersTest, InvalidNameIs400) {
  const auto r = http().get(referrers_path("UPPER", sha256_digest("x")));
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "NAME_INVALID");
}

TEST_F(ReferrersTest, PutOnReferrersIsNotAllowed) {
  const std::string name = repo();
  const auto r = http().put(referrers_path(name, sha256_digest("x")), "{}");
  EXPECT_EQ(r.status, 405u) << BERTH_DESCRIBE(r);
}

}  // namespace
}  // namespace berth::testing
