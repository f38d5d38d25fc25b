// The S3 BlobStore (s3_blob_store.hpp): blobs and uploads as objects, publication by
// server-side copies.
#include "storage/s3_blob_store.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "storage/layout.hpp"
#include "storage/s3_part_plan.hpp"
#include "storage/s3_upload.hpp"

namespace berth::storage {
namespace {

using core::ErrorCode;
using s3::Client;
using s3::ObjectInfo;

// A blob published this recently is not stamped again by publish_upload (a copy onto itself):
// the sweep's grace (hours) cannot tell the difference, a busy push of one layer to many
// repositories can.
constexpr std::chrono::minutes kFreshEnough{1};
// Unfinished multipart uploads older than this are leftovers of a killed publication.
constexpr std::chrono::hours kStaleMultipart{24};

class S3BlobStore final : public BlobStore {
 public:
  S3BlobStore(std::shared_ptr<Client> client, S3StoreOptions options)
      : client_(std::move(client)), options_(std::move(options)), prefix_(options_.prefix) {}

  Result<std::optional<std::uint64_t>> stat(const core::Digest& digest) override {
    auto info = client_->head(blob_key(digest));
    if (!info) {
      return std::unexpected(info.error());
    }
    if (!*info) {
      return std::nullopt;
    }
    return (*info)->size;
  }

  Result<std::unique_ptr<BlobReader>> open(const core::Digest& digest) override {
    auto info = client_->head(blob_key(digest));
    if (!info) {
      return std::unexpected(info.error());
    }
    if (!*info) {
      return core::fail(ErrorCode::kBlobUnknown,
                        "blob " + std::string(digest.hex()) + ": not found");
    }
    return s3::make_segment_reader(client_, {{blob_key(digest), nullptr, (*info)->size}});
  }

  Result<void> put(const core::Digest& digest, std::string_view bytes) override {
    return client_->put(blob_key(digest), {std::as_bytes(std::span(bytes.data(), bytes.size()))});
  }

  Result<void> remove(const core::Digest& digest) override {
    return client_->remove(blob_key(digest));
  }

  Result<void> remove_many(std::span<const core::Digest> digests) override {
    std::vector<std::string> keys;
    for (const core::Digest& digest : digests) {
      keys.push_back(blob_key(digest));
    }
    return client_->remove_many(keys);
  }

  std::optional<std::string> presigned_url(const core::Digest& digest) override {
    if (!options_.redirect) {
      return std::nullopt;
    }
    // Without credentials now (an instance role's could not be renewed) the bytes are served
    // through us instead; reading them will say why if it fails too.
    auto url = client_->presigned_get_url(blob_key(digest), options_.redirect_expiry);
    return url ? std::optional(std::move(*url)) : std::nullopt;
  }

  Result<std::optional<core::TimePoint>> modified(const core::Digest& digest) override {
    auto info = client_->head(blob_key(digest));
    if (!info) {
      return std::unexpected(info.error());
    }
    if (!*info) {
      return std::optional<core::TimePoint>();
    }
    return std::optional<core::TimePoint>((*info)->modified);
  }

  Result<void> for_each_blob(
      const std::function<void(const core::Digest&, std::uint64_t size)>& fn) override {
    return for_each_blob_entry([&](const BlobEntry& entry) { fn(entry.digest, entry.size); });
  }

  Result<void> for_each_blob_entry(const std::function<void(const BlobEntry&)>& fn) override {
    return client_->list(prefix_ + std::string(layout::kBlobsDir) + "/",
                         [&](const ObjectInfo& info) {
                           auto digest = layout::parse_blob_key(unprefixed(info.key));
                           if (digest) {
                             fn(BlobEntry{*std::move(digest), info.size, info.modified});
                           }
                         });
  }

  Result<void> create_upload(const core::UploadId& id) override {
    const std::string marker = prefix_ + layout::upload_marker_key(id);
    // If-None-Match is the guard where the server honours it; the HEAD where it does not.
    auto existing = client_->head(marker);
    if (!existing) {
      return std::unexpected(existing.error());
    }
    auto created = *existing ? core::fail(ErrorCode::kConflict, "exists")
                             : client_->put(marker, {}, /*if_absent=*/true);
    if (!created && created.error().code == ErrorCode::kConflict) {
      return core::fail(ErrorCode::kInternal, "create upload " + id.str() + ": it exists already");
    }
    return created;
  }

  Result<std::unique_ptr<UploadWriter>> append_upload(const core::UploadId& id) override {
    auto stored = existing_upload(id);
    if (!stored) {
      return std::unexpected(stored.error());
    }
    auto live = std::make_shared<s3::LiveUpload>();
    auto writer = s3::open_upload_writer(client_, prefix_, id, *stored, live);
    if (writer) {
      std::lock_guard lock(live_mutex_);
      std::erase_if(live_, [](const auto& entry) { return entry.second.expired(); });
      live_[id.str()] = live;
    }
    return writer;
  }

  Result<std::unique_ptr<BlobReader>> read_upload(const core::UploadId& id) override {
    if (auto live = live_upload(id)) {
      return live_reader(id, *live);
    }
    auto stored = existing_upload(id);
    if (!stored) {
      return std::unexpected(stored.error());
    }
    std::vector<s3::Segment> segments;
    for (const ObjectInfo& piece : stored->pieces) {
      segments.push_back({piece.key, nullptr, piece.size});
    }
    return s3::make_segment_reader(client_, std::move(segments));
  }

  Result<void> commit_upload(const core::UploadId& id, const core::Digest& digest) override {
    if (auto published = publish_upload(id, digest); !published) {
      return published;
    }
    return delete_upload(id);
  }

  Result<void> publish_upload(const core::UploadId& id, const core::Digest& digest) override {
    auto stored = existing_upload(id);
    if (!stored) {
      return std::unexpected(stored.error());
    }
    const std::string blob = blob_key(digest);
    auto existing = client_->head(blob);
    if (!existing) {
      return std::unexpected(existing.error());
    }
    if (*existing) {
      // Same digest, same bytes: keep them, renew the time the sweep's grace counts from.
      const auto age = std::chrono::system_clock::now() - (*existing)->modified;
      if (age < kFreshEnough) {
        return {};
      }
      if ((*existing)->size <= s3::kMaxPartBytes) {
        auto stamped = client_->copy(blob, blob, /*stamp=*/true);
        if (!stamped || *stamped) {
          return stamped ? Result<void>() : std::unexpected(stamped.error());
        }
      }
      // Gone meanwhile, or too big for one copy: write it again from the upload.
    }
    return assemble(*stored, blob, id);
  }

  Result<void> delete_upload(const core::UploadId& id) override {
    std::vector<std::string> keys;
    auto listed = client_->list(prefix_ + layout::upload_object_prefix(id),
                                [&](const ObjectInfo& info) { keys.push_back(info.key); });
    if (!listed) {
      return listed;
    }
    return client_->remove_many(keys);
  }

  Result<std::vector<UploadEntry>> list_uploads() override {
    std::map<std::string, UploadEntry> uploads;
    auto listed = client_->list(
        prefix_ + std::string(layout::kUploadsDir) + "/", [&](const ObjectInfo& info) {
          auto object = layout::parse_upload_object_key(unprefixed(info.key));
          if (!object) {
            return;
          }
          auto [it, inserted] =
              uploads.try_emplace(object->id.str(), UploadEntry{object->id, info.modified});
          it->second.modified = std::max(it->second.modified, info.modified);
        });
    if (!listed) {
      return std::unexpected(listed.error());
    }
    std::vector<UploadEntry> out;
    for (auto& [name, entry] : uploads) {
      out.push_back(std::move(entry));
    }
    return out;
  }

  // Aborts the unfinished multipart uploads a killed publication left on blob keys.
  Result<void> sweep_stale_multipart() {
    const auto cutoff = std::chrono::system_clock::now() - kStaleMultipart;
    std::vector<s3::MultipartInfo> stale;
    auto listed = client_->list_multipart(prefix_ + std::string(layout::kBlobsDir) + "/",
                                          [&](const s3::MultipartInfo& info) {
                                            if (info.initiated < cutoff) {
                                              stale.push_back(info);
                                            }
                                          });
    if (!listed) {
      return listed;
    }
    for (const auto& info : stale) {
      if (auto aborted = client_->abort_multipart(info.key, info.upload_id); !aborted) {
        return aborted;
      }
    }
    return {};
  }

 private:
  std::string blob_key(const core::Digest& digest) const {
    return prefix_ + layout::blob_key(digest);
  }
  std::string_view unprefixed(std::string_view key) const {
    return key.starts_with(prefix_) ? key.substr(prefix_.size()) : std::string_view();
  }

  // The upload as stored; BLOB_UPLOAD_UNKNOWN when its marker is missing.
  Result<s3::StoredUpload> existing_upload(const core::UploadId& id) {
    auto stored = s3::load_upload(*client_, prefix_, id);
    if (stored && !stored->exists) {
      return core::fail(ErrorCode::kBlobUploadUnknown, "upload " + id.str() + ": not found");
    }
    return stored;
  }

  std::shared_ptr<s3::LiveUpload> live_upload(const core::UploadId& id) {
    std::lock_guard lock(live_mutex_);
    auto it = live_.find(id.str());
    return it == live_.end() ? nullptr : it->second.lock();
  }

  // The upload while a writer of this process holds it: whole pieces from the bucket, the rest
  // from the writer's memory, as of now.
  Result<std::unique_ptr<BlobReader>> live_reader(const core::UploadId& id, s3::LiveUpload& live) {
    std::vector<s3::Segment> segments;
    std::lock_guard lock(live.mutex);
    for (std::uint32_t i = 0; i < live.pending_index; ++i) {
      segments.push_back({prefix_ + layout::upload_piece_key(id, i), nullptr, s3::piece_size(i)});
    }
    for (const s3::Chunk& chunk : live.chunks) {
      segments.push_back({std::string(), chunk, chunk->size()});
    }
    return s3::make_segment_reader(client_, std::move(segments));
  }

  // Writes the blob from the upload's pieces: a PUT for nothing, a copy for one piece, a
  // multipart upload of part copies for more.
  Result<void> assemble(const s3::StoredUpload& stored, const std::string& blob,
                        const core::UploadId& id) {
    if (stored.pieces.empty()) {
      return client_->put(blob, {});
    }
    if (stored.pieces.size() == 1) {
      auto copied = client_->copy(stored.pieces[0].key, blob, /*stamp=*/false);
      if (!copied) {
        return std::unexpected(copied.error());
      }
      if (!*copied) {
        return core::fail(ErrorCode::kBlobUploadUnknown, "upload " + id.str() + ": vanished");
      }
      return {};
    }
    auto upload_id = client_->create_multipart(blob);
    if (!upload_id) {
      return std::unexpected(upload_id.error());
    }
    auto parts = copy_parts(stored, blob, *upload_id, id);
    if (!parts) {
      (void)client_->abort_multipart(blob, *upload_id);
      return std::unexpected(parts.error());
    }
    auto completed = client_->complete_multipart(blob, *upload_id, *parts);
    if (!completed) {
      // A completion whose answer was lost is retried and then finds its upload gone (radosgw
      // even answers 500 "completion already in progress"): the key tells what happened.
      auto info = client_->head(blob);
      if (info && *info && (*info)->size == stored.size) {
        return {};
      }
      (void)client_->abort_multipart(blob, *upload_id);
    }
    return completed;
  }

  // UploadPartCopy of every piece, options_.copy_concurrency at a time.
  Result<std::vector<s3::CompletedPart>> copy_parts(const s3::StoredUpload& stored,
                                                    const std::string& blob,
                                                    const std::string& upload_id,
                                                    const core::UploadId& id) {
    std::vector<s3::CompletedPart> parts(stored.pieces.size());
    std::atomic<std::size_t> next{0};
    std::mutex failure_mutex;
    std::optional<core::Error> failure;
    auto work = [&] {
      for (std::size_t i = next++; i < parts.size(); i = next++) {
        {
          std::lock_guard lock(failure_mutex);
          if (failure) {
            return;
          }
        }
        const ObjectInfo& piece = stored.pieces[i];
        const int number = static_cast<int>(i) + 1;
        auto etag =
            client_->upload_part_copy(blob, upload_id, number, piece.key, 0, piece.size - 1);
        std::lock_guard lock(failure_mutex);
        if (!etag) {
          failure = etag.error();
        } else if (!*etag) {
          failure = core::Error{
              ErrorCode::kBlobUploadUnknown, "upload " + id.str() + ": a piece vanished", {}};
        } else {
          parts[i] = s3::CompletedPart{number, **etag};
        }
      }
    };
    const auto threads = std::min<std::size_t>(
        parts.size(), static_cast<std::size_t>(std::max(1, options_.copy_concurrency)));
    {
      std::vector<std::jthread> workers;
      for (std::size_t t = 1; t < threads; ++t) {
        workers.emplace_back(work);
      }
      work();
    }
    if (failure) {
      return std::unexpected(std::move(*failure));
    }
    return parts;
  }

  std::shared_ptr<Client> client_;
  const S3StoreOptions options_;
  const std::string prefix_;

  // Guards live_: the uploads that writers of this process hold, by upload id.
  std::mutex live_mutex_;
  std::map<std::string, std::weak_ptr<s3::LiveUpload>> live_;
};

}  // namespace

Result<std::unique_ptr<BlobStore>> open_s3_blob_store(S3StoreOptions options) {
  if (!options.prefix.empty() && !options.prefix.ends_with('/')) {
    options.prefix += '/';
  }
  if (options.prefix.starts_with('/')) {
    return core::fail(ErrorCode::kInternal, "S3 prefix must not start with '/'");
  }
  const std::string where =
      "S3 bucket '" + options.client.bucket + "' at " +
      (options.client.endpoint.empty() ? std::string("AWS") : options.client.endpoint);
  auto client = Client::create(options.client);
  if (!client) {
    return std::unexpected(client.error());
  }
  std::shared_ptr<Client> shared = std::move(*client);
  auto exists = shared->bucket_exists();
  if (!exists) {
    return std::unexpected(exists.error());
  }
  if (!*exists) {
    if (!options.create_bucket) {
      return core::fail(ErrorCode::kInternal, where + " does not exist");
    }
    if (auto created = shared->create_bucket(); !created) {
      return std::unexpected(created.error());
    }
  }
  auto store = std::make_unique<S3BlobStore>(shared, std::move(options));
  if (auto swept = store->sweep_stale_multipart(); !swept) {
    return std::unexpected(swept.error());
  }
  return store;
}

}  // namespace berth::storage
