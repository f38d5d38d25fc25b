// The tokens this process has verified. Docker, podman and containerd send the same Bearer
// token with every request of its lifetime; verifying its ES256 signature each time cost more
// CPU than the rest of a manifest HEAD together. A token seen before costs a SHA-256 and a map
// lookup instead, until it expires.
//
// Keyed by the SHA-256 of the token: nothing kept could be presented as a token. Only tokens
// that verified are kept, with the claims verify() returned; failures are checked again each
// time. What a token names is not vouched for here: the gate still asks who its account is now
// (Authenticator::identity_of, answered by the account cache for one account version), so a
// revoked robot or a deleted user is refused on its next request whatever its token says.
//
// Bounded (ShardedCache: the oldest entry goes when a shard is full). Thread-safe; never blocks
// beyond a shard's mutex, so it runs on the event loop.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "auth/sharded_cache.hpp"
#include "auth/token_service.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace berth::auth {

class TokenCache {
 public:
  static constexpr std::size_t kDefaultCapacity = 16 * 1024;

  // tokens and clock must outlive the cache.
  TokenCache(const TokenService& tokens, const core::Clock& clock,
             std::size_t capacity = kDefaultCapacity);

  // TokenService::verify, remembered until the token's expiry.
  [[nodiscard]] core::Result<std::shared_ptr<const TokenClaims>> verify(std::string_view token);

  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  const TokenService& tokens_;
  const core::Clock& clock_;
  ShardedCache<std::shared_ptr<const TokenClaims>> entries_;
};

}  // namespace berth::auth
