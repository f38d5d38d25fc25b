#include "registry/manifest_platforms.hpp"

#include "core/image_config.hpp"
#include "storage/read_blob.hpp"

namespace berth::registry {

namespace {

constexpr std::uint64_t kMaxConfigBytes = 1024 * 1024;

}  // namespace

std::optional<std::vector<std::string>> manifest_platforms(const core::Manifest& manifest,
                                                           storage::BlobStore& blobs) {
  std::vector<std::string> out;
  if (manifest.kind == core::ManifestKind::kOciIndex ||
      manifest.kind == core::ManifestKind::kDockerManifestList) {
    for (const auto& entry : manifest.manifests) {
      if (entry.platform && entry.platform->os != "unknown" && !entry.platform->os.empty()) {
        out.push_back(entry.platform->str());
      }
    }
    return out;
  }
  if (!manifest.config || !core::is_image_config_media_type(manifest.config->media_type)) {
    return out;
  }
  auto bytes = storage::read_blob(blobs, manifest.config->digest, kMaxConfigBytes);
  if (!bytes) {
    return std::nullopt;
  }
  auto config = core::parse_image_config(*bytes);
  if (!config || config->platform.os.empty() || config->platform.architecture.empty()) {
    return out;
  }
  out.push_back(config->platform.str());
  return out;
}

}  // namespace berth::registry
