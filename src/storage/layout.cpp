// Key construction for storage/layout.hpp. Kept tiny on purpose: every rule about where bytes
// live is visible at a glance here and in the tree of the header.
#include "storage/layout.hpp"

#include <initializer_list>
#include <vector>

namespace berth::storage::layout {
namespace {

constexpr std::size_t kFanoutLength = 2;
constexpr std::string_view kTmpPrefix = "put-";
constexpr std::string_view kMarkerName = "started";
constexpr std::string_view kPiecePrefix = "piece-";
constexpr std::size_t kPieceDigits = 5;

std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) {
    if (!out.empty()) {
      out.push_back('/');
    }
    out.append(part);
  }
  return out;
}

}  // namespace

std::string blob_algorithm_dir(core::DigestAlgorithm algorithm) {
  return join({kBlobsDir, core::algorithm_name(algorithm)});
}

std::string blob_fanout_dir(const core::Digest& digest) {
  return join(
      {kBlobsDir, core::algorithm_name(digest.algorithm()), digest.hex().substr(0, kFanoutLength)});
}

std::string blob_key(const core::Digest& digest) {
  return join({blob_fanout_dir(digest), digest.hex()});
}

std::optional<core::Digest> parse_blob_key(std::string_view key) {
  // blobs/<algorithm>/<fan-out>/<hex>: pull out algorithm and hex, let Digest::parse validate
  // them, then require that the key is exactly the one blob_key makes (which checks the
  // "blobs" prefix, the fan-out directory and that there are no extra components).
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = key.find('/', start);
    parts.push_back(key.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  if (parts.size() != 4) {
    return std::nullopt;
  }
  std::string text;
  text.append(parts[1]).append(":").append(parts[3]);
  auto digest = core::Digest::parse(text);
  if (!digest || blob_key(*digest) != key) {
    return std::nullopt;
  }
  return *std::move(digest);
}

std::string upload_key(const core::UploadId& id) { return join({kUploadsDir, id.str()}); }

std::optional<core::UploadId> parse_upload_name(std::string_view name) {
  auto id = core::UploadId::parse(name);
  if (!id) {
    return std::nullopt;
  }
  return *std::move(id);
}

std::string upload_object_prefix(const core::UploadId& id) {
  return join({kUploadsDir, id.str()}) + "/";
}

std::string upload_marker_key(const core::UploadId& id) {
  return upload_object_prefix(id) + std::string(kMarkerName);
}

std::string upload_piece_key(const core::UploadId& id, std::uint32_t index) {
  std::string digits = std::to_string(index);
  if (digits.size() < kPieceDigits) {
    digits.insert(0, kPieceDigits - digits.size(), '0');
  }
  return upload_object_prefix(id) + std::string(kPiecePrefix) + digits;
}

std::optional<UploadObject> parse_upload_object_key(std::string_view key) {
  const std::string uploads = std::string(kUploadsDir) + "/";
  if (!key.starts_with(uploads)) {
    return std::nullopt;
  }
  key.remove_prefix(uploads.size());
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  auto id = core::UploadId::parse(key.substr(0, slash));
  if (!id) {
    return std::nullopt;
  }
  const std::string_view name = key.substr(slash + 1);
  if (name == kMarkerName) {
    return UploadObject{*std::move(id), std::nullopt};
  }
  if (!name.starts_with(kPiecePrefix) || name.size() != kPiecePrefix.size() + kPieceDigits) {
    return std::nullopt;
  }
  std::uint32_t index = 0;
  for (char c : name.substr(kPiecePrefix.size())) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    index = index * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return UploadObject{*std::move(id), index};
}

std::string new_tmp_key() {
  std::string name(kTmpPrefix);
  name.append(core::UploadId::generate().str());
  return join({kTmpDir, name});
}

}  // namespace berth::storage::layout
