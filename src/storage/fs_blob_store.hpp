// The filesystem BlobStore driver: blobs and uploads as files under one root directory, in
// the layout of storage/layout.hpp. Publishing is write to a temporary file, fsync, rename,
// fsync the directory.
#pragma once

#include <filesystem>
#include <memory>

#include "core/clock.hpp"
#include "storage/blob_store.hpp"

namespace berth::storage {

// Creates the directories it needs under root. Fails with kInternal if root is unusable.
[[nodiscard]] Result<std::unique_ptr<BlobStore>> open_fs_blob_store(
    const std::filesystem::path& root);

}  // namespace berth::storage
