// Content digests: the "algorithm:hex" identifiers of the OCI image spec, and the streaming
// hasher that computes them while bytes arrive. Only sha256 and sha512 are accepted; a digest
// that parses is always safe to use as part of a storage key (lowercase hex of fixed length).
#pragma once

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

// Incremental hashing whose running state can be saved as text and restored in another process
// (hasher.cpp says why this is not OpenSSL's EVP interface). Not thread-safe; copyable so that
// a partial state can be snapshotted (for resumable uploads).
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm = DigestAlgorithm::kSha256);
  Hasher(const Hasher& other);
  Hasher& operator=(const Hasher& other);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // The digest of everything so far. The hasher stays usable.
  [[nodiscard]] Digest digest() const;
  DigestAlgorithm algorithm() const { return algorithm_; }
  // How many bytes were hashed so far.
  [[nodiscard]] std::uint64_t size() const;

  // The running state, as printable text that restore() takes back (in this process or any
  // other, of this version of Berth or a later one): a resumable upload keeps it with its
  // record, so that any replica continues the hash without reading back the stored bytes.
  // Starts with its format version ("1:").
  [[nodiscard]] std::string save() const;
  // The hasher a save() described. kInternal for anything else: a format version this build
  // does not know, or damaged text; the caller then hashes the bytes again.
  [[nodiscard]] static Result<Hasher> restore(std::string_view saved);

 private:
  struct State;
  explicit Hasher(std::unique_ptr<State> state);

  DigestAlgorithm algorithm_;
  std::unique_ptr<State> state_;
};

}  // namespace berth::core

template <>
struct std::hash<berth::core::Digest> {
  std::size_t operator()(const berth::core::Digest& d) const noexcept {
    return std::hash<std::string>{}(d.str());
  }
};
