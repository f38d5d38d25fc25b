// Upload pieces, their writer and the segment reader of s3_upload.hpp.
#include "storage/s3_upload.hpp"

#include <algorithm>
#include <cstring>

#include "storage/layout.hpp"
#include "storage/s3_part_plan.hpp"

namespace berth::storage::s3 {
namespace {

using core::ErrorCode;

constexpr int kReopenTries = 3;

class SegmentReader final : public BlobReader {
 public:
  SegmentReader(std::shared_ptr<Client> client, std::vector<Segment> segments)
      : client_(std::move(client)), segments_(std::move(segments)) {
    std::uint64_t offset = 0;
    for (const Segment& segment : segments_) {
      starts_.push_back(offset);
      offset += segment.size;
    }
    size_ = offset;
  }

  std::uint64_t size() const override { return size_; }

  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) override {
    std::size_t done = 0;
    int failures = 0;
    while (done < out.size() && offset < size_) {
      const auto after = std::upper_bound(starts_.begin(), starts_.end(), offset);
      const auto index = static_cast<std::size_t>(after - starts_.begin()) - 1;
      const Segment& segment = segments_[index];
      const std::uint64_t within = offset - starts_[index];
      const auto want = static_cast<std::size_t>(
          std::min<std::uint64_t>(out.size() - done, segment.size - within));
      const std::span<std::byte> into = out.subspan(done, want);
      std::size_t got = 0;
      if (segment.chunk) {
        std::memcpy(into.data(), segment.chunk->data() + within, want);
        got = want;
      } else {
        auto n = read_object(index, offset, within, into);
        if (!n) {
          body_.reset();
          if (++failures >= kReopenTries) {
            return std::unexpected(n.error());
          }
          continue;
        }
        got = *n;
      }
      done += got;
      offset += got;
    }
    return done;
  }

 private:
  Result<std::size_t> read_object(std::size_t index, std::uint64_t offset, std::uint64_t within,
                                  std::span<std::byte> into) {
    const Segment& segment = segments_[index];
    if (!body_ || body_segment_ != index || body_at_ != offset) {
      body_.reset();
      auto opened = client_->get(segment.key, within, segment.size - within);
      if (!opened) {
        return std::unexpected(opened.error());
      }
      if (!*opened) {
        // Removed under us (a collection, or the upload deleted): no retry brings it back.
        return core::fail(ErrorCode::kInternal,
                          "S3 object " + segment.key + " vanished while read");
      }
      body_ = std::move(**opened);
      body_segment_ = index;
      body_at_ = offset;
    }
    auto n = body_->read(into);
    if (!n) {
      return core::fail(ErrorCode::kUnavailable, n.error().message);
    }
    if (*n == 0) {
      return core::fail(ErrorCode::kUnavailable, "S3 object " + segment.key + " ended early");
    }
    body_at_ += *n;
    return *n;
  }

  std::shared_ptr<Client> client_;
  std::vector<Segment> segments_;
  std::vector<std::uint64_t> starts_;
  std::uint64_t size_ = 0;
  // The GET being read, which segment, and the offset it will give next.
  std::optional<http::ClientResponse> body_;
  std::size_t body_segment_ = 0;
  std::uint64_t body_at_ = 0;
};

std::vector<std::span<const std::byte>> spans_of(const std::vector<Chunk>& chunks) {
  std::vector<std::span<const std::byte>> out;
  for (const Chunk& chunk : chunks) {
    out.emplace_back(chunk->data(), chunk->size());
  }
  return out;
}

class S3UploadWriter final : public UploadWriter {
 public:
  S3UploadWriter(std::shared_ptr<Client> client, std::string prefix, core::UploadId id,
                 std::shared_ptr<LiveUpload> live, std::uint64_t size)
      : client_(std::move(client)),
        prefix_(std::move(prefix)),
        id_(std::move(id)),
        live_(std::move(live)),
        size_(size) {}

  ~S3UploadWriter() override { (void)flush(); }

  std::uint64_t size() const override { return size_; }

  Result<void> append(std::span<const std::byte> bytes) override {
    while (!bytes.empty()) {
      const std::uint32_t index = live_index();
      if (index >= kMaxParts) {
        return core::fail(ErrorCode::kTooLarge, "blob too large for S3 storage: at most " +
                                                    std::to_string(max_upload_bytes()) + " bytes");
      }
      const std::uint64_t room = piece_size(index) - pending_bytes();
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(room, bytes.size()));
      auto chunk =
          std::make_shared<const std::vector<std::byte>>(bytes.begin(), bytes.begin() + take);
      {
        std::lock_guard lock(live_->mutex);
        live_->chunks.push_back(std::move(chunk));
        live_->pending_bytes += take;
      }
      size_ += take;
      dirty_ = true;
      bytes = bytes.subspan(take);
      if (take == room) {
        if (auto stored = store_pending(); !stored) {
          return stored;
        }
        std::lock_guard lock(live_->mutex);
        ++live_->pending_index;
        live_->chunks.clear();
        live_->pending_bytes = 0;
      }
    }
    return {};
  }

  // Cuts back to `size` bytes. The piece that holds the new end becomes the one being filled:
  // read back from the bucket when it was stored whole, cut in memory when it is the current
  // one. The pieces after it are deleted first and it is stored cut (or deleted when empty), so
  // the bucket never holds more of the upload than it did.
  Result<void> truncate(std::uint64_t size) override {
    if (size >= size_) {
      return {};
    }
    const std::uint32_t keep = piece_index_at(size);
    const std::uint64_t keep_bytes = size - piece_offset(keep);
    const std::uint32_t current = live_index();
    std::vector<Chunk> chunks;
    if (keep == current) {
      std::lock_guard lock(live_->mutex);
      chunks = cut(live_->chunks, keep_bytes);
    } else {
      if (keep_bytes > 0) {
        auto whole = read_piece(keep);
        if (!whole) {
          return std::unexpected(whole.error());
        }
        chunks = cut({*whole}, keep_bytes);
      }
      std::vector<std::string> later;
      for (std::uint32_t index = keep + 1; index <= current; ++index) {
        later.push_back(piece_key(index));
      }
      if (auto removed = client_->remove_many(later); !removed) {
        return removed;
      }
    }
    {
      std::lock_guard lock(live_->mutex);
      live_->pending_index = keep;
      live_->chunks = std::move(chunks);
      live_->pending_bytes = keep_bytes;
    }
    size_ = size;
    if (keep_bytes == 0) {
      dirty_ = false;
      return client_->remove(piece_key(keep));
    }
    dirty_ = true;
    return store_pending();
  }

  Result<void> flush() override {
    if (!dirty_ || pending_bytes() == 0) {
      return {};
    }
    return store_pending();
  }

 private:
  std::uint32_t live_index() {
    std::lock_guard lock(live_->mutex);
    return live_->pending_index;
  }
  std::uint64_t pending_bytes() {
    std::lock_guard lock(live_->mutex);
    return live_->pending_bytes;
  }

  std::string piece_key(std::uint32_t index) const {
    return prefix_ + layout::upload_piece_key(id_, index);
  }

  // A piece stored whole, as one chunk.
  Result<Chunk> read_piece(std::uint32_t index) {
    auto bytes = client_->get_small(piece_key(index), piece_size(index));
    if (!bytes) {
      return std::unexpected(bytes.error());
    }
    if (!*bytes || (*bytes)->size() != piece_size(index)) {
      return core::fail(ErrorCode::kBlobUploadInvalid,
                        "S3 upload " + id_.str() + " changed while it was written");
    }
    const auto* data = reinterpret_cast<const std::byte*>((*bytes)->data());
    return std::make_shared<const std::vector<std::byte>>(data, data + (*bytes)->size());
  }

  // The first `bytes` bytes of chunks, sharing the chunks kept whole.
  static std::vector<Chunk> cut(const std::vector<Chunk>& chunks, std::uint64_t bytes) {
    std::vector<Chunk> kept;
    for (const Chunk& chunk : chunks) {
      if (bytes == 0) {
        break;
      }
      if (chunk->size() <= bytes) {
        kept.push_back(chunk);
        bytes -= chunk->size();
        continue;
      }
      kept.push_back(std::make_shared<const std::vector<std::byte>>(
          chunk->begin(), chunk->begin() + static_cast<std::ptrdiff_t>(bytes)));
      bytes = 0;
    }
    return kept;
  }

  // PUTs the piece being filled, whole or short; a short one is overwritten when it grows.
  Result<void> store_pending() {
    std::vector<Chunk> chunks;
    std::uint32_t index = 0;
    {
      std::lock_guard lock(live_->mutex);
      chunks = live_->chunks;
      index = live_->pending_index;
    }
    if (auto put = client_->put(piece_key(index), spans_of(chunks)); !put) {
      return put;
    }
    dirty_ = false;
    return {};
  }

  std::shared_ptr<Client> client_;
  const std::string prefix_;
  const core::UploadId id_;
  std::shared_ptr<LiveUpload> live_;
  std::uint64_t size_;
  // Bytes in memory not yet in the bucket.
  bool dirty_ = false;
};

}  // namespace

std::unique_ptr<BlobReader> make_segment_reader(std::shared_ptr<Client> client,
                                                std::vector<Segment> segments) {
  std::erase_if(segments, [](const Segment& segment) { return segment.size == 0; });
  return std::make_unique<SegmentReader>(std::move(client), std::move(segments));
}

Result<StoredUpload> load_upload(Client& client, const std::string& prefix,
                                 const core::UploadId& id) {
  StoredUpload stored;
  std::vector<std::pair<std::uint32_t, ObjectInfo>> pieces;
  auto listed = client.list(prefix + layout::upload_object_prefix(id), [&](const ObjectInfo& info) {
    auto object = layout::parse_upload_object_key(std::string_view(info.key).substr(prefix.size()));
    if (!object || object->id != id) {
      return;
    }
    if (!object->piece) {
      stored.exists = true;
    } else {
      pieces.emplace_back(*object->piece, info);
    }
  });
  if (!listed) {
    return std::unexpected(listed.error());
  }
  std::sort(pieces.begin(), pieces.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto& [index, info] = pieces[i];
    const bool last = i + 1 == pieces.size();
    if (index != i || info.size > piece_size(index) || (!last && info.size != piece_size(index))) {
      return core::fail(ErrorCode::kInternal, "S3 upload " + id.str() + " is damaged at piece " +
                                                  std::to_string(index) + " (" +
                                                  std::to_string(info.size) + " bytes)");
    }
    stored.size += info.size;
    stored.pieces.push_back(info);
  }
  return stored;
}

Result<std::unique_ptr<UploadWriter>> open_upload_writer(std::shared_ptr<Client> client,
                                                         const std::string& prefix,
                                                         const core::UploadId& id,
                                                         const StoredUpload& stored,
                                                         std::shared_ptr<LiveUpload> live) {
  auto index = static_cast<std::uint32_t>(stored.pieces.size());
  std::vector<Chunk> chunks;
  std::uint64_t pending = 0;
  if (index > 0 && stored.pieces.back().size < piece_size(index - 1)) {
    // A short last piece: continue it, so that only the last piece is ever short.
    --index;
    auto bytes = client->get_small(stored.pieces.back().key, piece_size(index));
    if (!bytes) {
      return std::unexpected(bytes.error());
    }
    if (!*bytes || (*bytes)->size() != stored.pieces.back().size) {
      return core::fail(ErrorCode::kBlobUploadInvalid,
                        "S3 upload " + id.str() + " changed while it was opened");
    }
    const auto* data = reinterpret_cast<const std::byte*>((*bytes)->data());
    chunks.push_back(std::make_shared<const std::vector<std::byte>>(data, data + (*bytes)->size()));
    pending = (*bytes)->size();
  }
  {
    std::lock_guard lock(live->mutex);
    live->pending_index = index;
    live->chunks = std::move(chunks);
    live->pending_bytes = pending;
  }
  return std::make_unique<S3UploadWriter>(std::move(client), prefix, id, std::move(live),
                                          stored.size);
}

}  // namespace berth::storage::s3
