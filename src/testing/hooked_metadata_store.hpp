// A MetadataStore decorator that runs a test's hook just before every call that links a blob
// (link_blob, mount_blob, complete_upload, put_manifest), so that a test can put a garbage
// collection step exactly between a push's publication of bytes and its link: the races of the
// tombstone protocol (meta/gc_store.hpp), forced in order instead of hoped for. Everything
// else is passed through.
#pragma once

#include <functional>
#include <string_view>

#include "meta/metadata_store.hpp"

namespace berth::testing {

class HookedMetadataStore final : public meta::MetadataStore {
 public:
  explicit HookedMetadataStore(meta::MetadataStore& inner) : inner_(inner) {}

  using meta::MetadataStore::delete_manifest;
  using meta::MetadataStore::delete_tag;
  using meta::MetadataStore::mount_blob;

  // Called with the method's name ("link_blob", "mount_blob", "complete_upload",
  // "put_manifest") before the call reaches the inner store. Not thread-safe to change while
  // calls are made.
  std::function<void(std::string_view method)> before_link;

  core::Result<bool> repository_exists(const core::RepositoryName& repo) override {
    return inner_.repository_exists(repo);
  }
  core::Result<std::vector<std::string>> list_repositories(const std::string& after,
                                                           std::size_t limit) override {
    return inner_.list_repositories(after, limit);
  }
  core::Result<void> ping() override { return inner_.ping(); }
  core::Result<std::optional<std::uint64_t>> linked_blob(const core::RepositoryName& repo,
                                                         const core::Digest& digest) override {
    return inner_.linked_blob(repo, digest);
  }
  core::Result<std::optional<std::uint64_t>> known_blob(const core::Digest& digest) override {
    return inner_.known_blob(digest);
  }
  core::Result<void> link_blob(const core::RepositoryName& repo, const meta::BlobRef& blob,
                               core::TimePoint now) override {
    hook("link_blob");
    return inner_.link_blob(repo, blob, now);
  }
  core::Result<std::optional<std::uint64_t>> mount_blob(
      const core::RepositoryName& repo, const core::Digest& digest,
      const core::RepositoryName& from, core::TimePoint now,
      const std::vector<meta::OutboxEvent>& events) override {
    hook("mount_blob");
    return inner_.mount_blob(repo, digest, from, now, events);
  }
  core::Result<bool> unlink_blob(const core::RepositoryName& repo,
                                 const core::Digest& digest) override {
    return inner_.unlink_blob(repo, digest);
  }
  core::Result<meta::BlobUnlink> unlink_unused_blob(const core::RepositoryName& repo,
                                                    const core::Digest& digest) override {
    return inner_.unlink_unused_blob(repo, digest);
  }
  core::Result<meta::ManifestPutOutcome> put_manifest(const meta::ManifestPut& put) override {
    hook("put_manifest");
    return inner_.put_manifest(put);
  }
  core::Result<std::optional<meta::ManifestRecord>> get_manifest(
      const core::RepositoryName& repo, const core::Digest& digest) override {
    return inner_.get_manifest(repo, digest);
  }
  core::Result<std::optional<meta::ManifestRecord>> resolve_tag(const core::RepositoryName& repo,
                                                                const core::Tag& tag) override {
    return inner_.resolve_tag(repo, tag);
  }
  core::Result<bool> delete_manifest(const core::RepositoryName& repo, const core::Digest& digest,
                                     const std::vector<meta::OutboxEvent>& events) override {
    return inner_.delete_manifest(repo, digest, events);
  }
  core::Result<bool> delete_tag(const core::RepositoryName& repo, const core::Tag& tag,
                                const std::vector<meta::OutboxEvent>& events) override {
    return inner_.delete_tag(repo, tag, events);
  }
  core::Result<std::vector<std::string>> list_tags(const core::RepositoryName& repo,
                                                   const std::string& after,
                                                   std::size_t limit) override {
    return inner_.list_tags(repo, after, limit);
  }
  core::Result<std::vector<meta::ManifestRecord>> referrers(
      const core::RepositoryName& repo, const core::Digest& subject,
      const std::optional<std::string>& artifact_type) override {
    return inner_.referrers(repo, subject, artifact_type);
  }
  core::Result<void> create_upload(const meta::UploadRecord& upload) override {
    return inner_.create_upload(upload);
  }
  core::Result<std::optional<meta::UploadRecord>> get_upload(const core::UploadId& id) override {
    return inner_.get_upload(id);
  }
  core::Result<void> update_upload(const core::UploadId& id, std::uint64_t size,
                                   const std::string& hash_state, core::TimePoint now) override {
    return inner_.update_upload(id, size, hash_state, now);
  }
  core::Result<void> complete_upload(const core::UploadId& id, const meta::BlobRef& blob,
                                     core::TimePoint now) override {
    hook("complete_upload");
    return inner_.complete_upload(id, blob, now);
  }
  core::Result<void> touch_upload(const core::UploadId& id, core::TimePoint now) override {
    return inner_.touch_upload(id, now);
  }
  core::Result<bool> delete_stale_upload(const core::UploadId& id,
                                         core::TimePoint cutoff) override {
    return inner_.delete_stale_upload(id, cutoff);
  }
  core::Result<void> delete_upload(const core::UploadId& id) override {
    return inner_.delete_upload(id);
  }
  core::Result<std::vector<meta::UploadRecord>> stale_uploads(core::TimePoint cutoff) override {
    return inner_.stale_uploads(cutoff);
  }

 private:
  void hook(std::string_view method) {
    if (before_link) {
      before_link(method);
    }
  }

  meta::MetadataStore& inner_;
};

}  // namespace berth::testing
