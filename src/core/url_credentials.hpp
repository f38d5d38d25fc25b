// Credentials written into a URL ("https://user:secret@host/"): found and blanked out, so that
// a URL can be refused with a message, logged or shown by `berth config show` without the
// secret. Text in, text out: no parsing beyond RFC 3986's authority (between "://" and the
// first "/", "?" or "#"), where an "@" can only end a userinfo.
#pragma once

#include <string>
#include <string_view>

namespace berth::core {

// Whether the URL's authority carries a userinfo ("user@", "user:password@").
[[nodiscard]] bool has_url_credentials(std::string_view url);

// The URL with its userinfo replaced by "***" ("https://***@host/"); unchanged without one.
[[nodiscard]] std::string without_url_credentials(std::string_view url);

}  // namespace berth::core
