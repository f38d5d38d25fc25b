#include "api/route.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace berth::api {

std::optional<std::string> Route::param(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) {
      return v;
    }
  }
  return std::nullopt;
}

std::vector<std::string> Route::params(std::string_view key) const {
  std::vector<std::string> values;
  for (const auto& [k, v] : query) {
    if (k == key) {
      values.push_back(v);
    }
  }
  return values;
}

namespace {

std::string join(const std::vector<std::string>& segments, std::size_t count) {
  std::string name;
  for (std::size_t i = 0; i < count; ++i) {
    if (i != 0) {
      name.push_back('/');
    }
    name += segments[i];
  }
  return name;
}

}  // namespace

Route route(std::string_view target) {
  Route result;
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) {
    return result;
  }
  for (auto param : parsed->params()) {
    result.query.emplace_back(std::string(param.key),
                              param.has_value ? std::string(param.value) : "");
  }
  std::vector<std::string> segments;
  for (auto segment : parsed->segments()) {
    segments.emplace_back(segment);
  }
  // "/v2/" parses as segments {"v2", ""}.
  if (segments.size() == 1 && (segments[0] == "healthz" || segments[0] == "readyz")) {
    result.endpoint = segments[0] == "healthz" ? Endpoint::kHealth : Endpoint::kReady;
    return result;
  }
  if (segments.size() == 1 && segments[0] == "token") {
    result.endpoint = Endpoint::kToken;
    return result;
  }
  if (segments.size() == 1 && segments[0] == "metrics") {
    result.endpoint = Endpoint::kMetrics;
    return result;
  }
  if (segments.size() >= 2 && segments[0] == "api" && segments[1] == "v1") {
    result.endpoint = Endpoint::kAdmin;
    for (std::size_t i = 2; i < segments.size(); ++i) {
      result.argument += (i == 2 ? "" : "/") + segments[i];
    }
    return result;
  }
  if (segments.empty() || segments[0] != "v2") {
    return result;
  }
  segments.erase(segments.begin());
  if (segments.empty() || (segments.size() == 1 && segments[0].empty())) {
    result.endpoint = Endpoint::kBase;
    return result;
  }
  if (segments.size() == 1 && segments[0] == "_catalog") {
    result.endpoint = Endpoint::kCatalog;
    return result;
  }
  const std::size_t n = segments.size();
  auto at = [&](std::size_t from_end) -> const std::string& { return segments[n - from_end]; };
  auto set = [&](Endpoint endpoint, std::size_t name_segments, std::string argument) {
    if (name_segments == 0) {
      return false;
    }
    result.endpoint = endpoint;
    result.name = join(segments, name_segments);
    result.argument = std::move(argument);
    return true;
  };
  if (n >= 3 && at(2) == "blobs" && at(1) == "uploads" && set(Endpoint::kUploads, n - 2, "")) {
    return result;
  }
  if (n >= 4 && at(3) == "blobs" && at(2) == "uploads") {
    set(at(1).empty() ? Endpoint::kUploads : Endpoint::kUpload, n - 3, at(1));
    return result;
  }
  if (n >= 3 && at(2) == "tags" && at(1) == "list" && set(Endpoint::kTags, n - 2, "")) {
    return result;
  }
  if (n >= 3 && at(2) == "manifests" && set(Endpoint::kManifest, n - 2, at(1))) {
    return result;
  }
  if (n >= 3 && at(2) == "referrers" && set(Endpoint::kReferrers, n - 2, at(1))) {
    return result;
  }
  if (n >= 3 && at(2) == "blobs" && set(Endpoint::kBlob, n - 2, at(1))) {
    return result;
  }
  return result;
}

std::string_view allowed_methods(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kBase:
    case Endpoint::kHealth:
    case Endpoint::kReady:
    case Endpoint::kMetrics:
      return "GET, HEAD";
    case Endpoint::kCatalog:
    case Endpoint::kTags:
    case Endpoint::kReferrers:
      return "GET";
    case Endpoint::kManifest:
      return "GET, HEAD, PUT, DELETE";
    case Endpoint::kBlob:
      return "GET, HEAD, DELETE";
    case Endpoint::kUploads:
      return "POST";
    case Endpoint::kUpload:
      return "GET, PATCH, PUT, DELETE";
    case Endpoint::kToken:
      return "GET, POST";
    case Endpoint::kAdmin:
    case Endpoint::kNotFound:
      return "";
  }
  return "";
}

std::string encode_query_value(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == ':';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace berth::api
