#include "registry/registry.hpp"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "core/human_bytes.hpp"
#include "core/manifest.hpp"
#include "core/media_type.hpp"
#include "registry/manifest_platforms.hpp"
#include "registry/upload_session.hpp"
#include "storage/read_blob.hpp"

namespace berth::registry {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::size_t kRehashBuffer = 1 << 20;

// Feeds `hasher` the stored bytes from where it stands (hasher.size()) up to `end`, or to the
// end of what is stored if that comes first.
Result<void> hash_stored(storage::BlobReader& reader, core::Hasher& hasher, std::uint64_t end) {
  std::vector<std::byte> buffer(kRehashBuffer);
  while (hasher.size() < end) {
    const auto want = std::min<std::uint64_t>(buffer.size(), end - hasher.size());
    auto n = reader.read_at(hasher.size(), std::span(buffer).first(want));
    if (!n) {
      return std::unexpected(n.error());
    }
    if (*n == 0) {
      break;
    }
    hasher.update(buffer.data(), *n);
  }
  return {};
}

Result<void> ok() { return {}; }

}  // namespace

// ---------------------------------------------------------------- Registry

Registry::Registry(storage::BlobStore& blobs, meta::MetadataStore& meta, const core::Clock& clock,
                   RegistryOptions options, RegistryPolicy* policy)
    : blobs_(blobs),
      meta_(meta),
      clock_(clock),
      options_(options),
      policy_(policy),
      manifest_cache_(options.manifest_cache_bytes) {}

Result<void> Registry::admit_blob(const core::RepositoryName& repo, const core::Digest& digest,
                                  std::uint64_t size) {
  return policy_ != nullptr ? policy_->check_blob(repo, digest, size) : ok();
}

Result<void> Registry::admit_upload(const core::RepositoryName& repo, const core::Digest& digest,
                                    std::uint64_t size) {
  if (options_.max_blob_bytes != 0 && size > options_.max_blob_bytes) {
    return fail(ErrorCode::kTooLarge,
                "the blob is larger than this registry accepts: " + std::to_string(size) +
                    " bytes announced, uploads.max_size is " +
                    std::to_string(options_.max_blob_bytes) + " bytes (" +
                    core::human_bytes(options_.max_blob_bytes) + ")");
  }
  BERTH_TRY(check_free_space(size));
  return admit_blob(repo, digest, size);
}

Result<void> Registry::check_free_space(std::uint64_t incoming) {
  if (options_.min_free_bytes == 0) {
    return ok();
  }
  auto free = blobs_.free_bytes();
  if (!free) {
    return std::unexpected(free.error());
  }
  if (!*free || **free >= options_.min_free_bytes + incoming) {
    return ok();
  }
  // Not a failure of this request: the message is for the client too, and the client may come
  // back once an operator has made room.
  core::Error low{
      ErrorCode::kUnavailable,
      "the registry's storage is almost full (" + core::human_bytes(**free) +
          " free, storage.min_free is " + core::human_bytes(options_.min_free_bytes) +
          (incoming == 0 ? std::string() : ", and this upload is " + core::human_bytes(incoming)) +
          "): new uploads are refused until images are deleted and garbage is "
          "collected",
      {}};
  low.retry_after = std::chrono::seconds(60);
  low.reason = core::ErrorReason::kStorageLow;
  return std::unexpected(std::move(low));
}

Result<bool> Registry::tag_is_immutable(const core::RepositoryName& repo, const core::Tag& tag) {
  return policy_ != nullptr ? policy_->tag_is_immutable(repo, tag) : Result<bool>(false);
}

Registry::~Registry() = default;

// ---- blobs

Result<BlobStat> Registry::stat_blob(const core::RepositoryName& repo, const core::Digest& digest) {
  auto size = meta_.linked_blob(repo, digest);
  if (!size) {
    return std::unexpected(size.error());
  }
  if (!*size) {
    return fail(ErrorCode::kBlobUnknown, "blob unknown to this repository",
                "\"" + digest.str() + "\"");
  }
  return BlobStat{digest, **size};
}

Result<std::unique_ptr<storage::BlobReader>> Registry::open_blob(const core::RepositoryName& repo,
                                                                 const core::Digest& digest) {
  auto stat = stat_blob(repo, digest);
  if (!stat) {
    return std::unexpected(stat.error());
  }
  return blobs_.open(digest);
}

Result<std::optional<std::string>> Registry::blob_url(const core::RepositoryName& repo,
                                                      const core::Digest& digest) {
  // Asked first: it costs no I/O, and most stores have none (then no metadata lookup either).
  auto url = blobs_.presigned_url(digest);
  if (!url) {
    return std::nullopt;
  }
  if (auto stat = stat_blob(repo, digest); !stat) {
    return std::unexpected(stat.error());
  }
  return url;
}

Result<void> Registry::delete_blob(const core::RepositoryName& repo, const core::Digest& digest) {
  auto unlinked = meta_.unlink_unused_blob(repo, digest);
  if (!unlinked) {
    return std::unexpected(unlinked.error());
  }
  const std::string detail = "\"" + digest.str() + "\"";
  switch (unlinked->outcome) {
    case meta::BlobUnlink::Outcome::kUnlinked:
      return ok();
    case meta::BlobUnlink::Outcome::kNotLinked:
      return fail(ErrorCode::kBlobUnknown, "blob unknown to this repository", detail);
    case meta::BlobUnlink::Outcome::kManifest:
      // As Distribution: the blob endpoint never removes a manifest (that would leave its tags
      // naming a manifest without bytes).
      return fail(ErrorCode::kBlobUnknown,
                  digest.str() + " is a manifest of " + repo.str() +
                      ", not a blob; delete it with DELETE /v2/" + repo.str() + "/manifests/" +
                      digest.str(),
                  detail);
    case meta::BlobUnlink::Outcome::kInUse:
      break;
  }
  const std::string image =
      repo.str() + (unlinked->user_tag ? ":" + *unlinked->user_tag : "@" + unlinked->user->str());
  const auto others = unlinked->users - 1;
  return fail(
      ErrorCode::kBlobInUse,
      "blob " + digest.str() + " is used by image " + image +
          (others == 0
               ? std::string()
               : " and " + std::to_string(others) + " other manifest" + (others == 1 ? "" : "s")) +
          " of this repository: deleting it would break " + (others == 0 ? "that image" : "them") +
          "; delete the images instead, and garbage collection removes the blob once "
          "none uses it",
      detail);
}

// ---- uploads

Result<core::UploadId> Registry::start_upload(const core::RepositoryName& repo) {
  BERTH_TRY(check_free_space(0));
  auto id = core::UploadId::generate();
  if (auto created = blobs_.create_upload(id); !created) {
    return std::unexpected(created.error());
  }
  auto now = clock_.now();
  if (auto recorded = meta_.create_upload(meta::UploadRecord{id, repo, now, now, 0, ""});
      !recorded) {
    (void)blobs_.delete_upload(id);
    return std::unexpected(recorded.error());
  }
  return id;
}

Result<UploadLease> Registry::start_single_request_upload(const core::RepositoryName& repo) {
  return start_upload_lease(repo, std::nullopt, false);
}

Result<UploadLease> Registry::start_single_request_upload(const core::RepositoryName& repo,
                                                          const core::Digest& claimed) {
  return start_upload_lease(repo, claimed, true);
}

Result<UploadLease> Registry::start_upload_lease(const core::RepositoryName& repo,
                                                 const std::optional<core::Digest>& claimed,
                                                 bool quota_bound) {
  BERTH_TRY(check_free_space(0));
  auto id = core::UploadId::generate();
  auto session = std::make_shared<UploadSession>(id, repo, false);
  auto bounds = bounds_for(*session, claimed, quota_bound);
  if (!bounds) {
    return std::unexpected(bounds.error());
  }
  if (auto created = blobs_.create_upload(id); !created) {
    return std::unexpected(created.error());
  }
  session->leased = true;
  auto writer = blobs_.append_upload(id);
  if (!writer) {
    (void)blobs_.delete_upload(id);
    return std::unexpected(writer.error());
  }
  return UploadLease(this, std::move(session), std::move(*writer), std::move(*bounds));
}

Result<UploadBounds> Registry::bounds_for(const UploadSession& session,
                                          const std::optional<core::Digest>& claimed,
                                          bool quota_bound) {
  UploadBounds bounds;
  bounds.start_size = session.size.load();
  bounds.start_hasher = session.hasher;
  bounds.max_size = options_.max_blob_bytes;
  if (policy_ != nullptr && quota_bound) {
    auto room = policy_->byte_room(session.repository, claimed);
    if (!room) {
      return std::unexpected(room.error());
    }
    bounds.room = *room;
  }
  return bounds;
}

Result<std::shared_ptr<UploadSession>> Registry::session_for(const core::RepositoryName& repo,
                                                             const core::UploadId& id) {
  {
    std::lock_guard lock(sessions_mutex_);
    if (auto it = sessions_.find(id.str()); it != sessions_.end()) {
      if (it->second->repository != repo) {
        return fail(ErrorCode::kBlobUploadUnknown, "upload unknown to this repository");
      }
      return it->second;
    }
  }
  auto record = meta_.get_upload(id);
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record || (*record)->repository != repo) {
    return fail(ErrorCode::kBlobUploadUnknown, "upload unknown to this repository");
  }
  // Not kept here until leased (lease() adopts whichever session is kept by then).
  auto session = std::make_shared<UploadSession>(id, repo, true);
  session->size = kUnknownSize;
  session->saved_hash_state = std::move((*record)->hash_state);
  session->touched = (*record)->updated;
  return session;
}

Result<UploadLease> Registry::lease(std::shared_ptr<UploadSession> session) {
  {
    std::lock_guard lock(sessions_mutex_);
    // One session per upload in this process: a request that found none, or one released and
    // forgotten since, puts its own; otherwise it takes the one kept.
    session = sessions_.try_emplace(session->id.str(), session).first->second;
    if (session->leased) {
      return fail(ErrorCode::kBlobUploadInvalid, "upload is in use by another request");
    }
    if (session->published) {
      return fail(ErrorCode::kBlobUploadInvalid,
                  "upload was completed; start a new one to push the blob again");
    }
    session->leased = true;
  }
  // Before any byte is written: a purge that claimed the upload first wins, one that comes
  // later spares it.
  if (auto active = keep_active(*session); !active) {
    release(*session);
    return std::unexpected(active.error());
  }
  auto writer = blobs_.append_upload(session->id);
  if (!writer) {
    release(*session);
    return std::unexpected(writer.error());
  }
  // Another process (a replica, or this one before a restart) may have written bytes this hash
  // state has not seen.
  std::uint64_t rehashed = 0;
  if (session->broken || session->size.load() != (*writer)->size()) {
    auto caught_up = catch_up(*session, (*writer)->size());
    if (!caught_up) {
      release(*session);
      return std::unexpected(caught_up.error());
    }
    rehashed = *caught_up;
  }
  // A resumable upload's digest comes with its last request: its bytes are bounded by the quota.
  auto bounds = bounds_for(*session, std::nullopt, true);
  if (!bounds) {
    release(*session);
    return std::unexpected(bounds.error());
  }
  UploadLease lease(this, std::move(session), std::move(*writer), std::move(*bounds));
  lease.rehashed_ = rehashed;
  return lease;
}

Result<std::uint64_t> Registry::catch_up(UploadSession& session, std::uint64_t stored) {
  core::Hasher hasher;
  if (!session.saved_hash_state.empty()) {
    // A state of a format this build does not read, or of more bytes than are stored, is no
    // use: the bytes are hashed from the start instead. One of fewer bytes is: the stored
    // bytes before it never change (an upload only grows, or is cut back to what a client was
    // told, which the record never passed).
    auto saved = core::Hasher::restore(session.saved_hash_state);
    if (saved && saved->algorithm() == hasher.algorithm() && saved->size() <= stored) {
      hasher = std::move(*saved);
    }
  }
  const std::uint64_t from = hasher.size();
  if (from < stored) {
    auto reader = blobs_.read_upload(session.id);
    if (!reader) {
      return std::unexpected(reader.error());
    }
    BERTH_TRY(hash_stored(**reader, hasher, stored));
  }
  session.size = hasher.size();
  session.hasher = std::move(hasher);
  session.broken = false;
  return session.size.load() - from;
}

Result<void> Registry::keep_active(UploadSession& session) {
  const auto now = clock_.now();
  if (!session.recorded || now - session.touched < options_.upload_touch_interval) {
    return {};
  }
  BERTH_TRY(meta_.touch_upload(session.id, now));
  session.touched = now;
  return {};
}

void Registry::release(UploadSession& session) {
  std::lock_guard lock(sessions_mutex_);
  session.leased = false;
  // A published session stays known, so that nobody here leases it again (purging deletes
  // it). Any other one is forgotten: its record holds its size and hash state, and the next
  // request for it may come to any replica, so a copy kept here could only grow stale.
  auto it = sessions_.find(session.id.str());
  if (!session.published && it != sessions_.end() && it->second.get() == &session) {
    sessions_.erase(it);
  }
}

void Registry::forget_session(const core::UploadId& id) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.erase(id.str());
}

Result<UploadLease> Registry::open_upload(const core::RepositoryName& repo,
                                          const core::UploadId& id) {
  auto session = session_for(repo, id);
  if (!session) {
    return std::unexpected(session.error());
  }
  return lease(std::move(*session));
}

Result<std::uint64_t> Registry::upload_size(const core::RepositoryName& repo,
                                            const core::UploadId& id) {
  auto session = session_for(repo, id);
  if (!session) {
    return std::unexpected(session.error());
  }
  auto size = (*session)->size.load();
  if (size != kUnknownSize) {
    return size;
  }
  auto reader = blobs_.read_upload(id);
  if (!reader) {
    return std::unexpected(reader.error());
  }
  return (*reader)->size();
}

Result<std::unique_ptr<storage::BlobReader>> Registry::read_upload(const core::UploadId& id) {
  return blobs_.read_upload(id);
}

Result<void> Registry::save_upload(UploadLease& lease) {
  // A driver may hold appended bytes in memory (S3): they reach storage before the size that
  // includes them is recorded, and so before any replica can be told it.
  if (auto flushed = lease.writer_->flush(); !flushed) {
    lease.session_->broken = true;
    return flushed;
  }
  if (!lease.session_->recorded) {
    return ok();
  }
  const auto now = clock_.now();
  BERTH_TRY(meta_.update_upload(lease.id(), lease.size(), lease.session_->hasher.save(), now));
  lease.session_->touched = now;
  return ok();
}

Result<core::Digest> Registry::rehash_upload(const core::UploadId& id,
                                             core::DigestAlgorithm algorithm,
                                             std::uint64_t expected_size) {
  auto reader = blobs_.read_upload(id);
  if (!reader) {
    return std::unexpected(reader.error());
  }
  core::Hasher hasher(algorithm);
  BERTH_TRY(hash_stored(**reader, hasher, expected_size));
  if (hasher.size() < expected_size) {
    return fail(ErrorCode::kInternal, "upload is shorter than the bytes received");
  }
  return hasher.digest();
}

Result<BlobStat> Registry::finish_upload(UploadLease lease, const core::Digest& claimed) {
  auto finished = try_finish_upload(lease, claimed);
  if (lease.held()) {
    // Refused while a collection deletes the digest: no waiting here (a pool thread would
    // wait), the client tries again.
    abandon_upload(std::move(lease));
  }
  return finished;
}

Result<BlobStat> Registry::try_finish_upload(UploadLease& lease, const core::Digest& claimed) {
  auto& session = *lease.session_;
  const std::uint64_t size = session.size.load();
  core::Digest computed = session.hasher.digest();
  // What the writer holds in memory goes to storage before it is rehashed or published. A
  // second attempt (after kBlobBeingCollected) has no writer: it was flushed and published.
  if (auto flushed = lease.writer_ ? lease.writer_->flush() : ok(); !flushed) {
    session.broken = true;
    return std::unexpected(flushed.error());
  }
  if (claimed.algorithm() != session.hasher.algorithm()) {
    auto rehashed = rehash_upload(session.id, claimed.algorithm(), size);
    if (!rehashed) {
      lease.release();
      return std::unexpected(rehashed.error());
    }
    computed = std::move(*rehashed);
  }
  lease.writer_.reset();
  if (computed != claimed) {
    abandon_upload(std::move(lease));
    return fail(ErrorCode::kDigestInvalid,
                "digest does not match the uploaded content (" + std::to_string(size) +
                    " bytes with digest " + computed.str() + "); the upload was discarded",
                "\"" + claimed.str() + "\"");
  }
  if (auto admitted = admit_blob(session.repository, computed, size); !admitted) {
    // Over quota: the bytes would never be usable here, so the upload goes.
    abandon_upload(std::move(lease));
    return std::unexpected(admitted.error());
  }
  // The upload is kept until its link has committed, so that the bytes can be published again
  // if garbage collection takes them meanwhile.
  const core::UploadId id = session.id;
  const bool recorded = session.recorded;
  const meta::BlobRef blob{computed, size};
  bool published = false;
  auto linked = publish_then_link(
      computed, [&] { return blobs_.publish_upload(id, computed); },
      [&]() -> Result<bool> {
        auto done = recorded ? meta_.complete_upload(id, blob, clock_.now())
                             : meta_.link_blob(session.repository, blob, clock_.now());
        if (!done) {
          return std::unexpected(done.error());
        }
        return true;
      },
      published);
  if (published) {
    // The upload may share its storage with the blob now (a hard link): it must never be
    // appended to again, only published again or deleted.
    session.published = true;
  }
  if (!linked && linked.error().is(core::ErrorReason::kBlobBeingCollected)) {
    return std::unexpected(linked.error());  // the caller keeps the lease, to try again
  }
  if (!linked && !published) {
    // Nothing was published: the upload stays whole, and the client may retry.
    lease.release();
    return std::unexpected(linked.error());
  }
  if (!linked) {
    abandon_upload(std::move(lease));
    return std::unexpected(linked.error());
  }
  // complete_upload deleted the record in the linking transaction; the file goes now.
  forget_session(id);
  (void)blobs_.delete_upload(id);
  lease.release();
  return BlobStat{computed, size};
}

// The tombstone protocol of meta/gc_store.hpp, on the pushing side: one attempt. Bytes are
// published before the metadata links them (a crash in between leaves only unreferenced bytes
// for GC). While a collection is deleting the digest, the link is refused (reason
// kBlobBeingCollected): the collection may take the bytes just published, so the caller waits
// (off the blocking pool) and comes back to publish again and link. Once the link commits no
// collection can take the bytes any more (they are linked), but one may have taken them
// between the publication and the link (its tombstone was cleared just before the link): so
// look, and publish once more if they are gone.
Result<bool> Registry::publish_then_link(const core::Digest& digest,
                                         const std::function<Result<void>()>& publish,
                                         const std::function<Result<bool>()>& link,
                                         bool& published) {
  BERTH_TRY(publish());
  published = true;
  auto linked = link();
  if (!linked) {
    if (!linked.error().is(core::ErrorReason::kBlobBeingCollected)) {
      return std::unexpected(linked.error());
    }
    core::Error busy{
        ErrorCode::kUnavailable,
        "blob " + digest.str() + " is being garbage-collected; push it again in a moment",
        {}};
    busy.retry_after = std::chrono::seconds(1);
    busy.reason = core::ErrorReason::kBlobBeingCollected;
    return std::unexpected(std::move(busy));
  }
  if (!*linked) {
    return false;
  }
  auto present = blobs_.stat(digest);
  if (!present) {
    return std::unexpected(present.error());
  }
  if (!*present) {
    BERTH_TRY(publish());
  }
  return true;
}

Result<void> Registry::cancel_upload(const core::RepositoryName& repo, const core::UploadId& id) {
  auto session = session_for(repo, id);
  if (!session) {
    return std::unexpected(session.error());
  }
  {
    std::lock_guard lock(sessions_mutex_);
    if (auto it = sessions_.find(id.str()); it != sessions_.end() && it->second->leased) {
      return fail(ErrorCode::kBlobUploadInvalid, "upload is in use by another request");
    }
    sessions_.erase(id.str());
  }
  if (auto removed = blobs_.delete_upload(id); !removed) {
    return removed;
  }
  return meta_.delete_upload(id);
}

void Registry::abandon_upload(UploadLease lease) {
  auto id = lease.id();
  bool recorded = lease.session_->recorded;
  lease.writer_.reset();
  forget_session(id);
  (void)blobs_.delete_upload(id);
  if (recorded) {
    (void)meta_.delete_upload(id);
  }
}

Result<std::optional<BlobStat>> Registry::mount_blob(const core::RepositoryName& repo,
                                                     const core::Digest& digest,
                                                     const core::RepositoryName& from,
                                                     const EventOriginFn& origin) {
  auto size = meta_.linked_blob(from, digest);
  if (!size) {
    return std::unexpected(size.error());
  }
  if (!*size) {
    return std::optional<BlobStat>();
  }
  auto stored = blobs_.stat(digest);
  if (!stored) {
    return std::unexpected(stored.error());
  }
  if (!*stored) {
    return std::optional<BlobStat>();
  }
  if (auto admitted = admit_blob(repo, digest, **size); !admitted) {
    return std::unexpected(admitted.error());
  }
  // Linked only if `from` still links it, checked in the linking transaction: garbage
  // collection may have unlinked it and taken the bytes since we looked.
  const auto now = clock_.now();
  std::vector<meta::OutboxEvent> events;
  if (wants_event(meta::event_type::kMount, repo.project())) {
    auto event = make_event(meta::event_type::kMount, repo, now, origin);
    event.digest = digest.str();
    event.size = **size;
    event.detail_json = boost::json::serialize(boost::json::object{{"from", from.str()}});
    events.push_back(std::move(event));
  }
  auto mounted = meta_.mount_blob(repo, digest, from, now, events);
  if (!mounted) {
    return std::unexpected(mounted.error());
  }
  if (!*mounted) {
    return std::optional<BlobStat>();
  }
  return std::optional<BlobStat>(BlobStat{digest, **mounted});
}

Result<std::size_t> Registry::purge_stale_uploads(core::TimePoint cutoff) {
  std::size_t purged = 0;
  auto is_leased = [this](const core::UploadId& id) {
    std::lock_guard lock(sessions_mutex_);
    auto it = sessions_.find(id.str());
    return it != sessions_.end() && it->second->leased;
  };
  auto stale = meta_.stale_uploads(cutoff);
  if (!stale) {
    return std::unexpected(stale.error());
  }
  for (const auto& upload : *stale) {
    if (is_leased(upload.id)) {
      continue;
    }
    // Claimed in the database first: a request on another replica may have touched it since
    // it was listed (Registry::keep_active), and then it stays. Bytes whose record is gone
    // and whose deletion failed are taken by the sweep below next time.
    auto claimed = meta_.delete_stale_upload(upload.id, cutoff);
    if (!claimed) {
      return std::unexpected(claimed.error());
    }
    if (!*claimed) {
      continue;
    }
    forget_session(upload.id);
    if (auto removed = blobs_.delete_upload(upload.id); !removed) {
      return std::unexpected(removed.error());
    }
    ++purged;
  }
  // Files of uploads with no record: single-request uploads cut off by a crash.
  auto files = blobs_.list_uploads();
  if (!files) {
    return std::unexpected(files.error());
  }
  for (const auto& file : *files) {
    if (file.modified >= cutoff || is_leased(file.id)) {
      continue;
    }
    auto record = meta_.get_upload(file.id);
    if (!record) {
      return std::unexpected(record.error());
    }
    if (*record) {
      continue;  // recorded and recently updated: not stale
    }
    if (auto removed = blobs_.delete_upload(file.id); !removed) {
      return std::unexpected(removed.error());
    }
    ++purged;
  }
  return purged;
}

// ---- manifests

Result<PutManifestResult> Registry::put_manifest(const core::RepositoryName& repo,
                                                 const core::Reference& reference,
                                                 std::string bytes, std::string_view content_type,
                                                 const std::vector<core::Tag>& extra_tags,
                                                 const EventOriginFn& origin) {
  return store_manifest(repo, reference, std::move(bytes), content_type, extra_tags, false,
                        &origin);
}

Result<PutManifestResult> Registry::cache_manifest(const core::RepositoryName& repo,
                                                   const core::Reference& reference,
                                                   std::string bytes,
                                                   std::string_view content_type) {
  // A cached copy of an upstream image is no push: no event.
  return store_manifest(repo, reference, std::move(bytes), content_type, {}, true, nullptr);
}

Result<PutManifestResult> Registry::store_manifest(const core::RepositoryName& repo,
                                                   const core::Reference& reference,
                                                   std::string bytes, std::string_view content_type,
                                                   const std::vector<core::Tag>& extra_tags,
                                                   bool partial, const EventOriginFn* origin) {
  if (bytes.size() > options_.max_manifest_bytes) {
    return fail(ErrorCode::kTooLarge, "manifest is larger than " +
                                          std::to_string(options_.max_manifest_bytes) + " bytes");
  }
  auto manifest = core::parse_manifest(bytes, content_type);
  if (!manifest) {
    return std::unexpected(manifest.error());
  }
  auto algorithm =
      reference.is_digest() ? reference.digest().algorithm() : core::DigestAlgorithm::kSha256;
  auto digest = core::Digest::of(bytes, algorithm);
  if (reference.is_digest() && reference.digest() != digest) {
    return fail(ErrorCode::kDigestInvalid,
                "manifest digest " + digest.str() + " does not match the reference",
                "\"" + reference.digest().str() + "\"");
  }

  meta::ManifestPut put{
      repo,
      meta::ManifestRecord{
          digest, manifest->media_type, bytes.size(), manifest->artifact_type,
          manifest->subject ? std::optional(manifest->subject->digest) : std::nullopt,
          manifest->annotations_json, clock_.now()},
      {},
      {},
      {}};
  for (const auto* blob : manifest->required_blobs()) {
    put.blobs.push_back(meta::BlobRef{blob->digest, static_cast<std::uint64_t>(blob->size)});
  }
  for (const auto& child : manifest->manifests) {
    put.children.push_back(child.digest);
  }
  put.platforms = manifest_platforms(*manifest, blobs_);
  if (reference.is_tag()) {
    put.tags.push_back(reference.tag());
  }
  put.tags.insert(put.tags.end(), extra_tags.begin(), extra_tags.end());
  std::size_t missing_references = 0;
  if (partial) {
    const std::size_t blob_count = put.blobs.size();
    const std::size_t child_count = put.children.size();
    // Only what is here already. The metadata store checks again in its transaction, so a
    // reference that vanishes in between (garbage collection) still refuses the put.
    std::vector<meta::BlobRef> present_blobs;
    for (auto& blob : put.blobs) {
      auto linked = meta_.linked_blob(repo, blob.digest);
      if (!linked) {
        return std::unexpected(linked.error());
      }
      if (*linked) {
        present_blobs.push_back(std::move(blob));
      }
    }
    put.blobs = std::move(present_blobs);
    std::vector<core::Digest> present_children;
    for (auto& child : put.children) {
      auto found = meta_.get_manifest(repo, child);
      if (!found) {
        return std::unexpected(found.error());
      }
      if (*found) {
        present_children.push_back(std::move(child));
      }
    }
    put.children = std::move(present_children);
    missing_references = (blob_count - put.blobs.size()) + (child_count - put.children.size());
  }

  if (policy_ != nullptr) {
    if (auto allowed = policy_->check_manifest(repo, digest, bytes.size(), put.tags); !allowed) {
      return std::unexpected(allowed.error());
    }
    // The check above says which pattern a tag breaks; the store checks again in the put's
    // transaction, which two pushes of one new immutable tag cannot both pass, even from two
    // replicas.
    for (const auto& tag : put.tags) {
      auto immutable = policy_->tag_is_immutable(repo, tag);
      if (!immutable) {
        return std::unexpected(immutable.error());
      }
      if (*immutable) {
        put.fixed_tags.push_back(tag);
      }
    }
  }
  if (origin != nullptr && wants_event(meta::event_type::kPush, repo.project())) {
    put.events = push_events(put, *origin);
  }
  // Bytes first, then the metadata that makes them reachable: a crash in between leaves an
  // unreferenced blob for GC, never a manifest without bytes.
  // The tombstone protocol as for blobs (publish_then_link), with the bytes in memory.
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  std::optional<meta::ManifestPutOutcome> outcome;
  bool published = false;
  auto linked = publish_then_link(
      digest, [&] { return blobs_.put(digest, *shared); },
      [&]() -> Result<bool> {
        auto stored = meta_.put_manifest(put);
        if (!stored) {
          return std::unexpected(stored.error());
        }
        outcome = std::move(*stored);
        return outcome->stored();
      },
      published);
  if (!linked) {
    return std::unexpected(linked.error());
  }
  if (!outcome->missing_blobs.empty()) {
    const auto& missing = outcome->missing_blobs.front();
    return fail(ErrorCode::kManifestBlobUnknown,
                "manifest references blob " + missing.str() + ", which is not in this repository",
                "\"" + missing.str() + "\"");
  }
  if (!outcome->missing_children.empty()) {
    const auto& missing = outcome->missing_children.front();
    return fail(ErrorCode::kManifestBlobUnknown,
                "index references manifest " + missing.str() + ", which is not in this repository",
                "\"" + missing.str() + "\"");
  }
  if (!outcome->moved_fixed_tags.empty()) {
    const auto& moved = outcome->moved_fixed_tags.front();
    return fail(ErrorCode::kDenied, "tag '" + moved.tag.str() + "' of '" + repo.str() +
                                        "' is immutable and already names " + moved.current.str() +
                                        "; push under a new tag");
  }
  if (!outcome->wrong_size_blobs.empty()) {
    const auto& wrong = outcome->wrong_size_blobs.front();
    return fail(ErrorCode::kManifestInvalid, "manifest gives blob " + wrong.digest.str() +
                                                 " the size " + std::to_string(wrong.size) +
                                                 ", which is not its stored size");
  }
  manifest_cache_.put(digest.str(), std::move(shared));
  return PutManifestResult{digest, put.manifest.subject, missing_references};
}

Result<meta::ManifestRecord> Registry::resolve(const core::RepositoryName& repo,
                                               const core::Reference& reference) {
  auto record = reference.is_tag() ? meta_.resolve_tag(repo, reference.tag())
                                   : meta_.get_manifest(repo, reference.digest());
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return fail(ErrorCode::kManifestUnknown, "manifest unknown: " + reference.str(),
                "\"" + reference.str() + "\"");
  }
  return std::move(**record);
}

Result<PutManifestResult> Registry::refill_manifest(const core::RepositoryName& repo,
                                                    const core::Digest& digest) {
  const core::Reference reference(digest);
  auto content = read_manifest(repo, reference);
  if (!content) {
    return std::unexpected(content.error());
  }
  return store_manifest(repo, reference, std::string(*content->bytes), content->record.media_type,
                        {}, true, nullptr);
}

Result<meta::ManifestRecord> Registry::stat_manifest(const core::RepositoryName& repo,
                                                     const core::Reference& reference) {
  return resolve(repo, reference);
}

Result<std::shared_ptr<const std::string>> Registry::manifest_bytes(
    const meta::ManifestRecord& record) {
  if (auto cached = manifest_cache_.get(record.digest.str())) {
    return cached;
  }
  // Stored only when no larger than the limit then; a lower limit since must not hide it.
  auto bytes = storage::read_blob(blobs_, record.digest, std::numeric_limits<std::uint64_t>::max());
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kBlobUnknown) {
      return fail(ErrorCode::kInternal,
                  "manifest " + record.digest.str() + " is recorded but its bytes are missing");
    }
    return std::unexpected(bytes.error());
  }
  auto shared = std::make_shared<const std::string>(std::move(*bytes));
  manifest_cache_.put(record.digest.str(), shared);
  return shared;
}

Result<ManifestContent> Registry::read_manifest(const core::RepositoryName& repo,
                                                const core::Reference& reference) {
  auto record = resolve(repo, reference);
  if (!record) {
    return std::unexpected(record.error());
  }
  auto bytes = manifest_bytes(*record);
  if (!bytes) {
    return std::unexpected(bytes.error());
  }
  return ManifestContent{std::move(*record), std::move(*bytes)};
}

Result<ManifestContent> Registry::get_manifest(const core::RepositoryName& repo,
                                               const core::Reference& reference,
                                               const EventOriginFn& origin) {
  auto content = read_manifest(repo, reference);
  if (content) {
    count_pull(repo, reference, content->record, origin);
  }
  return content;
}

Result<std::optional<ManifestContent>> Registry::get_cached_manifest(
    const core::RepositoryName& repo, const core::Reference& reference,
    const EventOriginFn& origin) {
  auto record = resolve(repo, reference);
  if (!record) {
    return std::unexpected(record.error());
  }
  auto bytes = manifest_cache_.get(record->digest.str());
  if (!bytes) {
    return std::nullopt;
  }
  count_pull(repo, reference, *record, origin);
  return ManifestContent{std::move(*record), std::move(bytes)};
}

void Registry::count_pull(const core::RepositoryName& repo, const core::Reference& reference,
                          const meta::ManifestRecord& record, const EventOriginFn& origin) {
  record_pull(repo, record.digest,
              reference.is_tag() ? std::optional(reference.tag()) : std::nullopt);
  if (wants_event(meta::event_type::kPull, repo.project())) {
    events_->note(pull_event(repo, record,
                             reference.is_tag() ? reference.tag().str() : std::string_view(),
                             clock_.now(), origin));
  }
}

void Registry::note_event(meta::OutboxEvent event) {
  if (wants_event(event.type, event.project)) {
    events_->note(std::move(event));
  }
}

void Registry::record_pull(const core::RepositoryName& repo, const core::Digest& digest,
                           const std::optional<core::Tag>& tag) {
  if (policy_ != nullptr) {
    policy_->record_pull(repo, digest, tag);
  }
}

Result<void> Registry::delete_manifest(const core::RepositoryName& repo,
                                       const core::Reference& reference,
                                       const EventOriginFn& origin) {
  std::vector<meta::OutboxEvent> events;
  if (wants_event(meta::event_type::kDelete, repo.project())) {
    auto event = make_event(meta::event_type::kDelete, repo, clock_.now(), origin);
    (reference.is_tag() ? event.tag : event.digest) = reference.str();
    events.push_back(std::move(event));
  }
  auto deleted = reference.is_tag() ? meta_.delete_tag(repo, reference.tag(), events)
                                    : meta_.delete_manifest(repo, reference.digest(), events);
  if (!deleted) {
    return std::unexpected(deleted.error());
  }
  if (!*deleted) {
    return fail(ErrorCode::kManifestUnknown, "manifest unknown: " + reference.str(),
                "\"" + reference.str() + "\"");
  }
  return ok();
}

// ---- discovery

namespace {

// Fetches one page plus one more entry to learn whether a next page exists.
template <class Fetch>
Result<NamePage> page_of(std::size_t n, const std::string& last, Fetch fetch) {
  auto names = fetch(last, n + 1);
  if (!names) {
    return std::unexpected(names.error());
  }
  NamePage page;
  if (names->size() > n) {
    names->resize(n);
    page.next_last = names->back();
  }
  page.names = std::move(*names);
  return page;
}

}  // namespace

Result<NamePage> Registry::list_tags(const core::RepositoryName& repo, std::optional<std::size_t> n,
                                     const std::string& last) {
  // A repository with tags exists: whether it does is asked only when the page comes back
  // empty, which spares every other list a second query.
  const auto known_or_unknown = [&](NamePage page) -> Result<NamePage> {
    if (!page.names.empty()) {
      return page;
    }
    auto exists = meta_.repository_exists(repo);
    if (!exists) {
      return std::unexpected(exists.error());
    }
    if (!*exists) {
      return fail(ErrorCode::kNameUnknown, "repository name not known to registry: " + repo.str(),
                  "\"" + repo.str() + "\"");
    }
    return page;
  };
  if (n && *n > options_.max_page_size) {
    BERTH_TRY(known_or_unknown(NamePage{}));
    return fail(ErrorCode::kPaginationInvalid,
                "n must be at most " + std::to_string(options_.max_page_size));
  }
  auto fetch = [&](const std::string& after, std::size_t limit) {
    return meta_.list_tags(repo, after, limit);
  };
  if (n) {
    if (*n == 0) {
      return known_or_unknown(NamePage{});
    }
    auto page = page_of(*n, last, fetch);
    if (!page) {
      return page;
    }
    return known_or_unknown(*std::move(page));
  }
  // No n: every tag, read in bounded batches.
  NamePage all;
  std::string after = last;
  while (true) {
    auto batch = fetch(after, options_.max_page_size);
    if (!batch) {
      return std::unexpected(batch.error());
    }
    bool done = batch->size() < options_.max_page_size;
    if (!batch->empty()) {
      after = batch->back();
    }
    all.names.insert(all.names.end(), std::make_move_iterator(batch->begin()),
                     std::make_move_iterator(batch->end()));
    if (done) {
      return known_or_unknown(std::move(all));
    }
  }
}

Result<NamePage> Registry::catalog(std::optional<std::size_t> n, const std::string& last,
                                   const RepositoryFilter& visible) {
  if (n && *n > options_.max_page_size) {
    return fail(ErrorCode::kPaginationInvalid,
                "n must be at most " + std::to_string(options_.max_page_size));
  }
  std::size_t page = n.value_or(options_.default_catalog_page);
  if (page == 0) {
    return NamePage{};
  }
  auto fetch = [&](const std::string& after, std::size_t limit) {
    return meta_.list_repositories(after, limit);
  };
  if (!visible) {
    return page_of(page, last, fetch);
  }
  // One more than a page tells whether a next page exists.
  NamePage result;
  std::string after = last;
  const std::size_t batch = std::max<std::size_t>(page + 1, 100);
  while (result.names.size() <= page) {
    auto names = fetch(after, batch);
    if (!names) {
      return std::unexpected(names.error());
    }
    const bool exhausted = names->size() < batch;
    if (!names->empty()) {
      after = names->back();
    }
    for (auto& name : *names) {
      if (visible(name)) {
        result.names.push_back(std::move(name));
        if (result.names.size() > page) {
          break;
        }
      }
    }
    if (exhausted) {
      break;
    }
  }
  if (result.names.size() > page) {
    result.names.resize(page);
    result.next_last = result.names.back();
  }
  return result;
}

Result<ReferrersIndex> Registry::referrers(const core::RepositoryName& repo,
                                           const core::Digest& subject,
                                           const std::optional<std::string>& artifact_type) {
  auto records = meta_.referrers(repo, subject, artifact_type);
  if (!records) {
    return std::unexpected(records.error());
  }
  boost::json::array manifests;
  for (const auto& record : *records) {
    boost::json::object descriptor;
    descriptor["mediaType"] = record.media_type;
    descriptor["digest"] = record.digest.str();
    descriptor["size"] = record.size;
    if (!record.artifact_type.empty()) {
      descriptor["artifactType"] = record.artifact_type;
    }
    if (!record.annotations_json.empty()) {
      boost::system::error_code ec;
      auto annotations = boost::json::parse(record.annotations_json, ec);
      if (!ec && annotations.is_object()) {
        descriptor["annotations"] = std::move(annotations);
      }
    }
    manifests.emplace_back(std::move(descriptor));
  }
  boost::json::object index;
  index["schemaVersion"] = 2;
  index["mediaType"] = core::media_type::kOciIndex;
  index["manifests"] = std::move(manifests);
  return ReferrersIndex{boost::json::serialize(index), artifact_type.has_value()};
}

}  // namespace berth::registry
