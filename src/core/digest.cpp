#include "core/digest.hpp"

namespace berth::core {
namespace {

std::size_t hex_length(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? 64 : 128;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// The image spec's grammar for the algorithm part: [a-z0-9]+([+._-][a-z0-9]+)*
bool is_algorithm_grammar(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  bool after_separator = true;
  for (char c : s) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) {
      after_separator = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      if (after_separator) {
        return false;
      }
      after_separator = true;
    } else {
      return false;
    }
  }
  return !after_separator;
}

}  // namespace

std::string_view algorithm_name(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? "sha256" : "sha512";
}

Result<Digest> Digest::parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return fail(ErrorCode::kDigestInvalid, "digest has no algorithm: expected algorithm:hex");
  }
  std::string_view algorithm = text.substr(0, colon);
  std::string_view encoded = text.substr(colon + 1);
  if (!is_algorithm_grammar(algorithm)) {
    return fail(ErrorCode::kDigestInvalid, "digest algorithm is malformed");
  }
  DigestAlgorithm parsed;
  if (algorithm == "sha256") {
    parsed = DigestAlgorithm::kSha256;
  } else if (algorithm == "sha512") {
    parsed = DigestAlgorithm::kSha512;
  } else {
    return fail(ErrorCode::kDigestInvalid, "unsupported digest algorithm (sha256 and sha512 are)");
  }
  if (encoded.size() != hex_length(parsed) || !is_lower_hex(encoded)) {
    return fail(ErrorCode::kDigestInvalid, "digest hex has the wrong length or characters");
  }
  return Digest(parsed, std::string(text));
}

Digest Digest::of(std::string_view bytes, DigestAlgorithm algorithm) {
  Hasher hasher(algorithm);
  hasher.update(bytes);
  return hasher.digest();
}

std::string_view Digest::hex() const {
  return std::string_view(text_).substr(algorithm_name(algorithm_).size() + 1);
}

}  // namespace berth::core
