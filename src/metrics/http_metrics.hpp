// The request metrics of the HTTP server: requests by route, method and status, their latency,
// bytes in and out, requests and uploads in flight, pulls and pushes.
//
// Every label set is a fixed slot of an array made with the object: the route is one of the
// twelve classes below (set by the handler, api/api.cpp), the method one of eight, the status
// one of the codes Berth answers (others are counted under their class, "4xx"). So recording a
// request is a handful of relaxed atomic increments at indexes computed by arithmetic: no map,
// no lock, no allocation. No label holds a repository or a user: they are unbounded.
#pragma once

#include <array>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "metrics/exposition.hpp"
#include "metrics/instruments.hpp"

namespace berth::metrics {

// What a request asked for: the endpoint classes of api/route.hpp, folded for the route label.
enum class RouteClass : std::uint8_t {
  kBase,
  kManifest,
  kBlob,
  kUpload,
  kTags,
  kCatalog,
  kReferrers,
  kToken,
  kApi,
  kUi,
  kMetrics,
  kOther,
};
inline constexpr std::size_t kRouteClasses = 12;
[[nodiscard]] std::string_view route_label(RouteClass route);

// GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS, and every other method as "other". From the
// parser's verb on the request path (a switch); from the text for queries and tests.
inline constexpr std::size_t kMethods = 8;
[[nodiscard]] std::size_t method_index(boost::beast::http::verb method);
[[nodiscard]] std::size_t method_index(std::string_view method);
[[nodiscard]] std::string_view method_label(std::size_t index);

// The status codes with a slot of their own, then the classes 1xx..5xx for the rest.
[[nodiscard]] std::size_t status_index(unsigned status);
[[nodiscard]] std::string_view status_label(std::size_t index);
inline constexpr std::size_t kStatuses = 40;

// One finished request.
struct RequestSample {
  RouteClass route = RouteClass::kOther;
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  unsigned status = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::chrono::microseconds duration{0};
};

class HttpMetrics {
 public:
  // A request has begun / ended (the in-flight gauges). An upload is a request with a body
  // on the upload route; the server calls upload_started once it knows the route.
  void request_started() { in_flight_.add(); }
  void request_ended() { in_flight_.sub(); }
  void upload_started() { uploads_in_flight_.add(); }
  void upload_ended() { uploads_in_flight_.sub(); }
  void record(const RequestSample& sample);

  void write(Exposition& out) const;

  // For tests and the scrape's own figures.
  std::uint64_t requests(RouteClass route, std::string_view method, unsigned status) const;

 private:
  static std::size_t slot(RouteClass route, std::size_t method) {
    return static_cast<std::size_t>(route) * kMethods + method;
  }

  std::array<Counter, kRouteClasses * kMethods * kStatuses> requests_{};
  std::array<Histogram, kRouteClasses * kMethods> durations_{};
  std::array<Counter, kRouteClasses> bytes_in_{};
  std::array<Counter, kRouteClasses> bytes_out_{};
  Gauge in_flight_;
  Gauge uploads_in_flight_;
  Counter pulls_;
  Counter pushes_;
};

}  // namespace berth::metrics
