// AWS Signature Version 4, as S3 wants it: the canonical request, the string to sign, the
// signing key and the Authorization header, and presigned URLs. Pure functions over strings
// (plus OpenSSL's HMAC-SHA256), checked against AWS's published test vectors in
// s3_sigv4_test.cpp.
//
// Payloads: Berth sends `x-amz-content-sha256: UNSIGNED-PAYLOAD` on every request but the few
// small XML bodies that S3 requires a checksum for (DeleteObjects carries Content-MD5 and
// its SHA-256). A part of a blob is never hashed twice: TLS protects it on the wire, the
// registry verifies the whole blob's digest before publishing it, and streaming
// (aws-chunked) signatures would cost a signature per chunk for no extra assurance here.
//
// S3 differs from other services in two ways that matter here: the path is encoded once (the
// caller passes it already encoded, segment by segment) and never normalised.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::storage::s3 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  // From STS (AWS_SESSION_TOKEN); empty for long-term keys.
  std::string session_token;
};

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct SignableRequest {
  std::string method;
  // Canonical URI: already percent-encoded, "/" separated ("/bucket/blobs/sha256/ab/ab...").
  std::string path;
  // Raw (not yet encoded) names and values; order does not matter.
  Pairs query;
  // Every header to sign, host and x-amz-date among them; names in any case.
  Pairs headers;
  // Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_hash;
};

inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, every other byte
// becomes %XX (upper-case hex); '/' stays unless encode_slash.
[[nodiscard]] std::string uri_encode(std::string_view text, bool encode_slash);
// "20150830T123600Z".
[[nodiscard]] std::string amz_date(std::chrono::system_clock::time_point when);
// The query string in canonical order and encoding: "Param1=value1&Param2=value2".
[[nodiscard]] std::string canonical_query(const Pairs& query);
[[nodiscard]] std::string canonical_request(const SignableRequest& request);
[[nodiscard]] std::string sha256_hex(std::string_view bytes);

// The Authorization header's value for request, signed at `when` ("x-amz-date" in the request
// must be amz_date(when)).
[[nodiscard]] std::string authorization(const SignableRequest& request,
                                        const Credentials& credentials, std::string_view region,
                                        std::string_view service,
                                        std::chrono::system_clock::time_point when);

// A presigned request: the query string (canonical order, X-Amz-Signature last) that makes
// `method path` on `host` valid without headers for `expires`, from `when`. Signs only the
// host header and an unsigned payload, as AWS's own presigners do.
[[nodiscard]] std::string presigned_query(std::string_view method, std::string_view path,
                                          std::string_view host, const Credentials& credentials,
                                          std::string_view region,
                                          std::chrono::system_clock::time_point when,
                                          std::chrono::seconds expires);

}  // namespace berth::storage::s3
