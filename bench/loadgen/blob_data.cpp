// SharedData: the random buffer, its saved hashing states, and unique blobs cut from it.
#include "loadgen/blob_data.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace berth::bench {
namespace {

constexpr std::size_t kFineStep = 4096;
constexpr std::size_t kFineLimit = 1024 * 1024;
constexpr std::size_t kCoarseStep = 64 * 1024;

}  // namespace

Blob text_blob(std::string text) {
  Blob blob;
  blob.digest = Sha256::digest_of(text);
  blob.owned = std::make_shared<const std::string>(std::move(text));
  blob.head = std::as_bytes(std::span(blob.owned->data(), blob.owned->size()));
  return blob;
}

SharedData::SharedData(std::size_t capacity) : bytes_(capacity) {
  // RAND_bytes takes an int length.
  constexpr std::size_t kPiece = 64 * 1024 * 1024;
  for (std::size_t at = 0; at < capacity; at += kPiece) {
    const auto n = std::min(kPiece, capacity - at);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes_.data() + at), static_cast<int>(n)) !=
        1) {
      throw std::runtime_error("RAND_bytes failed");
    }
  }
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&nonce_), sizeof nonce_) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  Sha256 sha;
  fine_.push_back(sha);
  coarse_.push_back(sha);
  std::size_t at = 0;
  while (at < capacity) {
    const auto step = at < kFineLimit ? kFineStep : kCoarseStep;
    const auto n = std::min(step - at % step, capacity - at);
    sha.update(bytes_.data() + at, n);
    at += n;
    if (at <= kFineLimit && at % kFineStep == 0) {
      fine_.push_back(sha);
    }
    if (at % kCoarseStep == 0) {
      coarse_.push_back(sha);
    }
  }
}

Sha256 SharedData::state_at(std::size_t offset) const {
  Sha256 sha;
  std::size_t from = 0;
  if (offset < kFineLimit) {
    from = std::min(offset / kFineStep, fine_.size() - 1);
    sha = fine_[from];
    from *= kFineStep;
  } else {
    const auto i = std::min(offset / kCoarseStep, coarse_.size() - 1);
    sha = coarse_[i];
    from = i * kCoarseStep;
  }
  sha.update(bytes_.data() + from, offset - from);
  return sha;
}

Blob SharedData::make_blob(std::size_t size) const {
  if (size < kTailBytes || size - kTailBytes > bytes_.size()) {
    throw std::invalid_argument("blob size out of range: " + std::to_string(size));
  }
  Blob blob;
  const auto prefix = size - kTailBytes;
  blob.head = std::span(bytes_.data(), prefix);
  const std::uint64_t count = counter_.fetch_add(1, std::memory_order_relaxed);
  std::memcpy(blob.tail.data(), &nonce_, 8);
  std::memcpy(blob.tail.data() + 8, &count, 8);
  blob.tail_size = kTailBytes;
  Sha256 sha = state_at(prefix);
  sha.update(blob.tail.data(), kTailBytes);
  blob.digest = Sha256::digest_text(sha.finish());
  return blob;
}

std::string SharedData::prefix_digest(std::size_t size) const {
  Sha256 sha = state_at(size);
  return Sha256::digest_text(sha.finish());
}

bool blob_equals(const Blob& blob, std::uint64_t offset, const std::byte* data, std::size_t size) {
  if (offset + size > blob.size()) {
    return false;
  }
  if (offset < blob.head.size()) {
    const auto n = std::min<std::uint64_t>(size, blob.head.size() - offset);
    if (std::memcmp(blob.head.data() + offset, data, n) != 0) {
      return false;
    }
    offset += n;
    data += n;
    size -= n;
  }
  return size == 0 || std::memcmp(blob.tail.data() + (offset - blob.head.size()), data, size) == 0;
}

}  // namespace berth::bench
