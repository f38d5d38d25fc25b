// The platforms a manifest is for, as the browse API lists them per tag ("linux/amd64"):
// recorded at push time (meta::ManifestPut::platforms) so that a page of tags reads no blob.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/manifest.hpp"
#include "storage/blob_store.hpp"

namespace berth::registry {

// An index's entries' platforms (attestation entries, "unknown/unknown", left out), in order;
// an image manifest's from its config blob, read when it is an image config of at most 1 MiB
// (one small read per push). nullopt when it cannot be told (the config not stored yet, or
// unreadable); empty for artifacts. Blocking.
[[nodiscard]] std::optional<std::vector<std::string>> manifest_platforms(
    const core::Manifest& manifest, storage::BlobStore& blobs);

}  // namespace berth::registry
