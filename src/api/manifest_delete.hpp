// Deleting a manifest or a tag as the API allows it, for the v2 DELETE and the browse API's
// bulk delete alike: the caller has checked the delete right; this adds the rule that
// removing an immutable tag (the tag itself, or by digest any tag on the manifest) needs an
// administrator when access control is on, then deletes through the registry.
#pragma once

#include "api/context.hpp"
#include "core/names.hpp"

namespace berth::api {

// Blocking. DENIED for an immutable tag; the registry's errors otherwise (MANIFEST_UNKNOWN).
[[nodiscard]] core::Result<void> delete_manifest_checked(RequestContext& ctx,
                                                         const core::RepositoryName& repo,
                                                         const core::Reference& reference);

}  // namespace berth::api
