// parse_manifest. The first input byte picks the request's Content-Type; the rest is the
// body. Beyond not crashing: every accepted manifest is self-consistent, parsing is a
// function of the JSON value (re-serializing the body changes nothing), and an accepted
// manifest is accepted again under its own media type.
#include <array>
#include <boost/json.hpp>
#include <string>

#include "core/manifest.hpp"
#include "core/media_type.hpp"
#include "fuzz_check.hpp"

namespace {

namespace json = boost::json;
namespace mt = berth::core::media_type;
using berth::core::Descriptor;
using berth::core::Digest;
using berth::core::ErrorCode;
using berth::core::Manifest;
using berth::core::ManifestKind;

constexpr std::array<std::string_view, 12> kContentTypes = {
    "",
    "application/json",
    "application/octet-stream",
    mt::kOciManifest,
    mt::kOciIndex,
    mt::kDockerManifest,
    mt::kDockerManifestList,
    mt::kDockerSchema1,
    mt::kDockerSchema1Signed,
    "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
    "APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON",
    "text/plain",
};

void check_descriptor(const Descriptor& d) {
  FUZZ_CHECK(!d.media_type.empty() && d.media_type.find('/') != std::string::npos);
  FUZZ_CHECK(d.size >= 0);
  auto digest = Digest::parse(d.digest.str());
  FUZZ_CHECK(digest && *digest == d.digest);
  if (!d.annotations_json.empty()) {
    json::error_code ec;
    json::value v = json::parse(d.annotations_json, ec);
    FUZZ_CHECK(!ec && v.is_object());
    for (const auto& entry : v.get_object()) {
      FUZZ_CHECK(entry.value().is_string());
    }
  }
}

void check_manifest(const Manifest& m) {
  FUZZ_CHECK(berth::core::is_manifest_media_type(m.media_type));
  const bool index =
      m.kind == ManifestKind::kOciIndex || m.kind == ManifestKind::kDockerManifestList;
  switch (m.kind) {
    case ManifestKind::kOciManifest:
      FUZZ_CHECK(m.media_type == mt::kOciManifest);
      break;
    case ManifestKind::kOciIndex:
      FUZZ_CHECK(m.media_type == mt::kOciIndex);
      break;
    case ManifestKind::kDockerManifest:
      FUZZ_CHECK(m.media_type == mt::kDockerManifest);
      break;
    case ManifestKind::kDockerManifestList:
      FUZZ_CHECK(m.media_type == mt::kDockerManifestList);
      break;
  }
  if (index) {
    FUZZ_CHECK(!m.config && m.layers.empty());
    FUZZ_CHECK(m.required_blobs().empty());
  } else {
    FUZZ_CHECK(m.config.has_value() && m.manifests.empty());
    check_descriptor(*m.config);
    FUZZ_CHECK(!m.artifact_type.empty());  // artifactType, or else the config's type.
  }
  for (const auto& d : m.layers) check_descriptor(d);
  for (const auto& d : m.manifests) check_descriptor(d);
  if (m.subject) check_descriptor(*m.subject);

  std::size_t foreign = 0;
  for (const auto& layer : m.layers) {
    foreign += layer.urls.empty() ? 0 : 1;
  }
  auto blobs = m.required_blobs();
  FUZZ_CHECK(blobs.size() == (m.config ? 1 : 0) + m.layers.size() - foreign);
  for (const Descriptor* blob : blobs) {
    FUZZ_CHECK(blob != nullptr && blob->urls.empty());
    FUZZ_CHECK(Digest::parse(blob->digest.str()).has_value());
  }
  if (!m.annotations_json.empty()) {
    json::error_code ec;
    json::value v = json::parse(m.annotations_json, ec);
    FUZZ_CHECK(!ec && v.is_object());
  }
}

bool same_descriptors(const std::vector<Descriptor>& a, const std::vector<Descriptor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].digest != b[i].digest || a[i].size != b[i].size ||
        a[i].media_type != b[i].media_type || a[i].urls != b[i].urls ||
        a[i].artifact_type != b[i].artifact_type ||
        a[i].annotations_json != b[i].annotations_json) {
      return false;
    }
  }
  return true;
}

bool same(const Manifest& a, const Manifest& b) {
  return a.kind == b.kind && a.media_type == b.media_type && a.artifact_type == b.artifact_type &&
         a.config.has_value() == b.config.has_value() &&
         (!a.config || a.config->digest == b.config->digest) &&
         same_descriptors(a.layers, b.layers) && same_descriptors(a.manifests, b.manifests) &&
         a.subject.has_value() == b.subject.has_value() &&
         (!a.subject || a.subject->digest == b.subject->digest) &&
         a.annotations_json == b.annotations_json;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view content_type = kContentTypes[data[0] % kContentTypes.size()];
  const std::string_view body = berth::fuzz::as_text(data + 1, size - 1);

  auto manifest = berth::core::parse_manifest(body, content_type);
  if (manifest) {
    check_manifest(*manifest);
    // Accepted again when pushed with its own media type as the Content-Type.
    auto again = berth::core::parse_manifest(body, manifest->media_type);
    FUZZ_CHECK(again && same(*again, *manifest));
  } else {
    FUZZ_CHECK(manifest.error().code == ErrorCode::kManifestInvalid ||
               manifest.error().code == ErrorCode::kDigestInvalid);
    FUZZ_CHECK(!manifest.error().message.empty());
  }

  // The verdict depends only on the JSON value: the same value written by Boost.JSON's
  // serializer gets the same answer. (Bodies with repeated keys are rejected, so the DOM
  // is the whole story.) Numbers too large for a double parse as infinity, which the
  // serializer writes as "Infinity", not JSON: such values cannot take the round trip.
  json::error_code ec;
  json::value value = json::parse(json::string_view(body.data(), body.size()), ec);
  std::string rewritten;
  if (!ec) {
    rewritten = json::serialize(value);
    json::parse(rewritten, ec);
  }
  if (!ec) {
    auto other = berth::core::parse_manifest(rewritten, content_type);
    if (manifest) {
      FUZZ_CHECK(other && same(*other, *manifest));
    } else if (manifest.error().message.find("duplicate key") == std::string::npos) {
      FUZZ_CHECK(!other && other.error().code == manifest.error().code &&
                 other.error().message == manifest.error().message);
    }
  }
  return 0;
}
