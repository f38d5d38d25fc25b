// An in-memory BlobStore for tests: fast, hermetic, and held to the same contract suite as
// the filesystem driver.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "storage/blob_store.hpp"

namespace berth::testing {

// The clock stamps uploads' modification times (list_uploads); it must outlive the store.
std::unique_ptr<storage::BlobStore> make_memory_blob_store(const core::Clock& clock);

}  // namespace berth::testing
