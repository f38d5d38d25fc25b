#include "auth/token_cache.hpp"

#include "auth/password.hpp"

namespace berth::auth {

TokenCache::TokenCache(const TokenService& tokens, const core::Clock& clock, std::size_t capacity)
    : tokens_(tokens), clock_(clock), entries_(capacity) {}

core::Result<std::shared_ptr<const TokenClaims>> TokenCache::verify(std::string_view token) {
  const std::string key = token_hash(token);
  const auto now = clock_.now();
  // Kept until the expiry itself, not the verifier's leeway after it: in that last minute the
  // signature is checked again, as it always was.
  auto live = [now](const std::shared_ptr<const TokenClaims>& claims) {
    return now < claims->expires;
  };
  if (auto known = entries_.find(key, live)) {
    return *known;
  }
  auto claims = tokens_.verify(token);
  if (!claims) {
    return std::unexpected(claims.error());
  }
  auto shared = std::make_shared<const TokenClaims>(std::move(*claims));
  if (live(shared)) {
    entries_.put(key, shared);
  }
  return shared;
}

}  // namespace berth::auth
