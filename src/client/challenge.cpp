#include "client/challenge.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "core/url_credentials.hpp"
#include "util/ascii.hpp"

namespace berth::client {
namespace {

using core::ErrorCode;

bool is_space(char c) { return c == ' ' || c == '\t'; }

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~/:=").find(c) != std::string_view::npos;
}

void skip_spaces(std::string_view text, std::size_t& i) {
  while (i < text.size() && is_space(text[i])) {
    ++i;
  }
}

}  // namespace

std::optional<Challenge> parse_challenge(std::string_view header) {
  std::size_t i = 0;
  skip_spaces(header, i);
  const std::size_t scheme_start = i;
  while (i < header.size() && !is_space(header[i]) && header[i] != ',') {
    ++i;
  }
  if (i == scheme_start) {
    return std::nullopt;
  }
  Challenge challenge;
  challenge.scheme = util::ascii_lower(header.substr(scheme_start, i - scheme_start));
  for (;;) {
    skip_spaces(header, i);
    while (i < header.size() && header[i] == ',') {
      ++i;
      skip_spaces(header, i);
    }
    if (i >= header.size()) {
      break;
    }
    const std::size_t name_start = i;
    while (i < header.size() && header[i] != '=' && !is_space(header[i]) && header[i] != ',') {
      ++i;
    }
    std::string name = util::ascii_lower(header.substr(name_start, i - name_start));
    skip_spaces(header, i);
    if (i >= header.size() || header[i] != '=' || name.empty()) {
      // A second challenge ("Basic realm=..., Bearer ...") or junk: stop at what we have.
      break;
    }
    ++i;
    skip_spaces(header, i);
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      bool closed = false;
      while (i < header.size()) {
        char c = header[i++];
        if (c == '\\' && i < header.size()) {
          value.push_back(header[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed) {
        return std::nullopt;
      }
    } else {
      while (i < header.size() && is_token_char(header[i]) && header[i] != ',') {
        value.push_back(header[i++]);
      }
    }
    challenge.params[std::move(name)] = std::move(value);
  }
  return challenge;
}

std::string Url::authority() const {
  const bool default_port = (tls && port == "443") || (!tls && port == "80");
  return default_port ? host : host + ":" + port;
}

core::Result<Url> parse_url(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) {
    return core::fail(ErrorCode::kInvalidRequest,
                      "not a URL: " + core::without_url_credentials(text));
  }
  Url url;
  const std::string scheme = util::ascii_lower(parsed->scheme());
  if (scheme != "http" && scheme != "https") {
    return core::fail(ErrorCode::kInvalidRequest, "only http and https URLs are supported: " +
                                                      core::without_url_credentials(text));
  }
  url.tls = scheme == "https";
  url.host = parsed->host_address();
  if (url.host.empty()) {
    return core::fail(ErrorCode::kInvalidRequest,
                      "URL without a host: " + core::without_url_credentials(text));
  }
  // "host:" has a port, an empty one: the scheme's, as with none.
  url.port = parsed->has_port() && !parsed->port().empty() ? std::string(parsed->port())
                                                           : (url.tls ? "443" : "80");
  url.target = std::string(parsed->encoded_path());
  if (url.target.empty()) {
    url.target = "/";
  }
  // After an authority a path is empty or starts with "/" (RFC 3986); Boost.URL 1.81 takes
  // "http://host:x" as host, empty port and path "x", which would make no request line.
  if (!url.target.starts_with("/")) {
    return core::fail(ErrorCode::kInvalidRequest,
                      "not a URL: " + core::without_url_credentials(text));
  }
  if (parsed->has_query()) {
    url.target += "?" + std::string(parsed->encoded_query());
  }
  return url;
}

core::Result<Url> token_url(const Challenge& challenge, std::string_view scope) {
  const std::string realm = challenge.param("realm");
  auto parsed = boost::urls::parse_absolute_uri(realm);
  if (!parsed) {
    return core::fail(ErrorCode::kInvalidRequest,
                      "the upstream's token realm is not a URL: " + realm);
  }
  boost::urls::url url(*parsed);
  if (auto service = challenge.param("service"); !service.empty()) {
    url.params().append({"service", service});
  }
  if (!scope.empty()) {
    url.params().append({"scope", scope});
  }
  return parse_url(url.buffer());
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = std::string(user) + ":" + std::string(password);
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) |
                   (static_cast<unsigned char>(in[i + 1]) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const auto n = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const auto n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return "Basic " + out;
}

}  // namespace berth::client
