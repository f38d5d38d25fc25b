// base64url without padding (RFC 4648 section 5): the encoding of JWS segments and of the
// random secrets Berth hands out. The decoder is strict because it reads untrusted tokens:
// one byte string has exactly one accepted encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::auth {

[[nodiscard]] std::string base64url_encode(std::string_view bytes);

// nullopt for anything but the URL-safe alphabet without padding or whitespace, a length
// that no encoding has (4n+1), or non-zero bits in the unused part of the last character.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace berth::auth
