// Names and bytes the registry, store and lifecycle tests build their cases from.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "core/digest.hpp"
#include "core/names.hpp"
#include "meta/metadata_store.hpp"

namespace berth::testing {

// A repository name the test knows is valid (value() throws if it is not).
inline core::RepositoryName repo(std::string_view name) {
  return core::RepositoryName::parse(name).value();
}

inline std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// A blob reference to `content`'s digest and size.
inline meta::BlobRef blob(std::string_view content) {
  return meta::BlobRef{core::Digest::of(content), content.size()};
}

// An OCI descriptor's JSON.
inline std::string descriptor(std::string_view media_type, const core::Digest& digest,
                              std::size_t size) {
  return R"({"mediaType":")" + std::string(media_type) + R"(","digest":")" + digest.str() +
         R"(","size":)" + std::to_string(size) + "}";
}

}  // namespace berth::testing
