#include "core/manifest.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <string>

#include "core/media_type.hpp"

namespace berth::core {
namespace {

namespace json = boost::json;
namespace mt = media_type;

const Digest kConfig = Digest::of("config");
const Digest kLayer0 = Digest::of("layer0");
const Digest kLayer1 = Digest::of("layer1");
const Digest kChild0 = Digest::of("child0");
const Digest kChild1 = Digest::of("child1");
const Digest kSubject = Digest::of("subject");
const Digest kEmpty = Digest::of("{}");

constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
constexpr std::string_view kDockerForeign =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

json::object descriptor(std::string_view media_type, const Digest& digest, std::int64_t size) {
  return json::object{{"mediaType", json::string_view(media_type.data(), media_type.size())},
                      {"digest", digest.str()},
                      {"size", size}};
}

json::string_view jsv(std::string_view s) { return {s.data(), s.size()}; }

json::object oci_image() {
  return json::object{
      {"schemaVersion", 2},
      {"mediaType", jsv(mt::kOciManifest)},
      {"config", descriptor(kOciConfig, kConfig, 123)},
      {"layers",
       json::array{descriptor(kOciLayer, kLayer0, 1000), descriptor(kOciLayer, kLayer1, 2000)}},
  };
}

json::object platform(std::string_view arch) {
  return json::object{{"architecture", jsv(arch)}, {"os", "linux"}};
}

json::object oci_index() {
  json::object child0 = descriptor(mt::kOciManifest, kChild0, 500);
  child0["platform"] = platform("amd64");
  json::object child1 = descriptor(mt::kOciManifest, kChild1, 600);
  child1["platform"] = json::object{{"architecture", "arm64"},
                                    {"os", "linux"},
                                    {"variant", "v8"},
                                    {"os.version", "1"},
                                    {"os.features", json::array{"x"}}};
  return json::object{
      {"schemaVersion", 2},
      {"mediaType", jsv(mt::kOciIndex)},
      {"manifests", json::array{child0, child1}},
  };
}

json::object docker_image() {
  return json::object{
      {"schemaVersion", 2},
      {"mediaType", jsv(mt::kDockerManifest)},
      {"config", descriptor(kDockerConfig, kConfig, 1469)},
      {"layers", json::array{descriptor(kDockerLayer, kLayer0, 1000)}},
  };
}

json::object docker_list() {
  json::object child = descriptor(mt::kDockerManifest, kChild0, 500);
  child["platform"] = platform("amd64");
  return json::object{
      {"schemaVersion", 2},
      {"mediaType", jsv(mt::kDockerManifestList)},
      {"manifests", json::array{child}},
  };
}

std::string text(const json::object& o) { return json::serialize(o); }

Manifest must_parse(std::string_view bytes, std::string_view content_type) {
  auto m = parse_manifest(bytes, content_type);
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().message) << "\n" << bytes;
  if (!m) {
    throw std::runtime_error("parse failed");
  }
  return std::move(*m);
}

// ---- accepted manifests ------------------------------------------------------------------

TEST(ParseManifest, OciImageManifest) {
  Manifest m = must_parse(text(oci_image()), mt::kOciManifest);
  EXPECT_EQ(m.kind, ManifestKind::kOciManifest);
  EXPECT_EQ(m.media_type, mt::kOciManifest);
  ASSERT_TRUE(m.config.has_value());
  EXPECT_EQ(m.config->media_type, kOciConfig);
  EXPECT_EQ(m.config->digest, kConfig);
  EXPECT_EQ(m.config->size, 123);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].digest, kLayer0);
  EXPECT_EQ(m.layers[0].size, 1000);
  EXPECT_EQ(m.layers[0].media_type, kOciLayer);
  EXPECT_EQ(m.layers[1].digest, kLayer1);
  EXPECT_EQ(m.layers[1].size, 2000);
  EXPECT_TRUE(m.layers[0].urls.empty());
  EXPECT_TRUE(m.layers[0].annotations_json.empty());
  EXPECT_TRUE(m.layers[0].artifact_type.empty());
  EXPECT_TRUE(m.manifests.empty());
  EXPECT_FALSE(m.subject.has_value());
  EXPECT_TRUE(m.annotations_json.empty());
  // No artifactType: the config media type stands in for it.
  EXPECT_EQ(m.artifact_type, kOciConfig);

  auto blobs = m.required_blobs();
  ASSERT_EQ(blobs.size(), 3u);
  EXPECT_EQ(blobs[0]->digest, kConfig);
  EXPECT_EQ(blobs[1]->digest, kLayer0);
  EXPECT_EQ(blobs[2]->digest, kLayer1);
}

TEST(ParseManifest, OciImageManifestWithoutMediaTypeTakesTheContentType) {
  json::object o = oci_image();
  o.erase("mediaType");
  Manifest m = must_parse(text(o), mt::kOciManifest);
  EXPECT_EQ(m.kind, ManifestKind::kOciManifest);
  EXPECT_EQ(m.media_type, mt::kOciManifest);
}

TEST(ParseManifest, WithoutMediaTypeOrContentTypeConfigMeansImageManifest) {
  json::object o = oci_image();
  o.erase("mediaType");
  for (std::string_view ct : {"", "application/json", "application/octet-stream"}) {
    Manifest m = must_parse(text(o), ct);
    EXPECT_EQ(m.kind, ManifestKind::kOciManifest) << ct;
    EXPECT_EQ(m.media_type, mt::kOciManifest) << ct;
  }
}

TEST(ParseManifest, WithoutMediaTypeOrContentTypeManifestsMeansIndex) {
  json::object o = oci_index();
  o.erase("mediaType");
  Manifest m = must_parse(text(o), "");
  EXPECT_EQ(m.kind, ManifestKind::kOciIndex);
  EXPECT_EQ(m.media_type, mt::kOciIndex);
}

TEST(ParseManifest, ContentTypeParametersAndCaseAreIgnored) {
  for (std::string_view ct : {"application/vnd.oci.image.manifest.v1+json; charset=utf-8",
                              "application/vnd.oci.image.manifest.v1+json;charset=utf-8",
                              "  application/vnd.oci.image.manifest.v1+json  ",
                              "Application/VND.OCI.Image.Manifest.v1+JSON"}) {
    json::object o = oci_image();
    Manifest m = must_parse(text(o), ct);
    EXPECT_EQ(m.media_type, mt::kOciManifest) << ct;
    o.erase("mediaType");
    m = must_parse(text(o), ct);
    EXPECT_EQ(m.media_type, mt::kOciManifest) << ct;
  }
}

TEST(ParseManifest, GenericContentTypesDoNotConflictWithTheBody) {
  for (std::string_view ct : {"", "application/json", "application/json; charset=utf-8",
                              "application/octet-stream", "text/plain"}) {
    EXPECT_EQ(must_parse(text(docker_image()), ct).kind, ManifestKind::kDockerManifest) << ct;
    EXPECT_EQ(must_parse(text(oci_index()), ct).kind, ManifestKind::kOciIndex) << ct;
  }
}

TEST(ParseManifest, OciIndex) {
  Manifest m = must_parse(text(oci_index()), mt::kOciIndex);
  EXPECT_EQ(m.kind, ManifestKind::kOciIndex);
  EXPECT_EQ(m.media_type, mt::kOciIndex);
  EXPECT_FALSE(m.config.has_value());
  EXPECT_TRUE(m.layers.empty());
  ASSERT_EQ(m.manifests.size(), 2u);
  EXPECT_EQ(m.manifests[0].digest, kChild0);
  EXPECT_EQ(m.manifests[0].size, 500);
  EXPECT_EQ(m.manifests[0].media_type, mt::kOciManifest);
  EXPECT_EQ(m.manifests[1].digest, kChild1);
  EXPECT_TRUE(m.artifact_type.empty());
  // Children are manifests, checked by the registry, not blobs.
  EXPECT_TRUE(m.required_blobs().empty());
}

TEST(ParseManifest, EmptyIndexIsValid) {
  json::object o = oci_index();
  o["manifests"] = json::array{};
  Manifest m = must_parse(text(o), mt::kOciIndex);
  EXPECT_TRUE(m.manifests.empty());
}

TEST(ParseManifest, DockerManifest) {
  Manifest m = must_parse(text(docker_image()), mt::kDockerManifest);
  EXPECT_EQ(m.kind, ManifestKind::kDockerManifest);
  EXPECT_EQ(m.media_type, mt::kDockerManifest);
  ASSERT_TRUE(m.config.has_value());
  EXPECT_EQ(m.config->size, 1469);
  EXPECT_EQ(m.artifact_type, kDockerConfig);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.required_blobs().size(), 2u);
}

TEST(ParseManifest, DockerManifestList) {
  Manifest m = must_parse(text(docker_list()), mt::kDockerManifestList);
  EXPECT_EQ(m.kind, ManifestKind::kDockerManifestList);
  EXPECT_EQ(m.media_type, mt::kDockerManifestList);
  ASSERT_EQ(m.manifests.size(), 1u);
  EXPECT_EQ(m.manifests[0].media_type, mt::kDockerManifest);
  EXPECT_TRUE(m.required_blobs().empty());
}

TEST(ParseManifest, ArtifactWithArtifactTypeSubjectAndAnnotations) {
  json::object o{
      {"schemaVersion", 2},
      {"mediaType", jsv(mt::kOciManifest)},
      {"artifactType", "application/vnd.example.sbom.v1"},
      {"config", descriptor(mt::kOciEmpty, kEmpty, 2)},
      {"layers", json::array{descriptor("application/spdx+json", kLayer0, 10)}},
      {"subject", descriptor(mt::kOciManifest, kSubject, 321)},
      {"annotations", json::object{{"org.opencontainers.image.created", "2024-01-01T00:00:00Z"},
                                   {"x", "caf\xc3\xa9 \"quoted\""}}},
  };
  Manifest m = must_parse(text(o), mt::kOciManifest);
  EXPECT_EQ(m.artifact_type, "application/vnd.example.sbom.v1");
  ASSERT_TRUE(m.subject.has_value());
  EXPECT_EQ(m.subject->digest, kSubject);
  EXPECT_EQ(m.subject->size, 321);
  EXPECT_EQ(m.subject->media_type, mt::kOciManifest);
  ASSERT_FALSE(m.annotations_json.empty());
  EXPECT_EQ(json::parse(m.annotations_json), o["annotations"]);
  // The subject is not a blob this manifest needs: referrers may arrive first.
  auto blobs = m.required_blobs();
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[0]->digest, kEmpty);
  EXPECT_EQ(blobs[1]->digest, kLayer0);
}

TEST(ParseManifest, ArtifactTypeFallsBackToConfigMediaType) {
  json::object o = oci_image();
  o["config"] = descriptor("application/vnd.cncf.helm.config.v1+json", kConfig, 10);
  EXPECT_EQ(must_parse(text(o), mt::kOciManifest).artifact_type,
            "application/vnd.cncf.helm.config.v1+json");
}

TEST(ParseManifest, IndexWithArtifactTypeAndSubject) {
  json::object o = oci_index();
  o["artifactType"] = "application/vnd.example.bundle";
  o["subject"] = descriptor(mt::kOciIndex, kSubject, 99);
  o["annotations"] = json::object{{"a", "b"}};
  Manifest m = must_parse(text(o), mt::kOciIndex);
  EXPECT_EQ(m.artifact_type, "application/vnd.example.bundle");
  ASSERT_TRUE(m.subject.has_value());
  EXPECT_EQ(m.subject->digest, kSubject);
  EXPECT_EQ(json::parse(m.annotations_json), (json::object{{"a", "b"}}));
}

TEST(ParseManifest, DescriptorOptionalFieldsAreExtracted) {
  json::object o = oci_image();
  json::object layer = descriptor(kOciLayer, kLayer0, 1000);
  layer["artifactType"] = "application/vnd.example.thing";
  layer["annotations"] = json::object{{"org.opencontainers.image.title", "file.txt"}};
  layer["data"] = "e30=";
  o["layers"] = json::array{layer};
  Manifest m = must_parse(text(o), mt::kOciManifest);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.layers[0].artifact_type, "application/vnd.example.thing");
  EXPECT_EQ(json::parse(m.layers[0].annotations_json), layer["annotations"]);
}

TEST(ParseManifest, ForeignLayersWithUrlsAreNotRequiredBlobs) {
  json::object o = docker_image();
  json::object foreign = descriptor(kDockerForeign, kLayer1, 5000);
  foreign["urls"] = json::array{"https://example.com/layer.tar.gz", "https://mirror/x"};
  json::object no_urls = descriptor(kDockerForeign, Digest::of("l2"), 7);
  no_urls["urls"] = json::array{};
  o["layers"] = json::array{descriptor(kDockerLayer, kLayer0, 1000), foreign, no_urls};
  Manifest m = must_parse(text(o), mt::kDockerManifest);
  ASSERT_EQ(m.layers.size(), 3u);
  ASSERT_EQ(m.layers[1].urls.size(), 2u);
  EXPECT_EQ(m.layers[1].urls[0], "https://example.com/layer.tar.gz");
  auto blobs = m.required_blobs();
  ASSERT_EQ(blobs.size(), 3u);
  EXPECT_EQ(blobs[0]->digest, kConfig);
  EXPECT_EQ(blobs[1]->digest, kLayer0);
  EXPECT_EQ(blobs[2]->digest, Digest::of("l2"));  // An empty urls list names nothing.
}

TEST(ParseManifest, UnknownFieldsAreAllowed) {
  json::object o = oci_image();
  o["x-future"] = json::object{{"nested", json::array{1, 2.5, nullptr, true}}};
  o["config"].as_object()["x-extra"] = 42;
  o["layers"].as_array()[0].as_object()["whatever"] = "ok";
  EXPECT_TRUE(parse_manifest(text(o), mt::kOciManifest).has_value());
}

TEST(ParseManifest, EmptyLayersSha512AndExtremeSizes) {
  json::object o = oci_image();
  o["layers"] = json::array{};
  EXPECT_TRUE(must_parse(text(o), mt::kOciManifest).layers.empty());

  o["config"] = descriptor(kOciConfig, Digest::of("c", DigestAlgorithm::kSha512), 0);
  o["layers"] = json::array{descriptor(kOciLayer, kLayer0, INT64_MAX)};
  Manifest m = must_parse(text(o), mt::kOciManifest);
  EXPECT_EQ(m.config->digest.algorithm(), DigestAlgorithm::kSha512);
  EXPECT_EQ(m.config->size, 0);
  EXPECT_EQ(m.layers[0].size, INT64_MAX);
}

TEST(ParseManifest, PrettyPrintedAndEscapedJsonIsFine) {
  std::string body = "\n\t{ \"schemaVersion\" : 2 ,\n \"media\\u0054ype\": \"" +
                     std::string(mt::kOciIndex) + "\", \"manifests\": [ ] }\r\n ";
  Manifest m = must_parse(body, "");
  EXPECT_EQ(m.kind, ManifestKind::kOciIndex);
}

// Found by fuzz_manifest: a number too large for a double parses as infinity. In a field
// Berth does not read it is harmless; as a size it is not an integer.
TEST(ParseManifest, NumberOverflowingADoubleOnlyMattersWhereANumberIsRead) {
  std::string body = text(oci_image());
  body.insert(1, "\"x-big\": 851e34807, ");
  EXPECT_TRUE(must_parse(body, mt::kOciManifest).config.has_value());

  std::string bad = text(oci_image());
  auto at = bad.find("\"size\":123");
  ASSERT_NE(at, std::string::npos);
  bad.replace(at, 10, "\"size\":1e999");
  auto m = parse_manifest(bad, mt::kOciManifest);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().message, "config.size: expected a non-negative integer");

  m = parse_manifest("851e34807", mt::kDockerManifestList);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().message, "manifest must be a JSON object");
}

TEST(IsManifestMediaType, TheFourKinds) {
  EXPECT_TRUE(is_manifest_media_type(mt::kOciManifest));
  EXPECT_TRUE(is_manifest_media_type(mt::kOciIndex));
  EXPECT_TRUE(is_manifest_media_type(mt::kDockerManifest));
  EXPECT_TRUE(is_manifest_media_type(mt::kDockerManifestList));
  EXPECT_FALSE(is_manifest_media_type(mt::kDockerSchema1));
  EXPECT_FALSE(is_manifest_media_type(mt::kDockerSchema1Signed));
  EXPECT_FALSE(is_manifest_media_type(mt::kOciEmpty));
  EXPECT_FALSE(is_manifest_media_type("application/json"));
  EXPECT_FALSE(is_manifest_media_type(""));
  EXPECT_FALSE(is_manifest_media_type("application/vnd.oci.image.manifest.v1+json; x=y"));
}

// ---- rejected manifests --------------------------------------------------------------------

struct Reject {
  std::string name;
  std::function<std::string()> body;
  std::string content_type;
  ErrorCode code;
  std::string message;  // A substring the message must contain.
};

std::function<std::string()> raw(std::string s) {
  return [s] { return s; };
}

// A mutation of a valid manifest.
std::function<std::string()> edit(json::object (*base)(), std::function<void(json::object&)> f) {
  return [base, f] {
    json::object o = base();
    f(o);
    return text(o);
  };
}

json::object& layer(json::object& o, std::size_t i) {
  return o["layers"].as_array()[i].as_object();
}
json::object& child(json::object& o, std::size_t i) {
  return o["manifests"].as_array()[i].as_object();
}

constexpr auto kInvalid = ErrorCode::kManifestInvalid;
constexpr auto kDigest = ErrorCode::kDigestInvalid;
const std::string kOci(mt::kOciManifest);
const std::string kIndex(mt::kOciIndex);
const std::string kDocker(mt::kDockerManifest);
const std::string kList(mt::kDockerManifestList);

class ParseManifestRejects : public ::testing::TestWithParam<Reject> {};

TEST_P(ParseManifestRejects, Table) {
  const Reject& c = GetParam();
  std::string body = c.body();
  auto m = parse_manifest(body, c.content_type);
  ASSERT_FALSE(m.has_value()) << body;
  EXPECT_EQ(wire_code(m.error().code), wire_code(c.code)) << m.error().message;
  EXPECT_NE(m.error().message.find(c.message), std::string::npos)
      << "message: " << m.error().message << "\nwanted: " << c.message;
}

INSTANTIATE_TEST_SUITE_P(
    NotJson, ParseManifestRejects,
    ::testing::Values(
        Reject{"Empty", raw(""), kOci, kInvalid, "not valid JSON"},
        Reject{"Garbage", raw("not json"), kOci, kInvalid, "not valid JSON"},
        Reject{"Truncated", raw("{\"schemaVersion\": 2"), kOci, kInvalid, "not valid JSON"},
        Reject{"TrailingData", raw("{\"schemaVersion\": 2} {}"), kOci, kInvalid, "not valid JSON"},
        Reject{"TrailingComma", raw("{\"schemaVersion\": 2,}"), kOci, kInvalid, "not valid JSON"},
        Reject{"Comment", raw("/* c */ {\"schemaVersion\": 2}"), kOci, kInvalid, "not valid JSON"},
        Reject{"SingleQuotes", raw("{'schemaVersion': 2}"), kOci, kInvalid, "not valid JSON"},
        Reject{"InvalidUtf8InString", raw("{\"schemaVersion\": 2, \"x\": \"\xff\"}"), "", kInvalid,
               "not valid JSON"},
        Reject{"OverlongUtf8", raw("{\"schemaVersion\": 2, \"x\": \"\xc0\xaf\"}"), "", kInvalid,
               "not valid JSON"},
        Reject{"Utf8Bom", raw("\xef\xbb\xbf{\"schemaVersion\": 2}"), "", kInvalid,
               "not valid JSON"},
        Reject{"NulByte", raw(std::string("{\"schemaVersion\": 2}\0", 21)), "", kInvalid,
               "not valid JSON"},
        Reject{"TooDeep", raw("{\"x\":" + std::string(100, '[') + std::string(100, ']') + "}"), "",
               kInvalid, "not valid JSON"},
        Reject{"TopLevelArray", raw("[]"), kOci, kInvalid, "JSON object"},
        Reject{"TopLevelString", raw("\"x\""), kOci, kInvalid, "JSON object"},
        Reject{"TopLevelNumber", raw("2"), kOci, kInvalid, "JSON object"},
        Reject{"TopLevelNull", raw("null"), kOci, kInvalid, "JSON object"},
        Reject{"DuplicateTopLevelKey",
               raw("{\"schemaVersion\": 2, \"mediaType\": \"" + kOci + "\", \"mediaType\": \"" +
                   kIndex + "\", \"manifests\": []}"),
               "", kInvalid, "duplicate key"},
        Reject{"DuplicateNestedKey",
               raw("{\"schemaVersion\": 2, \"mediaType\": \"" + kIndex +
                   "\", \"manifests\": [{\"mediaType\": \"" + kOci + "\", \"digest\": \"" +
                   kChild0.str() + "\", \"digest\": \"" + kChild1.str() + "\", \"size\": 1}]}"),
               "", kInvalid, "duplicate key"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    SchemaAndKind, ParseManifestRejects,
    ::testing::Values(
        Reject{"SchemaVersionMissing", edit(oci_image, [](auto& o) { o.erase("schemaVersion"); }),
               kOci, kInvalid, "schemaVersion: missing"},
        Reject{"SchemaVersion1", edit(oci_image, [](auto& o) { o["schemaVersion"] = 1; }), kOci,
               kInvalid, "schema 1"},
        Reject{"SchemaVersion1Bare",
               raw("{\"schemaVersion\": 1, \"name\": \"x\", \"tag\": \"latest\", "
                   "\"fsLayers\": [], \"history\": []}"),
               "", kInvalid, "schema 1"},
        Reject{"SchemaVersion3", edit(oci_image, [](auto& o) { o["schemaVersion"] = 3; }), kOci,
               kInvalid, "schemaVersion: must be 2"},
        Reject{"SchemaVersion0", edit(oci_image, [](auto& o) { o["schemaVersion"] = 0; }), kOci,
               kInvalid, "schemaVersion: must be 2"},
        Reject{"SchemaVersionNegative", edit(oci_image, [](auto& o) { o["schemaVersion"] = -2; }),
               kOci, kInvalid, "schemaVersion: must be 2"},
        Reject{"SchemaVersionString", edit(oci_image, [](auto& o) { o["schemaVersion"] = "2"; }),
               kOci, kInvalid, "schemaVersion: expected the integer 2"},
        Reject{"SchemaVersionDouble", edit(oci_image, [](auto& o) { o["schemaVersion"] = 2.0; }),
               kOci, kInvalid, "schemaVersion: expected the integer 2"},
        Reject{"SchemaVersionHuge",
               raw("{\"schemaVersion\": 18446744073709551615, \"config\": {}}"), "", kInvalid,
               "schemaVersion: expected the integer 2"},
        Reject{"SchemaVersionNull", edit(oci_image, [](auto& o) { o["schemaVersion"] = nullptr; }),
               kOci, kInvalid, "schemaVersion: expected the integer 2"},
        Reject{"Schema1ContentType", edit(oci_image, [](auto& o) { o.erase("mediaType"); }),
               std::string(mt::kDockerSchema1), kInvalid, "schema 1"},
        Reject{"Schema1SignedContentType", raw("{}"), std::string(mt::kDockerSchema1Signed),
               kInvalid, "schema 1"},
        Reject{"Schema1ContentTypeWithParameters", raw("{}"),
               "Application/vnd.docker.distribution.manifest.v1+prettyjws; charset=utf-8", kInvalid,
               "schema 1"},
        Reject{"Schema1MediaTypeInBody",
               edit(oci_image, [](auto& o) { o["mediaType"] = jsv(mt::kDockerSchema1Signed); }), "",
               kInvalid, "schema 1"},
        Reject{"MediaTypeMismatchOciVsDocker", edit(docker_image, [](auto&) {}), kOci, kInvalid,
               "does not match the Content-Type"},
        Reject{"MediaTypeMismatchManifestVsIndex", edit(oci_image, [](auto&) {}), kIndex, kInvalid,
               "does not match the Content-Type"},
        Reject{"MediaTypeMismatchListVsDocker", edit(docker_list, [](auto&) {}), kDocker, kInvalid,
               "does not match the Content-Type"},
        Reject{"MediaTypeMismatchWithParameters", edit(oci_index, [](auto&) {}),
               kOci + "; charset=utf-8", kInvalid, "does not match the Content-Type"},
        Reject{"MediaTypeNotAManifestType",
               edit(oci_image, [](auto& o) { o["mediaType"] = jsv(kOciConfig); }), "", kInvalid,
               "mediaType: \"application/vnd.oci.image.config.v1+json\" is not a manifest"},
        Reject{
            "MediaTypeArtifactManifest",
            edit(oci_image,
                 [](auto& o) { o["mediaType"] = "application/vnd.oci.artifact.manifest.v1+json"; }),
            "", kInvalid, "is not a manifest media type"},
        Reject{"MediaTypeWrongCase",
               edit(oci_image,
                    [](auto& o) { o["mediaType"] = "application/vnd.OCI.image.manifest.v1+json"; }),
               "", kInvalid, "is not a manifest media type"},
        Reject{"MediaTypeNotString", edit(oci_image, [](auto& o) { o["mediaType"] = 1; }), "",
               kInvalid, "mediaType: expected a string"},
        Reject{"DockerContentTypeWithoutMediaType",
               edit(docker_image, [](auto& o) { o.erase("mediaType"); }), kDocker, kInvalid,
               "mediaType: missing"},
        Reject{"DockerListContentTypeWithoutMediaType",
               edit(docker_list, [](auto& o) { o.erase("mediaType"); }), kList, kInvalid,
               "mediaType: missing"},
        Reject{"NoMediaTypeNoContentTypeNoShape", raw("{\"schemaVersion\": 2}"), "", kInvalid,
               "mediaType: missing"},
        Reject{"NoMediaTypeGenericContentTypeNoShape",
               raw("{\"schemaVersion\": 2, \"layers\": []}"), "application/json", kInvalid,
               "mediaType: missing"},
        Reject{"NoMediaTypeAmbiguousShape",
               edit(oci_image,
                    [](auto& o) {
                      o.erase("mediaType");
                      o["manifests"] = json::array{};
                    }),
               "", kInvalid, "both \"config\" and \"manifests\""},
        Reject{"ImageManifestWithManifests",
               edit(oci_image, [](auto& o) { o["manifests"] = json::array{}; }), kOci, kInvalid,
               "manifests: not allowed"},
        Reject{"IndexWithLayers", edit(oci_index, [](auto& o) { o["layers"] = json::array{}; }),
               kIndex, kInvalid, "layers: not allowed"},
        Reject{"IndexWithConfig",
               edit(oci_index, [](auto& o) { o["config"] = descriptor(kOciConfig, kConfig, 1); }),
               kIndex, kInvalid, "config: not allowed"},
        Reject{"ListWithLayers", edit(docker_list, [](auto& o) { o["layers"] = json::array{}; }),
               kList, kInvalid, "layers: not allowed"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Fields, ParseManifestRejects,
    ::testing::Values(
        Reject{"ConfigMissing", edit(oci_image, [](auto& o) { o.erase("config"); }), kOci, kInvalid,
               "config: missing"},
        Reject{"ConfigNotObject", edit(oci_image, [](auto& o) { o["config"] = "x"; }), kOci,
               kInvalid, "config: expected an object"},
        Reject{"DockerConfigMissing", edit(docker_image, [](auto& o) { o.erase("config"); }),
               kDocker, kInvalid, "config: missing"},
        Reject{"LayersMissing", edit(oci_image, [](auto& o) { o.erase("layers"); }), kOci, kInvalid,
               "layers: missing"},
        Reject{"LayersNotArray", edit(oci_image, [](auto& o) { o["layers"] = json::object{}; }),
               kOci, kInvalid, "layers: expected an array"},
        Reject{"LayersNull", edit(oci_image, [](auto& o) { o["layers"] = nullptr; }), kOci,
               kInvalid, "layers: expected an array"},
        Reject{"LayerNotObject",
               edit(oci_image, [](auto& o) { o["layers"].as_array().push_back(7); }), kOci,
               kInvalid, "layers[2]: expected an object"},
        Reject{"ManifestsMissing", edit(oci_index, [](auto& o) { o.erase("manifests"); }), kIndex,
               kInvalid, "manifests: missing"},
        Reject{"ManifestsNotArray", edit(oci_index, [](auto& o) { o["manifests"] = "x"; }), kIndex,
               kInvalid, "manifests: expected an array"},
        Reject{"DescriptorMediaTypeMissing",
               edit(oci_image, [](auto& o) { layer(o, 1).erase("mediaType"); }), kOci, kInvalid,
               "layers[1].mediaType: missing"},
        Reject{"DescriptorMediaTypeNotString",
               edit(oci_image, [](auto& o) { o["config"].as_object()["mediaType"] = 5; }), kOci,
               kInvalid, "config.mediaType: expected a string"},
        Reject{"DescriptorMediaTypeEmpty",
               edit(oci_image, [](auto& o) { layer(o, 0)["mediaType"] = ""; }), kOci, kInvalid,
               "layers[0].mediaType: \"\" is not a media type"},
        Reject{"DescriptorMediaTypeNoSlash",
               edit(oci_image, [](auto& o) { layer(o, 0)["mediaType"] = "tar"; }), kOci, kInvalid,
               "layers[0].mediaType"},
        Reject{"DescriptorMediaTypeWithParameters",
               edit(oci_image, [](auto& o) { layer(o, 0)["mediaType"] = "application/x; a=b"; }),
               kOci, kInvalid, "layers[0].mediaType"},
        Reject{"DescriptorMediaTypeTwoSlashes",
               edit(oci_image, [](auto& o) { layer(o, 0)["mediaType"] = "a/b/c"; }), kOci, kInvalid,
               "layers[0].mediaType"},
        Reject{"DescriptorDigestMissing",
               edit(oci_image, [](auto& o) { layer(o, 0).erase("digest"); }), kOci, kInvalid,
               "layers[0].digest: missing"},
        Reject{"DescriptorDigestNotString",
               edit(oci_image, [](auto& o) { layer(o, 0)["digest"] = 1; }), kOci, kInvalid,
               "layers[0].digest: expected a string"},
        Reject{
            "DescriptorDigestMd5",
            edit(oci_image,
                 [](auto& o) { layer(o, 1)["digest"] = "md5:d41d8cd98f00b204e9800998ecf8427e"; }),
            kOci, kDigest, "layers[1].digest:"},
        Reject{"DescriptorDigestUppercase",
               edit(oci_image,
                    [](auto& o) {
                      std::string d = kConfig.str();
                      for (char& c : d) c = static_cast<char>(std::toupper(c));
                      o["config"].as_object()["digest"] = "sha256:" + d.substr(7);
                    }),
               kOci, kDigest, "config.digest:"},
        Reject{
            "DescriptorDigestShort",
            edit(oci_index, [](auto& o) { child(o, 1)["digest"] = kChild1.str().substr(0, 70); }),
            kIndex, kDigest, "manifests[1].digest:"},
        Reject{"DescriptorDigestNoAlgorithm",
               edit(oci_image, [](auto& o) { layer(o, 0)["digest"] = kLayer0.hex(); }), kOci,
               kDigest, "layers[0].digest:"},
        Reject{"SizeMissing", edit(oci_image, [](auto& o) { layer(o, 0).erase("size"); }), kOci,
               kInvalid, "layers[0].size: missing"},
        Reject{"SizeNegative", edit(oci_image, [](auto& o) { layer(o, 1)["size"] = -1; }), kOci,
               kInvalid, "layers[1].size: expected a non-negative integer"},
        Reject{"SizeString", edit(oci_image, [](auto& o) { layer(o, 0)["size"] = "1000"; }), kOci,
               kInvalid, "layers[0].size: expected a non-negative integer"},
        Reject{"SizeFraction", edit(oci_image, [](auto& o) { layer(o, 0)["size"] = 1.5; }), kOci,
               kInvalid, "layers[0].size: expected a non-negative integer"},
        Reject{"SizeDoubleWhole", edit(oci_image, [](auto& o) { layer(o, 0)["size"] = 1000.0; }),
               kOci, kInvalid, "layers[0].size: expected a non-negative integer"},
        Reject{"SizeBool", edit(oci_image, [](auto& o) { layer(o, 0)["size"] = true; }), kOci,
               kInvalid, "layers[0].size: expected a non-negative integer"},
        Reject{"SizeNull",
               edit(oci_image, [](auto& o) { o["config"].as_object()["size"] = nullptr; }), kOci,
               kInvalid, "config.size: expected a non-negative integer"},
        Reject{"SizeAboveInt64",
               edit(oci_image, [](auto& o) { layer(o, 0)["size"] = std::uint64_t{1} << 63; }), kOci,
               kInvalid, "layers[0].size: expected a non-negative integer"},
        Reject{"SizeExponent",
               raw("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" +
                   kConfig.str() + "\",\"size\":1e3},\"layers\":[]}"),
               "", kInvalid, "config.size: expected a non-negative integer"},
        Reject{"ChildSizeNegative", edit(oci_index, [](auto& o) { child(o, 0)["size"] = -5; }),
               kIndex, kInvalid, "manifests[0].size: expected a non-negative integer"},
        Reject{"AnnotationsNotObject",
               edit(oci_image, [](auto& o) { o["annotations"] = json::array{"a"}; }), kOci,
               kInvalid, "annotations: expected an object of strings"},
        Reject{"AnnotationsNumberValue",
               edit(oci_image,
                    [](auto& o) {
                      o["annotations"] = json::object{{"n", 1}};
                    }),
               kOci, kInvalid, "annotations[\"n\"]: expected a string"},
        Reject{"AnnotationsNullValue",
               edit(oci_image,
                    [](auto& o) {
                      o["annotations"] = json::object{{"ok", "x"}, {"bad", nullptr}};
                    }),
               kOci, kInvalid, "annotations[\"bad\"]: expected a string"},
        Reject{"AnnotationsObjectValue",
               edit(oci_index,
                    [](auto& o) {
                      o["annotations"] = json::object{{"o", json::object{}}};
                    }),
               kIndex, kInvalid, "annotations[\"o\"]: expected a string"},
        Reject{"DescriptorAnnotationsNonString",
               edit(oci_image,
                    [](auto& o) {
                      layer(o, 1)["annotations"] = json::object{{"k", false}};
                    }),
               kOci, kInvalid, "layers[1].annotations[\"k\"]: expected a string"},
        Reject{"ArtifactTypeNotString",
               edit(oci_image, [](auto& o) { o["artifactType"] = json::object{}; }), kOci, kInvalid,
               "artifactType: expected a string"},
        Reject{"ArtifactTypeNotMediaType",
               edit(oci_image, [](auto& o) { o["artifactType"] = "sbom"; }), kOci, kInvalid,
               "artifactType: \"sbom\" is not a media type"},
        Reject{"DescriptorArtifactTypeNotString",
               edit(oci_index, [](auto& o) { child(o, 0)["artifactType"] = 3; }), kIndex, kInvalid,
               "manifests[0].artifactType: expected a string"},
        Reject{"UrlsNotArray", edit(oci_image, [](auto& o) { layer(o, 0)["urls"] = "https://x"; }),
               kOci, kInvalid, "layers[0].urls: expected an array of strings"},
        Reject{"UrlsNonString",
               edit(oci_image,
                    [](auto& o) {
                      layer(o, 0)["urls"] = json::array{"https://x", 1};
                    }),
               kOci, kInvalid, "layers[0].urls[1]: expected a string"},
        Reject{"DataNotString", edit(oci_image, [](auto& o) { layer(o, 0)["data"] = 1; }), kOci,
               kInvalid, "layers[0].data: expected a string"},
        Reject{"PlatformNotObject",
               edit(oci_index, [](auto& o) { child(o, 0)["platform"] = "linux/amd64"; }), kIndex,
               kInvalid, "manifests[0].platform: expected an object"},
        Reject{"PlatformArchitectureNotString",
               edit(oci_index,
                    [](auto& o) { child(o, 0)["platform"].as_object()["architecture"] = 64; }),
               kIndex, kInvalid, "manifests[0].platform.architecture: expected a string"},
        Reject{"PlatformOsFeaturesNotArray",
               edit(oci_index,
                    [](auto& o) { child(o, 1)["platform"].as_object()["os.features"] = "x"; }),
               kIndex, kInvalid, "manifests[1].platform.os.features: expected an array"},
        Reject{"SubjectNotObject", edit(oci_image, [](auto& o) { o["subject"] = "sha256:x"; }),
               kOci, kInvalid, "subject: expected an object"},
        Reject{"SubjectWithoutSize",
               edit(oci_image,
                    [](auto& o) {
                      json::object s = descriptor(kOci, kSubject, 1);
                      s.erase("size");
                      o["subject"] = s;
                    }),
               kOci, kInvalid, "subject.size: missing"},
        Reject{"SubjectBadDigest",
               edit(oci_image,
                    [](auto& o) {
                      json::object s = descriptor(kOci, kSubject, 1);
                      s["digest"] = "sha256:abc";
                      o["subject"] = s;
                    }),
               kOci, kDigest, "subject.digest:"},
        Reject{"DockerLayerBadSize", edit(docker_image, [](auto& o) { layer(o, 0)["size"] = -7; }),
               kDocker, kInvalid, "layers[0].size: expected a non-negative integer"},
        Reject{"ListChildBadDigest",
               edit(docker_list, [](auto& o) { child(o, 0)["digest"] = "sha256:"; }), kList,
               kDigest, "manifests[0].digest:"},
        Reject{"LongAnnotationKeyIsCutInTheMessage",
               edit(oci_image,
                    [](auto& o) {
                      o["annotations"] = json::object{{std::string(5000, 'k'), 1}};
                    }),
               kOci, kInvalid, std::string(64, 'k') + "...\"]: expected a string"}),
    [](const auto& info) { return info.param.name; });

// The exact wording for a bad size, as the registry's clients will see it.
TEST(ParseManifest, BadSizeMessageNamesTheField) {
  json::object o = oci_image();
  o["layers"].as_array().push_back(descriptor(kOciLayer, kLayer0, 1));
  layer(o, 2)["size"] = -3;
  auto m = parse_manifest(text(o), mt::kOciManifest);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code, ErrorCode::kManifestInvalid);
  EXPECT_EQ(m.error().message, "layers[2].size: expected a non-negative integer");
}

}  // namespace
}  // namespace berth::core
