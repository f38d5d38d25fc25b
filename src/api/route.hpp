// Splits a request target into the registry endpoint it names and its query parameters.
// Repository names contain slashes, so endpoints are recognised from the end of the path:
//   /v2/                               kBase
//   /v2/_catalog                       kCatalog
//   /v2/<name>/tags/list               kTags
//   /v2/<name>/manifests/<reference>   kManifest
//   /v2/<name>/referrers/<digest>      kReferrers
//   /v2/<name>/blobs/uploads/          kUploads (also without the trailing slash)
//   /v2/<name>/blobs/uploads/<id>      kUpload
//   /v2/<name>/blobs/<digest>          kBlob
//   /token                             kToken
//   /metrics                           kMetrics
//   /api/v1/<rest>                     kAdmin (argument: <rest>)
// Path segments are percent-decoded before matching; the name and argument are returned
// unvalidated (the handlers parse them with core's grammar).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::api {

enum class Endpoint {
  kBase,
  kCatalog,
  kTags,
  kManifest,
  kReferrers,
  kUploads,
  kUpload,
  kBlob,
  kHealth,
  kReady,
  // /token: the Docker token endpoint.
  kToken,
  // /metrics: the Prometheus scrape (administrators; api/metrics_handler.hpp).
  kMetrics,
  // /api/v1/...: the JSON admin API; `argument` holds the path after /api/v1/.
  kAdmin,
  kNotFound,
};

struct Route {
  Endpoint endpoint = Endpoint::kNotFound;
  std::string name;
  std::string argument;
  // Decoded query parameters in order; a key may repeat (?tag=a&tag=b).
  std::vector<std::pair<std::string, std::string>> query;

  // The first value of a parameter.
  std::optional<std::string> param(std::string_view key) const;
  std::vector<std::string> params(std::string_view key) const;
};

[[nodiscard]] Route route(std::string_view target);

// The methods an endpoint answers, for the Allow header of a 405 ("GET, HEAD, PUT, DELETE");
// empty for kAdmin, whose resources each name their own, and kNotFound.
[[nodiscard]] std::string_view allowed_methods(Endpoint endpoint);

// Percent-encodes a query value (for Link headers).
[[nodiscard]] std::string encode_query_value(std::string_view value);

}  // namespace berth::api
