// core::Error is the one error type that crosses layers. It carries an OCI error code, a
// human message, optional JSON detail and, where callers must tell causes apart, a reason.
// Every code maps to exactly one wire code and one HTTP status, in error.cpp; api/errors.cpp
// is the only place that renders it. The message is for people: code never compares it, it
// tests `code` and `reason`.
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
  // 409 DENIED: deleting a blob that images of the repository still use.
  kBlobInUse,
  // 400 for a malformed request outside the registry API (token endpoint, admin API).
  kInvalidRequest,
  kMethodNotAllowed,
  kUnavailable,
  kInternal,
};

// Why an error happened, for the causes that share a code but not a remedy (a blob being
// collected is published again at once; a full disk is not). kNone for every other error.
enum class ErrorReason {
  kNone,
  // Linking a digest whose bytes garbage collection is deleting (meta/gc_store.hpp).
  kBlobBeingCollected,
  // A project's byte or repository quota refused the push.
  kQuotaExceeded,
  // The disk holding blobs or the database has no room for the write.
  kDiskFull,
  // The blob storage has less free space than storage.min_free: new uploads are refused.
  kStorageLow,
  // The database was locked for longer than its busy timeout.
  kDatabaseBusy,
};

struct Error {
  ErrorCode code;
  std::string message;
  // Serialized JSON value, or empty for none.
  std::string detail_json;
  // When the client may try again (TOOMANYREQUESTS, UNAVAILABLE): the Retry-After header.
  std::optional<std::chrono::seconds> retry_after = std::nullopt;
  // Last, so that brace-initialisation by code, message and detail keeps compiling.
  ErrorReason reason = ErrorReason::kNone;

  [[nodiscard]] bool is(ErrorReason r) const { return reason == r; }
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

[[nodiscard]] inline std::unexpected<Error> fail(ErrorCode code, ErrorReason reason,
                                                 std::string message,
                                                 std::string detail_json = {}) {
  return std::unexpected(
      Error{code, std::move(message), std::move(detail_json), std::nullopt, reason});
}

// The error, its message prefixed with what was being done ("cannot open X: <message>"), its
// code and reason kept for the callers that branch on them.
[[nodiscard]] inline std::unexpected<Error> in_context(std::string_view context, Error error) {
  error.message = std::string(context) + ": " + error.message;
  return std::unexpected(std::move(error));
}

}  // namespace berth::core

// Propagates the error of a failed Result (of any value type) from the enclosing function,
// which returns a Result too; the value of a success is discarded. For the many
// `if (auto r = f(); !r) { return std::unexpected(r.error()); }` of plain functions; a
// coroutine (co_return) writes that out.
#define BERTH_TRY(expr)                                             \
  do {                                                              \
    if (auto&& berth_try_result_ = (expr); !berth_try_result_) {    \
      return std::unexpected(std::move(berth_try_result_).error()); \
    }                                                               \
  } while (false)
