// Parsing and validation of pushed manifests: OCI image manifest and index, Docker schema 2
// manifest and manifest list, and OCI artifacts (artifactType, any config media type).
// The bytes are untrusted client input; this file decides whether they are a manifest Berth
// accepts and extracts what the metadata store needs: references, subject, artifact type.
// It never changes the bytes: the stored manifest is exactly what the client sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.hpp"
#include "core/error.hpp"

namespace berth::core {

enum class ManifestKind { kOciManifest, kOciIndex, kDockerManifest, kDockerManifestList };

// An index entry's "platform" (what the browse API shows); empty strings when absent.
struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  // "linux/arm64/v8", "linux/amd64": os/architecture[/variant].
  std::string str() const;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  // Empty when absent.
  std::string artifact_type;
  // The "annotations" object serialized as JSON, or empty when absent.
  std::string annotations_json;
  // "urls" of foreign / non-distributable layers.
  std::vector<std::string> urls;
  // "platform" of an index entry, when present.
  std::optional<Platform> platform;
};

struct Manifest {
  ManifestKind kind;
  // The effective media type: the "mediaType" field, else the request's Content-Type.
  std::string media_type;
  // For referrers: "artifactType" if present, else config.mediaType of an image manifest,
  // else empty.
  std::string artifact_type;
  std::optional<Descriptor> config;
  std::vector<Descriptor> layers;
  // Child manifests of an index / manifest list.
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  // The top-level "annotations" object serialized as JSON, or empty.
  std::string annotations_json;

  // The blobs that must be present in the repository before this manifest is accepted:
  // config and layers, except layers that name external "urls" (foreign layers).
  std::vector<const Descriptor*> required_blobs() const;
};

// Parses manifest bytes sent with the given Content-Type (empty when the request had none;
// parameters such as "; charset=utf-8" are ignored).
//  - Docker schema 1 (either media type, or a body with "schemaVersion": 1) is refused with
//    MANIFEST_INVALID and a message that says schema 1 is not supported.
//  - The body must be a JSON object with "schemaVersion": 2.
//  - If the body has "mediaType" it must be one of the four kinds and, when the Content-Type
//    names a manifest type, equal it. Without "mediaType" the Content-Type decides; with
//    neither, "manifests" means OCI index and "config" means OCI manifest.
//  - Docker types require "mediaType" in the body.
//  - Image manifests need a valid "config" descriptor and a "layers" array; indexes need a
//    "manifests" array. Every descriptor needs a string mediaType, a valid digest and a
//    non-negative integer size.
//  - "subject", when present, must be a valid descriptor; "annotations" must be an object of
//    strings; "artifactType" must be a string.
// Errors are MANIFEST_INVALID (or DIGEST_INVALID for a malformed digest inside), with a
// message naming the offending field.
[[nodiscard]] Result<Manifest> parse_manifest(std::string_view bytes,
                                              std::string_view content_type);

// True for the four accepted manifest media types.
[[nodiscard]] bool is_manifest_media_type(std::string_view media_type);

}  // namespace berth::core
