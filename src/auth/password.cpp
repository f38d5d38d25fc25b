// bcrypt through libxcrypt's reentrant calls. crypt_rn works in a caller-supplied
// struct crypt_data (32 KiB, so it lives on the heap, never on a pool thread's stack) and
// returns NULL on failure instead of the "*0" sentinel crypt() uses, so a failure can never
// be mistaken for a hash.
#include "auth/password.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <memory>
#include <stdexcept>

#include "auth/base64url.hpp"

namespace berth::auth {
namespace {

constexpr std::string_view kBcryptAlphabet =
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// "$2b$" "12" "$" then 22 characters of salt and 31 of hash.
constexpr std::size_t kBcryptHashLength = 60;

bool is_bcrypt_char(char c) { return kBcryptAlphabet.find(c) != std::string_view::npos; }

// Scrubs the copy of a password handed to libcrypt (which needs a NUL-terminated string).
class SecretString {
 public:
  explicit SecretString(std::string_view text) : text_(text) {}
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString() { OPENSSL_cleanse(text_.data(), text_.size()); }
  const char* c_str() const { return text_.c_str(); }

 private:
  std::string text_;
};

}  // namespace

bool is_bcrypt_hash(std::string_view hash) {
  if (hash.size() != kBcryptHashLength) {
    return false;
  }
  const std::string_view prefix = hash.substr(0, 4);
  if (prefix != "$2a$" && prefix != "$2b$" && prefix != "$2y$") {
    return false;
  }
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9' || hash[6] != '$') {
    return false;
  }
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < kMinBcryptCost || cost > kMaxBcryptCost) {
    return false;
  }
  for (char c : hash.substr(7)) {
    if (!is_bcrypt_char(c)) {
      return false;
    }
  }
  return true;
}

core::Result<std::string> hash_password(std::string_view password, int cost) {
  if (cost < kMinBcryptCost || cost > kMaxBcryptCost) {
    return core::fail(core::ErrorCode::kInternal, "bcrypt cost must be between 4 and 31");
  }
  // A C string cannot carry a NUL, and bcrypt reads only the first 72 bytes: either way a
  // different password would verify too, so such passwords are refused up front.
  if (password.find('\0') != std::string_view::npos) {
    return core::fail(core::ErrorCode::kUnsupported, "a password must not contain a NUL byte");
  }
  if (password.size() > kMaxPasswordLength) {
    return core::fail(core::ErrorCode::kUnsupported,
                      "a password must be at most 72 bytes (bcrypt ignores the rest)");
  }
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> salt{};
  // NULL random bytes: libcrypt reads the salt from the kernel's CSPRNG itself.
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, salt.data(),
                       static_cast<int>(salt.size())) == nullptr) {
    return core::fail(core::ErrorCode::kInternal, "crypt_gensalt_rn failed");
  }
  auto data = std::make_unique<crypt_data>();
  const SecretString phrase(password);
  const char* hashed =
      crypt_rn(phrase.c_str(), salt.data(), data.get(), static_cast<int>(sizeof(crypt_data)));
  if (hashed == nullptr || !is_bcrypt_hash(hashed)) {
    return core::fail(core::ErrorCode::kInternal, "crypt_rn failed");
  }
  return std::string(hashed);
}

bool verify_password(std::string_view password, std::string_view hash) {
  if (!is_bcrypt_hash(hash) || password.find('\0') != std::string_view::npos) {
    return false;
  }
  auto data = std::make_unique<crypt_data>();
  const SecretString phrase(password);
  const std::string setting(hash);
  const char* hashed =
      crypt_rn(phrase.c_str(), setting.c_str(), data.get(), static_cast<int>(sizeof(crypt_data)));
  if (hashed == nullptr) {
    return false;
  }
  const bool equal = constant_time_equal(hashed, hash);
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return equal;
}

std::string token_hash(std::string_view token) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

std::string random_token(std::string_view prefix) {
  std::array<unsigned char, 32> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  std::string token(prefix);
  token +=
      base64url_encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  OPENSSL_cleanse(raw.data(), raw.size());
  return token;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // The length is not secret (every bcrypt hash has 60 characters, every token hash 64);
  // only where the bytes differ is.
  if (a.size() != b.size()) {
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace berth::auth
