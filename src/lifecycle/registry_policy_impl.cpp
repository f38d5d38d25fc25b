// Quotas, immutable tags and pull recording for the registry (see registry_policy_impl.hpp).
#include "lifecycle/registry_policy_impl.hpp"

#include <cstdio>
#include <utility>

#include "util/plural.hpp"

namespace berth::lifecycle {
namespace {

using core::ErrorCode;

// Not `quoted`: with <iomanip> in the same unit, ADL picks std::quoted for a std::string.
std::string single_quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

using util::count_of;

std::string byte_count(std::uint64_t n) { return count_of(n, "byte", "bytes"); }
std::string repository_count(std::uint64_t n) { return count_of(n, "repository", "repositories"); }

}  // namespace

core::Result<std::vector<TagPattern>> RegistryPolicyImpl::immutable_patterns(
    const meta::ProjectSettings& settings) {
  return parse_tag_patterns(settings.immutable_tags, "immutable_tags");
}

core::Result<void> RegistryPolicyImpl::check_quota(const meta::ProjectSettings& settings,
                                                   const core::RepositoryName& repo,
                                                   const core::Digest& digest, std::uint64_t size) {
  if (!settings.quota_bytes && !settings.quota_repositories) {
    return {};
  }
  const std::string project(repo.project());
  auto usage = store_.usage(project);
  if (!usage) {
    return std::unexpected(usage.error());
  }
  if (settings.quota_repositories) {
    auto counted = store_.repository_counted(repo);
    if (!counted) {
      return std::unexpected(counted.error());
    }
    const auto quota = *settings.quota_repositories;
    if (!*counted && usage->repositories + 1 > quota) {
      return core::fail(ErrorCode::kDenied, core::ErrorReason::kQuotaExceeded,
                        "quota exceeded: project " + single_quoted(project) + " may hold " +
                            repository_count(quota) + " and holds " +
                            std::to_string(usage->repositories) + "; pushing into " +
                            single_quoted(repo.str()) + " would exceed the quota by " +
                            repository_count(usage->repositories + 1 - quota) +
                            "; delete one or ask an owner to raise the quota");
    }
  }
  if (settings.quota_bytes) {
    auto counted = store_.counted(project, digest);
    if (!counted) {
      return std::unexpected(counted.error());
    }
    const auto quota = *settings.quota_bytes;
    // A digest the project already holds costs nothing more.
    if (!*counted && usage->bytes + size > quota) {
      const auto over = usage->bytes + size - quota;
      return core::fail(ErrorCode::kDenied, core::ErrorReason::kQuotaExceeded,
                        "quota exceeded: project " + single_quoted(project) + " may store " +
                            byte_count(quota) + " (" + human_bytes(quota) + ") and stores " +
                            byte_count(usage->bytes) + "; this push of " + byte_count(size) +
                            " would exceed the quota by " + byte_count(over) + " (" +
                            human_bytes(over) + ")");
    }
  }
  return {};
}

core::Result<void> RegistryPolicyImpl::check_blob(const core::RepositoryName& repo,
                                                  const core::Digest& digest, std::uint64_t size) {
  auto settings = store_.settings(std::string(repo.project()));
  if (!settings) {
    return std::unexpected(settings.error());
  }
  return check_quota(*settings, repo, digest, size);
}

core::Result<void> RegistryPolicyImpl::check_manifest(const core::RepositoryName& repo,
                                                      const core::Digest& digest,
                                                      std::uint64_t size,
                                                      const std::vector<core::Tag>& tags) {
  auto settings = store_.settings(std::string(repo.project()));
  if (!settings) {
    return std::unexpected(settings.error());
  }
  if (!settings->immutable_tags.empty() && !tags.empty()) {
    auto patterns = immutable_patterns(*settings);
    if (!patterns) {
      return std::unexpected(patterns.error());
    }
    for (const auto& tag : tags) {
      const auto* pattern = first_match(*patterns, tag.str());
      if (pattern == nullptr) {
        continue;
      }
      auto current = metadata_.resolve_tag(repo, tag);
      if (!current) {
        return std::unexpected(current.error());
      }
      // Putting the same manifest again is no change, so it is allowed.
      if (*current && (*current)->digest != digest) {
        return core::fail(ErrorCode::kDenied,
                          "tag " + single_quoted(tag.str()) + " of " + single_quoted(repo.str()) +
                              " is immutable (project pattern " + single_quoted(pattern->str()) +
                              ") and already names " + (*current)->digest.str() +
                              "; push under a new tag");
      }
    }
  }
  return check_quota(*settings, repo, digest, size);
}

core::Result<std::optional<registry::ByteRoom>> RegistryPolicyImpl::byte_room(
    const core::RepositoryName& repo, const std::optional<core::Digest>& digest) {
  const std::string project(repo.project());
  auto settings = store_.settings(project);
  if (!settings) {
    return std::unexpected(settings.error());
  }
  if (!settings->quota_bytes) {
    return std::optional<registry::ByteRoom>();
  }
  if (digest) {
    auto counted = store_.counted(project, *digest);
    if (!counted) {
      return std::unexpected(counted.error());
    }
    if (*counted) {
      return std::optional<registry::ByteRoom>();
    }
  }
  auto usage = store_.usage(project);
  if (!usage) {
    return std::unexpected(usage.error());
  }
  return std::optional(registry::ByteRoom{*settings->quota_bytes, usage->bytes});
}

core::Result<bool> RegistryPolicyImpl::tag_is_immutable(const core::RepositoryName& repo,
                                                        const core::Tag& tag) {
  auto settings = store_.settings(std::string(repo.project()));
  if (!settings) {
    return std::unexpected(settings.error());
  }
  auto patterns = immutable_patterns(*settings);
  if (!patterns) {
    return std::unexpected(patterns.error());
  }
  return first_match(*patterns, tag.str()) != nullptr;
}

void RegistryPolicyImpl::record_pull(const core::RepositoryName& repo, const core::Digest& digest,
                                     const std::optional<core::Tag>& tag) {
  const auto now = clock_.now();
  std::string key = repo.str();
  key += '\n';
  key += digest.str();
  key += '\n';
  if (tag) {
    key += tag->str();
  }
  std::lock_guard lock(pulls_mutex_);
  auto [it, inserted] =
      pulls_.try_emplace(std::move(key), meta::PullRecord{repo, digest, tag, 0, now});
  ++it->second.count;
  it->second.last = std::max(it->second.last, now);
}

core::Result<std::size_t> RegistryPolicyImpl::flush() {
  std::unordered_map<std::string, meta::PullRecord> taken;
  {
    std::lock_guard lock(pulls_mutex_);
    taken.swap(pulls_);
  }
  if (taken.empty()) {
    return 0;
  }
  std::vector<meta::PullRecord> batch;
  batch.reserve(taken.size());
  for (const auto& [key, record] : taken) {
    batch.push_back(record);
  }
  if (auto written = store_.record_pulls(batch); !written) {
    // Put them back, merged with what arrived meanwhile, for the next flush.
    std::lock_guard lock(pulls_mutex_);
    for (auto& [key, record] : taken) {
      auto [it, inserted] = pulls_.try_emplace(key, record);
      if (!inserted) {
        it->second.count += record.count;
        it->second.last = std::max(it->second.last, record.last);
      }
    }
    return std::unexpected(written.error());
  }
  return batch.size();
}

std::size_t RegistryPolicyImpl::pending() const {
  std::lock_guard lock(pulls_mutex_);
  return pulls_.size();
}

}  // namespace berth::lifecycle
