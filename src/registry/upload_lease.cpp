// UploadLease (registry.hpp): one request's hold on an upload. It writes and hashes the bytes
// as they arrive, refuses those past the upload's bounds before they are written (the blob
// size limit, the project's quota), and gives back what a failed request wrote.
#include <string>
#include <utility>

#include "core/human_bytes.hpp"
#include "registry/registry.hpp"
#include "registry/upload_session.hpp"

namespace berth::registry {

using core::ErrorCode;
using core::fail;

namespace {

std::string byte_text(std::uint64_t bytes) {
  return std::to_string(bytes) + " bytes (" + core::human_bytes(bytes) + ")";
}

}  // namespace

UploadLease::UploadLease(Registry* registry, std::shared_ptr<UploadSession> session,
                         std::unique_ptr<storage::UploadWriter> writer, UploadBounds bounds)
    : registry_(registry),
      session_(std::move(session)),
      writer_(std::move(writer)),
      bounds_(std::make_unique<UploadBounds>(std::move(bounds))) {}

UploadLease::UploadLease(UploadLease&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)),
      session_(std::move(other.session_)),
      writer_(std::move(other.writer_)),
      bounds_(std::move(other.bounds_)),
      rehashed_(other.rehashed_) {}

UploadLease& UploadLease::operator=(UploadLease&& other) noexcept {
  if (this != &other) {
    release();
    registry_ = std::exchange(other.registry_, nullptr);
    session_ = std::move(other.session_);
    writer_ = std::move(other.writer_);
    bounds_ = std::move(other.bounds_);
    rehashed_ = other.rehashed_;
  }
  return *this;
}

UploadLease::~UploadLease() { release(); }

void UploadLease::release() {
  writer_.reset();
  if (registry_ != nullptr && session_) {
    registry_->release(*session_);
  }
  registry_ = nullptr;
  session_.reset();
}

bool UploadLease::held() const { return session_ != nullptr; }
const core::UploadId& UploadLease::id() const { return session_->id; }
const core::RepositoryName& UploadLease::repository() const { return session_->repository; }
std::uint64_t UploadLease::size() const { return session_->size.load(); }

core::Digest UploadLease::digest() const { return session_->hasher.digest(); }

Result<void> UploadLease::admit(std::uint64_t more) const {
  const std::uint64_t total = size() + more;
  if (bounds_->max_size != 0 && total > bounds_->max_size) {
    return fail(ErrorCode::kTooLarge, "the blob is larger than this registry accepts (" +
                                          byte_text(bounds_->max_size) +
                                          ", uploads.max_size); the upload was discarded");
  }
  if (bounds_->room && total > bounds_->room->left()) {
    const auto& room = *bounds_->room;
    const auto over = total - room.left();
    return fail(ErrorCode::kDenied, core::ErrorReason::kQuotaExceeded,
                "quota exceeded: project '" + std::string(session_->repository.project()) +
                    "' may store " + byte_text(room.quota) + " and stores " + byte_text(room.used) +
                    "; this upload, at " + byte_text(total) + ", would exceed the quota by " +
                    std::to_string(over) + (over == 1 ? " byte" : " bytes") +
                    " (it was discarded); delete images or ask an owner to raise the quota");
  }
  return {};
}

Result<void> UploadLease::append(std::span<const std::byte> bytes) {
  if (session_->published) {
    return fail(ErrorCode::kInternal, "upload " + session_->id.str() +
                                          " was published as a blob: it takes no more bytes");
  }
  if (bytes.empty()) {
    return {};
  }
  // Before the write: bytes past a bound never take space.
  BERTH_TRY(admit(bytes.size()));
  // A write that goes on for long keeps telling the database so (purges on other replicas).
  BERTH_TRY(registry_->keep_active(*session_));
  auto written = writer_->append(bytes);
  if (!written) {
    session_->broken = true;
    return written;
  }
  session_->hasher.update(bytes.data(), bytes.size());
  session_->size += bytes.size();
  return {};
}

Result<void> UploadLease::roll_back() {
  if (session_->published || size() == bounds_->start_size) {
    return {};
  }
  if (auto cut = writer_->truncate(bounds_->start_size); !cut) {
    session_->broken = true;  // the next lease hashes what is stored again
    return cut;
  }
  session_->hasher = bounds_->start_hasher;
  session_->size = bounds_->start_size;
  session_->broken = false;
  return {};
}

}  // namespace berth::registry
