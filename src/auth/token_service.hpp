// JSON Web Tokens for the Docker token protocol: issued by /token, checked on every /v2
// request that carries "Authorization: Bearer".
//
// Signing: ES256 (ECDSA P-256 with SHA-256) with a key Berth creates on first start and keeps
// in a PEM file; the JWT header names it with "kid" (the RFC 7638 JWK thumbprint). Checking
// refuses anything but ES256 with our kid (no "alg": "none", no HMAC confusion), a bad
// signature, the wrong issuer or audience, an expired or not-yet-valid token (with a small
// clock-skew leeway), and malformed input of any kind.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "auth/scope.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace berth::auth {

struct TokenClaims {
  std::string issuer;
  std::string subject;  // user name, "robot$name", or "" for anonymous
  std::string audience;
  core::TimePoint issued_at;
  core::TimePoint not_before;
  core::TimePoint expires;
  std::string id;  // jti
  std::vector<Access> access;
  // The account the subject named when the token was issued ("aid", a private claim; see
  // auth::Identity::account); empty when the token has none.
  std::string account;
};

struct TokenServiceOptions {
  std::string issuer = "berth";
  // The "service" clients name, and the audience of the tokens.
  std::string service = "berth";
  std::chrono::seconds ttl{300};
  std::chrono::seconds leeway{60};
};

class TokenService {
 public:
  // Loads the signing key from key_file, creating it (mode 0600, with its directory) if it
  // does not exist. kInternal if the file exists but is not an EC P-256 private key.
  // Blocking (file I/O). clock must outlive the service. issue() and verify() are
  // thread-safe.
  [[nodiscard]] static core::Result<std::unique_ptr<TokenService>> open(
      const std::filesystem::path& key_file, TokenServiceOptions options, const core::Clock& clock);
  ~TokenService();

  // A signed token for subject (and its account, when not empty) with the given access, valid
  // from now for the ttl.
  [[nodiscard]] std::string issue(const std::string& subject, const std::vector<Access>& access,
                                  const std::string& account = {}) const;
  // Checks everything listed at the top; kUnauthorized with a reason on any failure.
  [[nodiscard]] core::Result<TokenClaims> verify(std::string_view token) const;

  const TokenServiceOptions& options() const;
  // The key id written into tokens.
  const std::string& key_id() const;

 private:
  struct Impl;
  explicit TokenService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::auth
