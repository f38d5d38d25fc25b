// The user names and passwords this process has checked with bcrypt (cost 12: ~0.23 s of CPU
// each) and found right, so that a client sending the same Basic credentials with every
// request, or asking /token for each repository it pulls, pays for one check, not one a
// request.
//
// Nothing reversible is kept: the key is HMAC-SHA-256(user NUL password) under a random key
// made when the process starts and never written anywhere, so the map is of no use to anyone
// who reads the process's memory without that key, and of no use at all after a restart. An
// entry holds the identity the check gave, for at most `ttl` and for one account version
// (account_version.hpp): a password change, a deletion or a demotion ends it at once through
// this process, within auth.cache_sync through another. A lockout of the user ends it too
// (forget_user), and a login answered from here still asks the login throttle first.
//
// Only a right password enters (the Authenticator remembers after a successful check): a
// wrong one costs a full bcrypt check and counts toward the lockout every time, and so does
// the first use of a new password.
//
// Bounded (ShardedCache). Thread-safe; never blocks beyond a shard's mutex.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "auth/account_version.hpp"
#include "auth/identity.hpp"
#include "auth/sharded_cache.hpp"
#include "core/clock.hpp"

namespace berth::auth {

struct CredentialCacheOptions {
  std::chrono::seconds ttl{300};
  std::size_t capacity = 4096;
};

class CredentialCache {
 public:
  // version and clock must outlive the cache.
  CredentialCache(const AccountVersion& version, const core::Clock& clock,
                  CredentialCacheOptions options = {});

  // The version to keep an identity under: read it before asking the store.
  [[nodiscard]] AccountEpoch epoch() const { return version_.current(); }

  // The identity `user` with `password` was found to be, if it still holds.
  [[nodiscard]] std::optional<Identity> find(const std::string& user, const std::string& password);
  // After a successful check, with the version read before the account was.
  void remember(const AccountEpoch& epoch, const std::string& user, const std::string& password,
                const Identity& identity);
  // Drops every entry of `user` (locked out).
  void forget_user(const std::string& user);

  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Known {
    Identity identity;
    AccountEpoch epoch;
    core::TimePoint until;
  };
  [[nodiscard]] std::string key(const std::string& user, const std::string& password) const;

  const AccountVersion& version_;
  const core::Clock& clock_;
  const CredentialCacheOptions options_;
  // HMAC-SHA-256 keyed with the process's random key, copied for each key() (a copy costs half
  // of OpenSSL's one-shot HMAC(), which looks the digest up and sets the key every time).
  struct MacFree {
    void operator()(EVP_MAC_CTX* mac) const;
  };
  std::unique_ptr<EVP_MAC_CTX, MacFree> keyed_mac_;
  ShardedCache<Known> entries_;
};

}  // namespace berth::auth
