// Blob contents for the load generator: unique blobs of any size without copying or rehashing.
//
// A push benchmark needs a fresh blob for every upload (a registry that already holds a digest
// may skip work), yet generating and hashing 1 GiB per push would make the client the
// bottleneck. So every blob is a prefix of one shared random buffer followed by a 16-byte tail
// that is unique in this process (a random run nonce and a counter):
//
//   blob = shared[0, size - 16) ++ tail
//
// Its body goes out as two buffers that point into memory we already have (no copy), and its
// SHA-256 is finished from a saved hashing state of the shared prefix: SharedData keeps such a
// state every 4 KiB for the first MiB and every 64 KiB after that (16,640 states for 1 GiB,
// about 4 MB), so making a blob of any size hashes at most 64 KiB plus 16 bytes.
//
// Thread-safety: SharedData is immutable after construction and safe to share; make_blob may
// be called from any thread.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/sha256.hpp"

namespace berth::bench {

inline constexpr std::size_t kTailBytes = 16;

// A blob to push or to expect on a pull: bytes as (head, tail) and its digest.
struct Blob {
  std::span<const std::byte> head;  // into SharedData, or into `owned`
  std::array<std::byte, kTailBytes> tail{};
  std::size_t tail_size = 0;  // 0 for blobs held whole in `owned`
  std::string digest;         // "sha256:<hex>"
  std::shared_ptr<const std::string> owned;

  std::uint64_t size() const { return head.size() + tail_size; }
  std::span<const std::byte> tail_bytes() const { return {tail.data(), tail_size}; }
};

// A blob whose bytes are the given text (configs, small JSON), held by the Blob itself.
Blob text_blob(std::string text);

class SharedData {
 public:
  // Fills `capacity` bytes with random data (OpenSSL's DRBG) and hashes it once.
  explicit SharedData(std::size_t capacity);
  SharedData(const SharedData&) = delete;
  SharedData& operator=(const SharedData&) = delete;

  std::size_t capacity() const { return bytes_.size(); }
  std::span<const std::byte> bytes() const { return bytes_; }

  // A blob of exactly `size` bytes (at least kTailBytes, at most capacity() + kTailBytes)
  // never made before by this process.
  Blob make_blob(std::size_t size) const;

  // The digest of the first `size` bytes of the shared buffer (for files written from it).
  std::string prefix_digest(std::size_t size) const;

 private:
  Sha256 state_at(std::size_t offset) const;

  std::vector<std::byte> bytes_;
  // Hashing state after 4 KiB * i bytes (up to 1 MiB) and after 64 KiB * i bytes.
  std::vector<Sha256> fine_;
  std::vector<Sha256> coarse_;
  std::uint64_t nonce_ = 0;
  mutable std::atomic<std::uint64_t> counter_{0};
};

// The bytes of a blob as buffers starting at `offset`, `length` long (for chunked uploads).
template <class Buffer>
std::vector<Buffer> blob_buffers(const Blob& blob, std::uint64_t offset, std::uint64_t length) {
  std::vector<Buffer> out;
  const auto head = blob.head;
  if (offset < head.size() && length > 0) {
    const auto n = std::min<std::uint64_t>(length, head.size() - offset);
    out.emplace_back(head.data() + offset, n);
    offset += n;
    length -= n;
  }
  if (length > 0) {
    const auto at = offset - head.size();
    out.emplace_back(blob.tail.data() + at, std::min<std::uint64_t>(length, blob.tail_size - at));
  }
  return out;
}

// Whether `data` equals the blob's bytes at `offset` (false past its end).
bool blob_equals(const Blob& blob, std::uint64_t offset, const std::byte* data, std::size_t size);

}  // namespace berth::bench
