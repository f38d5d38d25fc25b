// What an upstream registry's 401 asks for: the WWW-Authenticate header of RFC 7235, as
// registries send it ("Bearer realm=\"...\",service=\"...\",scope=\"...\"" or
// "Basic realm=\"...\""). Only the first challenge is read; registries send one.
//
// Also the small URL pieces the client needs: splitting a base URL, and building the token
// request of the Docker token protocol. Pure functions, no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace berth::client {

struct Challenge {
  // Lowercased: "bearer" or "basic" (or whatever else the server named).
  std::string scheme;
  // Parameter names lowercased, values unquoted and unescaped.
  std::map<std::string, std::string> params;

  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
};

// nullopt when the header is empty or cannot be read.
[[nodiscard]] std::optional<Challenge> parse_challenge(std::string_view header);

struct Url {
  bool tls = false;
  std::string host;
  // Always set: "443" / "80" when the URL gives none.
  std::string port;
  // The path and query, "/" at least.
  std::string target;
  // "host" or "host:port" as the Host header wants it.
  std::string authority() const;
};

// "https://host[:port][/path][?query]"; only http and https.
[[nodiscard]] core::Result<Url> parse_url(std::string_view text);

// The target of a token request: realm's path and query plus service and scope parameters.
[[nodiscard]] core::Result<Url> token_url(const Challenge& challenge, std::string_view scope);

// "Basic base64(user:password)".
[[nodiscard]] std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace berth::client
