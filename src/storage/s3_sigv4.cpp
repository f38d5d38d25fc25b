// SigV4 signing (s3_sigv4.hpp), step by step as AWS documents it: canonical request, string to
// sign, derived signing key, signature.
#include "storage/s3_sigv4.hpp"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>

#include "util/ascii.hpp"

namespace berth::storage::s3 {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string hex(const unsigned char* data, std::size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

// Trims the value and collapses runs of spaces into one, as the canonical headers require.
std::string trim_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += c;
  }
  return out;
}

// (name, value) lowercased, trimmed, sorted by name, values of repeated names joined by ','.
Pairs canonical_headers(const Pairs& headers) {
  Pairs sorted;
  for (const auto& [name, value] : headers) {
    sorted.emplace_back(util::ascii_lower(name), trim_value(value));
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  Pairs joined;
  for (auto& [name, value] : sorted) {
    if (!joined.empty() && joined.back().first == name) {
      joined.back().second += "," + value;
    } else {
      joined.emplace_back(std::move(name), std::move(value));
    }
  }
  return joined;
}

std::string signed_header_names(const Pairs& canonical) {
  std::string out;
  for (const auto& [name, value] : canonical) {
    out += (out.empty() ? "" : ";") + name;
  }
  return out;
}

std::string scope_of(std::string_view date, std::string_view region, std::string_view service) {
  std::string scope(date.substr(0, 8));
  scope.append("/").append(region).append("/").append(service).append("/aws4_request");
  return scope;
}

std::string sign(std::string_view secret, std::string_view date, std::string_view region,
                 std::string_view service, std::string_view canonical) {
  const std::string to_sign = std::string(kAlgorithm) + "\n" + std::string(date) + "\n" +
                              scope_of(date, region, service) + "\n" + sha256_hex(canonical);
  std::string key = hmac("AWS4" + std::string(secret), date.substr(0, 8));
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, "aws4_request");
  const std::string signature = hmac(key, to_sign);
  return hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace

std::string uri_encode(std::string_view text, bool encode_slash) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (c == '/' && !encode_slash)) {
      out += c;
    } else {
      constexpr char kUpper[] = "0123456789ABCDEF";
      out += '%';
      out += kUpper[byte >> 4];
      out += kUpper[byte & 0xf];
    }
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[17];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::string canonical_query(const Pairs& query) {
  Pairs encoded;
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uri_encode(name, true), uri_encode(value, true));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    out += (out.empty() ? "" : "&") + name + "=" + value;
  }
  return out;
}

std::string canonical_request(const SignableRequest& request) {
  const Pairs headers = canonical_headers(request.headers);
  std::string out =
      request.method + "\n" + request.path + "\n" + canonical_query(request.query) + "\n";
  for (const auto& [name, value] : headers) {
    out += name + ":" + value + "\n";
  }
  out += "\n" + signed_header_names(headers) + "\n" + request.payload_hash;
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return hex(digest, sizeof digest);
}

std::string authorization(const SignableRequest& request, const Credentials& credentials,
                          std::string_view region, std::string_view service,
                          std::chrono::system_clock::time_point when) {
  const std::string date = amz_date(when);
  const std::string signature =
      sign(credentials.secret_key, date, region, service, canonical_request(request));
  return std::string(kAlgorithm) + " Credential=" + credentials.access_key + "/" +
         scope_of(date, region, service) +
         ", SignedHeaders=" + signed_header_names(canonical_headers(request.headers)) +
         ", Signature=" + signature;
}

std::string presigned_query(std::string_view method, std::string_view path, std::string_view host,
                            const Credentials& credentials, std::string_view region,
                            std::chrono::system_clock::time_point when,
                            std::chrono::seconds expires) {
  const std::string date = amz_date(when);
  SignableRequest request;
  request.method = std::string(method);
  request.path = std::string(path);
  request.query = {
      {"X-Amz-Algorithm", std::string(kAlgorithm)},
      {"X-Amz-Credential", credentials.access_key + "/" + scope_of(date, region, "s3")},
      {"X-Amz-Date", date},
      {"X-Amz-Expires", std::to_string(expires.count())},
      {"X-Amz-SignedHeaders", "host"},
  };
  if (!credentials.session_token.empty()) {
    request.query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  request.headers = {{"host", std::string(host)}};
  request.payload_hash = std::string(kUnsignedPayload);
  const std::string signature =
      sign(credentials.secret_key, date, region, "s3", canonical_request(request));
  return canonical_query(request.query) + "&X-Amz-Signature=" + signature;
}

}  // namespace berth::storage::s3
