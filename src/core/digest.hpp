// Content digests: the "algorithm:hex" identifiers of the OCI image spec, and the streaming
// hasher that computes them while bytes arrive. Only sha256 and sha512 are accepted; a digest
// that parses is always safe to use as part of a storage key (lowercase hex of fixed length).
#pragma once

#include <openssl/evp.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace berth::core {

enum class DigestAlgorithm { kSha256, kSha512 };

[[nodiscard]] std::string_view algorithm_name(DigestAlgorithm algorithm);

class Digest {
 public:
  // Parses and validates "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>".
  // Anything else, including well-formed digests of unknown algorithms, is DIGEST_INVALID.
  [[nodiscard]] static Result<Digest> parse(std::string_view text);

  // The digest of the given bytes.
  [[nodiscard]] static Digest of(std::string_view bytes,
                                 DigestAlgorithm algorithm = DigestAlgorithm::kSha256);

  DigestAlgorithm algorithm() const { return algorithm_; }
  // The whole "algorithm:hex" text.
  const std::string& str() const { return text_; }
  // The hex part alone.
  std::string_view hex() const;

  friend bool operator==(const Digest& a, const Digest& b) { return a.text_ == b.text_; }
  friend auto operator<=>(const Digest& a, const Digest& b) { return a.text_ <=> b.text_; }

 private:
  Digest(DigestAlgorithm algorithm, std::string text)
      : algorithm_(algorithm), text_(std::move(text)) {}
  friend class Hasher;

  DigestAlgorithm algorithm_;
  std::string text_;
};

// Incremental hashing over OpenSSL's EVP interface. Not thread-safe; copyable so that a
// partial state can be snapshotted (for resumable uploads).
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm = DigestAlgorithm::kSha256);
  Hasher(const Hasher& other);
  Hasher& operator=(const Hasher& other);
  Hasher(Hasher&&) noexcept = default;
  Hasher& operator=(Hasher&&) noexcept = default;
  ~Hasher() = default;

  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // The digest of everything so far. The hasher stays usable.
  [[nodiscard]] Digest digest() const;
  DigestAlgorithm algorithm() const { return algorithm_; }

 private:
  struct CtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  DigestAlgorithm algorithm_;
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
};

}  // namespace berth::core

template <>
struct std::hash<berth::core::Digest> {
  std::size_t operator()(const berth::core::Digest& d) const noexcept {
    return std::hash<std::string>{}(d.str());
  }
};
