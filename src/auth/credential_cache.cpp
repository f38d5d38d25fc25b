#include "auth/credential_cache.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace berth::auth {

CredentialCache::CredentialCache(const AccountVersion& version, const core::Clock& clock,
                                 CredentialCacheOptions options)
    : version_(version), clock_(clock), options_(options), entries_(options.capacity) {
  if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no key for the credential cache");
  }
}

std::string CredentialCache::key(const std::string& user, const std::string& password) const {
  // NUL cannot be part of a user name that matches anything, nor of a password bcrypt accepts
  // (password.hpp), so ("ab", "c") and ("a", "bc") never share a key.
  std::string message = user;
  message.push_back('\0');
  message += password;
  std::string mac(EVP_MAX_MD_SIZE, '\0');
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(),
           reinterpret_cast<unsigned char*>(mac.data()), &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA-256 failed");
  }
  OPENSSL_cleanse(message.data(), message.size());
  mac.resize(length);
  return mac;
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
