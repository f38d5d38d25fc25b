// core::Error is the one error type that crosses layers. It carries an OCI error code, a
// human message and optional JSON detail. Every code maps to exactly one wire code and one
// HTTP status, in error.cpp; api/errors.cpp is the only place that renders it.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace berth::core {

enum class ErrorCode {
  kBlobUnknown,
  kBlobUploadInvalid,
  kBlobUploadUnknown,
  kDigestInvalid,
  kManifestBlobUnknown,
  kManifestInvalid,
  kManifestUnknown,
  kNameInvalid,
  kNameUnknown,
  kSizeInvalid,
  kTagInvalid,
  kUnauthorized,
  kDenied,
  kUnsupported,
  kTooManyRequests,
  // 416 for a chunk that does not start where the upload ends.
  kUploadOutOfOrder,
  // 416 for a Range header outside the blob.
  kRangeInvalid,
  // 413 for a body above a limit (manifests, JSON).
  kTooLarge,
  kPaginationInvalid,
  kNotFound,
  // 409: creating something that exists (admin API).
  kConflict,
  // 400 for a malformed request outside the registry API (token endpoint, admin API).
  kInvalidRequest,
  kMethodNotAllowed,
  kUnavailable,
  kInternal,
};

struct Error {
  ErrorCode code;
  std::string message;
  // Serialized JSON value, or empty for none.
  std::string detail_json;
  // When the client may try again (TOOMANYREQUESTS, UNAVAILABLE): the Retry-After header.
  std::optional<std::chrono::seconds> retry_after = std::nullopt;
};

template <class T>
using Result = std::expected<T, Error>;

// The wire code, e.g. "BLOB_UNKNOWN".
[[nodiscard]] std::string_view wire_code(ErrorCode code);
[[nodiscard]] int http_status(ErrorCode code);

[[nodiscard]] inline std::unexpected<Error> fail(ErrorCode code, std::string message,
                                                 std::string detail_json = {}) {
  return std::unexpected(Error{code, std::move(message), std::move(detail_json)});
}

}  // namespace berth::core
