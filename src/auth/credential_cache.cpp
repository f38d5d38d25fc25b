#include "auth/credential_cache.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace berth::auth {

void CredentialCache::MacFree::operator()(EVP_MAC_CTX* mac) const { EVP_MAC_CTX_free(mac); }

CredentialCache::CredentialCache(const AccountVersion& version, const core::Clock& clock,
                                 CredentialCacheOptions options)
    : version_(version), clock_(clock), options_(options), entries_(options.capacity) {
  std::array<unsigned char, 32> secret{};
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no key for the credential cache");
  }
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac != nullptr) {
    keyed_mac_.reset(EVP_MAC_CTX_new(hmac));
    EVP_MAC_free(hmac);  // the context holds its own reference
  }
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  const bool keyed =
      keyed_mac_ && EVP_MAC_init(keyed_mac_.get(), secret.data(), secret.size(), params) == 1;
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!keyed) {
    throw std::runtime_error("no HMAC-SHA-256 for the credential cache");
  }
}

std::string CredentialCache::key(const std::string& user, const std::string& password) const {
  // NUL cannot be part of a user name that matches anything, nor of a password bcrypt accepts
  // (password.hpp), so ("ab", "c") and ("a", "bc") never share a key.
  const std::unique_ptr<EVP_MAC_CTX, MacFree> mac(EVP_MAC_CTX_dup(keyed_mac_.get()));
  const unsigned char separator = 0;
  std::string out(EVP_MAX_MD_SIZE, '\0');
  std::size_t length = 0;
  if (!mac ||
      EVP_MAC_update(mac.get(), reinterpret_cast<const unsigned char*>(user.data()), user.size()) !=
          1 ||
      EVP_MAC_update(mac.get(), &separator, 1) != 1 ||
      EVP_MAC_update(mac.get(), reinterpret_cast<const unsigned char*>(password.data()),
                     password.size()) != 1 ||
      EVP_MAC_final(mac.get(), reinterpret_cast<unsigned char*>(out.data()), &length, out.size()) !=
          1) {
    throw std::runtime_error("HMAC-SHA-256 failed");
  }
  out.resize(length);
  return out;
}

std::optional<Identity> CredentialCache::find(const std::string& user,
                                              const std::string& password) {
  const auto epoch = version_.current();
  const auto now = clock_.now();
  auto known = entries_.find(key(user, password), [&](const Known& known) {
    return known.epoch == epoch && now < known.until;
  });
  if (!known) {
    return std::nullopt;
  }
  return std::move(known->identity);
}

void CredentialCache::remember(const AccountEpoch& epoch, const std::string& user,
                               const std::string& password, const Identity& identity) {
  entries_.put(key(user, password), Known{identity, epoch, clock_.now() + options_.ttl});
}

void CredentialCache::forget_user(const std::string& user) {
  entries_.erase_if([&](const Known& known) { return known.identity.name == user; });
}

}  // namespace berth::auth
