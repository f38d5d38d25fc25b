// Digest::parse against an independent oracle, and the Hasher: any split of the input
// hashed incrementally, or through a copied snapshot, equals the one-shot digest.
#include <string>

#include "core/digest.hpp"
#include "fuzz_check.hpp"

namespace {

using berth::core::Digest;
using berth::core::DigestAlgorithm;
using berth::core::ErrorCode;
using berth::core::Hasher;

bool lower_hex_of_length(std::string_view s, std::size_t n) {
  if (s.size() != n) {
    return false;
  }
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool oracle(std::string_view text) {
  if (text.starts_with("sha256:")) return lower_hex_of_length(text.substr(7), 64);
  if (text.starts_with("sha512:")) return lower_hex_of_length(text.substr(7), 128);
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = berth::fuzz::as_text(data, size);

  auto digest = Digest::parse(text);
  FUZZ_CHECK(digest.has_value() == oracle(text));
  if (digest) {
    FUZZ_CHECK(digest->str() == text);
    std::string_view algorithm = berth::core::algorithm_name(digest->algorithm());
    FUZZ_CHECK(text.substr(0, algorithm.size()) == algorithm);
    FUZZ_CHECK(digest->hex() == text.substr(algorithm.size() + 1));
    auto again = Digest::parse(digest->str());
    FUZZ_CHECK(again && *again == *digest && again->algorithm() == digest->algorithm());
  } else {
    FUZZ_CHECK(digest.error().code == ErrorCode::kDigestInvalid);
  }

  // Hashing: the first byte picks the split point.
  const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  for (auto algorithm : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    Digest whole = Digest::of(text, algorithm);
    FUZZ_CHECK(Digest::parse(whole.str()).has_value());
    Hasher hasher(algorithm);
    hasher.update(text.substr(0, split));
    Hasher snapshot(hasher);
    FUZZ_CHECK(snapshot.digest() == Digest::of(text.substr(0, split), algorithm));
    hasher.update(text.substr(split));
    FUZZ_CHECK(hasher.digest() == whole);
    snapshot.update(text.substr(split));
    FUZZ_CHECK(snapshot.digest() == whole);
  }
  return 0;
}
