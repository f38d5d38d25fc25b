// Header names and values of the registry protocol.
#pragma once

#include <string_view>

namespace berth::api {

inline constexpr std::string_view kApiVersionHeader = "Docker-Distribution-API-Version";
inline constexpr std::string_view kApiVersion = "registry/2.0";
inline constexpr std::string_view kContentDigestHeader = "Docker-Content-Digest";
inline constexpr std::string_view kUploadUuidHeader = "Docker-Upload-UUID";
inline constexpr std::string_view kSubjectHeader = "OCI-Subject";
inline constexpr std::string_view kFiltersAppliedHeader = "OCI-Filters-Applied";
inline constexpr std::string_view kJsonContentType = "application/json; charset=utf-8";
inline constexpr std::string_view kOctetStream = "application/octet-stream";

}  // namespace berth::api
