#include "core/error.hpp"

namespace berth::core {
namespace {

struct Mapping {
  std::string_view wire;
  int status;
};

// The one table from code to wire code and HTTP status. MANIFEST_BLOB_UNKNOWN is 400 as in
// Distribution: the manifest is the bad request, not a missing resource.
constexpr Mapping map(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown:
      return {"BLOB_UNKNOWN", 404};
    case ErrorCode::kBlobUploadInvalid:
      return {"BLOB_UPLOAD_INVALID", 400};
    case ErrorCode::kBlobUploadUnknown:
      return {"BLOB_UPLOAD_UNKNOWN", 404};
    case ErrorCode::kDigestInvalid:
      return {"DIGEST_INVALID", 400};
    case ErrorCode::kManifestBlobUnknown:
      return {"MANIFEST_BLOB_UNKNOWN", 400};
    case ErrorCode::kManifestInvalid:
      return {"MANIFEST_INVALID", 400};
    case ErrorCode::kManifestUnknown:
      return {"MANIFEST_UNKNOWN", 404};
    case ErrorCode::kNameInvalid:
      return {"NAME_INVALID", 400};
    case ErrorCode::kNameUnknown:
      return {"NAME_UNKNOWN", 404};
    case ErrorCode::kSizeInvalid:
      return {"SIZE_INVALID", 400};
    case ErrorCode::kTagInvalid:
      return {"TAG_INVALID", 400};
    case ErrorCode::kUnauthorized:
      return {"UNAUTHORIZED", 401};
    case ErrorCode::kDenied:
      return {"DENIED", 403};
    case ErrorCode::kUnsupported:
      return {"UNSUPPORTED", 415};
    case ErrorCode::kTooManyRequests:
      return {"TOOMANYREQUESTS", 429};
    case ErrorCode::kUploadOutOfOrder:
      return {"BLOB_UPLOAD_INVALID", 416};
    case ErrorCode::kRangeInvalid:
      return {"RANGE_INVALID", 416};
    case ErrorCode::kTooLarge:
      return {"SIZE_INVALID", 413};
    case ErrorCode::kPaginationInvalid:
      return {"PAGINATION_NUMBER_INVALID", 400};
    case ErrorCode::kNotFound:
      return {"NOT_FOUND", 404};
    case ErrorCode::kConflict:
      return {"CONFLICT", 409};
    case ErrorCode::kBlobInUse:
      // DENIED is the spec's code for a refusal; 409 says what to change to be let through.
      return {"DENIED", 409};
    case ErrorCode::kInvalidRequest:
      return {"INVALID_REQUEST", 400};
    case ErrorCode::kMethodNotAllowed:
      return {"UNSUPPORTED", 405};
    case ErrorCode::kUnavailable:
      return {"UNAVAILABLE", 503};
    case ErrorCode::kInternal:
      return {"UNKNOWN", 500};
  }
  return {"UNKNOWN", 500};
}

}  // namespace

std::string_view wire_code(ErrorCode code) { return map(code).wire; }
int http_status(ErrorCode code) { return map(code).status; }

}  // namespace berth::core
