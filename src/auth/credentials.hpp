// The Authorization header of a request: "Basic base64(user:password)" or "Bearer <token>".
// Untrusted input; fuzzed (fuzz/fuzz_credentials.cpp).
#pragma once

#include <string>
#include <string_view>

namespace berth::auth {

struct Credentials {
  enum class Kind { kNone, kBasic, kBearer, kMalformed };
  Kind kind = Kind::kNone;
  std::string user;
  std::string password;
  std::string token;
};

// Empty header: kNone. An unknown scheme or broken encoding: kMalformed (the caller answers
// 401, never treats it as anonymous).
[[nodiscard]] Credentials parse_authorization(std::string_view header);

// Standard base64 (with padding) decoding; nullopt-like empty result plus false on error.
[[nodiscard]] bool decode_base64(std::string_view text, std::string& out);

}  // namespace berth::auth
