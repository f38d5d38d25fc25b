#include "api/manifest_delete.hpp"

#include <optional>
#include <string>
#include <vector>

#include "meta/policy_store.hpp"

namespace berth::api {

namespace {

// The immutable tag a delete would remove, if any: the tag itself, or (by digest) any tag on
// the manifest, since deleting a manifest deletes its tags.
core::Result<std::optional<std::string>> immutable_tag_removed(RequestContext& ctx,
                                                               const core::RepositoryName& repo,
                                                               const core::Reference& reference) {
  std::vector<core::Tag> tags;
  if (reference.is_tag()) {
    tags.push_back(reference.tag());
  } else if (auto* policies = ctx.services().policies; policies != nullptr) {
    auto on_manifest = policies->tags_of(repo, reference.digest());
    if (!on_manifest) {
      return std::unexpected(on_manifest.error());
    }
    tags = std::move(*on_manifest);
  }
  for (const auto& tag : tags) {
    auto immutable = ctx.registry().tag_is_immutable(repo, tag);
    if (!immutable) {
      return std::unexpected(immutable.error());
    }
    if (*immutable) {
      return std::optional<std::string>(tag.str());
    }
  }
  return std::optional<std::string>();
}

}  // namespace

core::Result<void> delete_manifest_checked(RequestContext& ctx, const core::RepositoryName& repo,
                                           const core::Reference& reference) {
  // Deleting an immutable tag needs an administrator: immutability is an administrator's rule
  // (as quotas are), and an owner who could delete such a tag could push it again over it.
  auto immutable = immutable_tag_removed(ctx, repo, reference);
  if (!immutable) {
    return std::unexpected(immutable.error());
  }
  if (*immutable && ctx.access().enabled() && !ctx.identity.admin) {
    return core::fail(core::ErrorCode::kDenied,
                      "tag '" + **immutable + "' of " + repo.str() +
                          " is immutable: deleting it needs an administrator");
  }
  return ctx.registry().delete_manifest(repo, reference, [&ctx] { return ctx.event_origin(); });
}

}  // namespace berth::api
