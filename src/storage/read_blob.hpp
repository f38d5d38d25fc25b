// Reading a small blob (a manifest, an image config) whole into memory, bounded: what callers
// that parse a blob need, said once. Blocking.
#pragma once

#include <cstdint>
#include <string>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "storage/blob_store.hpp"

namespace berth::storage {

// The bytes of `digest`. kBlobUnknown when the store has none; kTooLarge when the blob is
// larger than `limit` (then nothing is read); kInternal when it is shorter than its size.
[[nodiscard]] Result<std::string> read_blob(BlobStore& blobs, const core::Digest& digest,
                                            std::uint64_t limit);

// The same from a reader already open (`digest` names it in errors).
[[nodiscard]] Result<std::string> read_blob(BlobReader& reader, const core::Digest& digest,
                                            std::uint64_t limit);

}  // namespace berth::storage
