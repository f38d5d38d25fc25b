// A small registry client for black-box tests: push and pull blobs, manifests and whole images
// over the Distribution API, on top of the plain HttpClient. The API tests use it to set up
// state; the crash and scale-out tests reuse it to drive a berth they kill and restart.
//
//   berth::testing::RegistryClient registry("127.0.0.1", process.port());
//   auto image = registry.push_image("team/app", "v1", {.layers = 3});
//   auto pulled = registry.http().get("/v2/team/app/manifests/v1");
//
// Digests are computed here with OpenSSL, never with the server's own code: a test that checks
// the server's digests against the server's digest function would prove nothing.
//
// The high-level calls (push_blob, push_manifest, push_image, ...) throw RegistryClientError,
// with the status and body of the response, when the registry does not answer as a conformant
// one must: they are for setting up state, so a surprise there is a test failure. The
// assertions under test use http() and look at every status and header themselves.
// Not thread-safe: one client per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "testing/http_client.hpp"

namespace berth::testing {

class RegistryClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace media_types {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media_types

// ---- content helpers (no network)

// "sha256:<hex>" / "sha512:<hex>" of the bytes.
std::string sha256_digest(std::string_view bytes);
std::string sha512_digest(std::string_view bytes);

// `size` pseudo-random bytes. A fresh seed every call unless one is given, so content (and so
// digests) never repeats between tests that share a server.
std::string random_bytes(std::size_t size, std::optional<std::uint64_t> seed = std::nullopt);

// A string of lowercase letters and digits, for unique repository names and tags.
std::string random_token(std::size_t length = 10);

struct Descriptor {
  std::string media_type;
  std::string digest;
  std::uint64_t size = 0;
  // Optional fields; empty: left out of the JSON.
  std::string artifact_type;
  std::vector<std::pair<std::string, std::string>> annotations;
  // For index entries: {"architecture": ..., "os": ...} when set.
  std::string platform_os;
  std::string platform_architecture;
};

// The descriptor of `bytes` with that media type.
Descriptor describe(std::string_view media_type, std::string_view bytes);

// Built with the chained setters: ManifestOptions().with_subject(image).with_annotation(k, v).
struct ManifestOptions {
  // Media type written in the body; empty leaves "mediaType" out.
  std::string media_type = std::string(media_types::kOciManifest);
  std::string artifact_type;
  std::optional<Descriptor> subject;
  std::vector<std::pair<std::string, std::string>> annotations;

  ManifestOptions& with_media_type(std::string_view value) {
    media_type = value;
    return *this;
  }
  ManifestOptions& with_artifact_type(std::string_view value) {
    artifact_type = value;
    return *this;
  }
  ManifestOptions& with_subject(Descriptor value) {
    subject = std::move(value);
    return *this;
  }
  ManifestOptions& with_annotation(std::string key, std::string value) {
    annotations.emplace_back(std::move(key), std::move(value));
    return *this;
  }
};

// An image manifest (OCI or Docker v2 schema 2, per options.media_type) as compact JSON.
std::string make_image_manifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                                const ManifestOptions& options = {});
// An image index or manifest list. options.media_type defaults to the OCI manifest type, so
// callers pass kOciIndex or kDockerManifestList.
std::string make_index(const std::vector<Descriptor>& manifests, const ManifestOptions& options);

// ---- responses

// The "code" of every entry of an OCI error body ({"errors":[{"code":...}]}); empty when the
// body is not one.
std::vector<std::string> error_codes(const HttpResponse& response);
// The first error code, or "" when there is none.
std::string error_code(const HttpResponse& response);
// "STATUS reason: body" for failure messages.
std::string describe(const HttpResponse& response);

// The target of a Location header: a path (kept as is) or an absolute URL (its path and query).
std::string location_target(const HttpResponse& response);

// Parses a Link header of the form `<target>; rel="next"` and returns the target; nullopt when
// absent or not rel="next".
std::optional<std::string> next_link(const HttpResponse& response);

// The "tags" array of a tags/list body, or "repositories" of a catalog body.
std::vector<std::string> json_string_array(std::string_view body, std::string_view key);

// ---- the client

// Built with the chained setters: ImageOptions().with_layers(1).with_layer_size(64).
struct ImageOptions {
  std::size_t layers = 2;
  std::size_t layer_size = 4096;
  // kOciManifest or kDockerManifest.
  std::string media_type = std::string(media_types::kOciManifest);
  // Blobs larger than this go up as a chunked upload (POST, PATCH..., PUT) in chunks of this
  // size; smaller ones in one POST ?digest=.
  std::size_t chunked_above = 1 << 20;

  ImageOptions& with_layers(std::size_t value) {
    layers = value;
    return *this;
  }
  ImageOptions& with_layer_size(std::size_t value) {
    layer_size = value;
    return *this;
  }
  ImageOptions& with_media_type(std::string_view value) {
    media_type = value;
    return *this;
  }
  ImageOptions& with_chunked_above(std::size_t value) {
    chunked_above = value;
    return *this;
  }
};

struct PushedBlob {
  std::string bytes;
  std::string digest;
};

struct PushedImage {
  PushedBlob config;
  std::vector<PushedBlob> layers;
  std::string media_type;
  std::string manifest;
  std::string digest;
  // The manifest's descriptor, for building indexes and referrers on it.
  Descriptor descriptor;
};

class RegistryClient {
 public:
  RegistryClient(std::string host, std::uint16_t port);

  HttpClient& http() { return http_; }

  // ---- blobs
  // Monolithic upload: POST /blobs/uploads/?digest= with the bytes. Returns the digest.
  std::string push_blob(std::string_view repo, std::string_view bytes);
  // POST, then PATCH chunks of `chunk_size` with Content-Range, then PUT ?digest=.
  std::string push_blob_chunked(std::string_view repo, std::string_view bytes,
                                std::size_t chunk_size);
  // POST /blobs/uploads/ (202); returns the Location target.
  std::string start_upload(std::string_view repo);
  // The bytes of a blob (GET must answer 200).
  std::string pull_blob(std::string_view repo, std::string_view digest);
  // HEAD of the blob answers 200.
  bool blob_exists(std::string_view repo, std::string_view digest);

  // ---- manifests
  // PUT /manifests/<reference> with that Content-Type; returns Docker-Content-Digest.
  std::string push_manifest(std::string_view repo, std::string_view reference,
                            std::string_view manifest, std::string_view media_type);
  HttpResponse get_manifest(std::string_view repo, std::string_view reference);
  bool manifest_exists(std::string_view repo, std::string_view reference);

  // Pushes a config, `options.layers` random layers and a manifest tagged `tag` (by digest
  // when tag is empty).
  PushedImage push_image(std::string_view repo, std::string_view tag,
                         const ImageOptions& options = {});
  // Verifies that everything of `image` reads back from `repo` byte for byte; throws if not.
  void verify_image(std::string_view repo, const PushedImage& image);

  // ---- discovery
  // Every tag, following Link headers page by page (`page_size` per page; 0: one request).
  std::vector<std::string> list_tags(std::string_view repo, std::size_t page_size = 0);

 private:
  HttpClient http_;
};

}  // namespace berth::testing
