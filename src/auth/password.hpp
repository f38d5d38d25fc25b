// Password hashing with bcrypt through libcrypt (crypt_gensalt_rn / crypt_rn), the same
// "$2b$" / "$2y$" hashes htpasswd -B writes. Verification is slow on purpose (cost 12 by
// default, ~0.2 s): call it on the blocking pool, never on an event loop.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace berth::auth {

inline constexpr int kDefaultBcryptCost = 12;
inline constexpr int kMinBcryptCost = 4;
inline constexpr int kMaxBcryptCost = 31;
// bcrypt reads no further than this many bytes of a password.
inline constexpr std::size_t kMaxPasswordLength = 72;

// A new bcrypt hash with a fresh random salt. kUnsupported for a password bcrypt would not
// hash faithfully (a NUL byte, or longer than kMaxPasswordLength: another password would
// verify too); kInternal for a cost outside [4, 31] or if libcrypt fails.
[[nodiscard]] core::Result<std::string> hash_password(std::string_view password,
                                                      int cost = kDefaultBcryptCost);

// True iff hash is a bcrypt hash ($2a$, $2b$ or $2y$) of password. Any other kind of hash is
// false, never "accepted", and so is a password containing a NUL byte. Constant-time
// comparison of the result.
[[nodiscard]] bool verify_password(std::string_view password, std::string_view hash);

// True for "$2a$", "$2b$", "$2y$" hashes of a well-formed shape.
[[nodiscard]] bool is_bcrypt_hash(std::string_view hash);

// SHA-256 hex of a high-entropy secret (robot and refresh tokens).
[[nodiscard]] std::string token_hash(std::string_view token);

// A new random secret: prefix + 43 base64url characters (256 bits).
[[nodiscard]] std::string random_token(std::string_view prefix);

// Compares in time independent of where the inputs differ.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace berth::auth
