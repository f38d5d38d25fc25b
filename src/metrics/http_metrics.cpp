#include "metrics/http_metrics.hpp"

#include <algorithm>

namespace berth::metrics {
namespace {

constexpr std::array<std::string_view, kRouteClasses> kRouteLabels = {
    "base",      "manifest", "blob", "upload", "tags",    "catalog",
    "referrers", "token",    "api",  "ui",     "metrics", "other"};

constexpr std::array<std::string_view, kMethods> kMethodLabels = {
    "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "other"};

// The codes Berth's handlers and server answer; anything else counts under its class.
constexpr std::array<unsigned, kStatuses - 5> kCodes = {
    100, 101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405,
    406, 408, 409, 411, 412, 413, 414, 415, 416, 422, 429, 431, 500, 501, 502, 503, 504};
constexpr std::array<std::string_view, kStatuses> kStatusLabels = {
    "100", "101", "200", "201", "202", "204", "206", "301", "302", "303",
    "304", "307", "308", "400", "401", "403", "404", "405", "406", "408",
    "409", "411", "412", "413", "414", "415", "416", "422", "429", "431",
    "500", "501", "502", "503", "504", "1xx", "2xx", "3xx", "4xx", "5xx"};

// status -> slot, computed once at compile time so that recording is one array read.
constexpr std::array<std::uint8_t, 600> kStatusSlots = [] {
  std::array<std::uint8_t, 600> slots{};
  for (unsigned status = 0; status < 600; ++status) {
    const unsigned cls = std::clamp(status / 100, 1u, 5u);
    slots[status] = static_cast<std::uint8_t>(kCodes.size() + cls - 1);
  }
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    slots[kCodes[i]] = static_cast<std::uint8_t>(i);
  }
  return slots;
}();

}  // namespace

std::string_view route_label(RouteClass route) {
  return kRouteLabels[static_cast<std::size_t>(route)];
}

std::size_t method_index(boost::beast::http::verb method) {
  using boost::beast::http::verb;
  switch (method) {
    case verb::get:
      return 0;
    case verb::head:
      return 1;
    case verb::put:
      return 2;
    case verb::post:
      return 3;
    case verb::patch:
      return 4;
    case verb::delete_:
      return 5;
    case verb::options:
      return 6;
    default:
      return kMethods - 1;
  }
}

std::size_t method_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kMethods; ++i) {
    if (method == kMethodLabels[i]) {
      return i;
    }
  }
  return kMethods - 1;
}

std::string_view method_label(std::size_t index) { return kMethodLabels[index]; }

std::size_t status_index(unsigned status) { return kStatusSlots[std::min(status, 599u)]; }

std::string_view status_label(std::size_t index) { return kStatusLabels[index]; }

void HttpMetrics::record(const RequestSample& sample) {
  const std::size_t method = method_index(sample.method);
  const std::size_t at = slot(sample.route, method);
  requests_[at * kStatuses + status_index(sample.status)].add();
  durations_[at].observe_us(
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, sample.duration.count())));
  const auto route = static_cast<std::size_t>(sample.route);
  if (sample.bytes_in != 0) {
    bytes_in_[route].add(sample.bytes_in);
  }
  if (sample.bytes_out != 0) {
    bytes_out_[route].add(sample.bytes_out);
  }
  // A pull is a manifest fetched, a push a manifest stored (as Distribution's and Harbor's
  // figures count them); HEAD checks and blob transfers are in the request counts.
  if (sample.route == RouteClass::kManifest) {
    if (method == 0 && sample.status == 200) {
      pulls_.add();
    } else if (method == 2 && sample.status == 201) {
      pushes_.add();
    }
  }
}

std::uint64_t HttpMetrics::requests(RouteClass route, std::string_view method,
                                    unsigned status) const {
  return requests_[slot(route, method_index(method)) * kStatuses + status_index(status)].value();
}

void HttpMetrics::write(Exposition& out) const {
  out.family("berth_http_requests_total", "counter",
             "HTTP requests answered, by route class, method and status code.");
  for (std::size_t r = 0; r < kRouteClasses; ++r) {
    for (std::size_t m = 0; m < kMethods; ++m) {
      for (std::size_t s = 0; s < kStatuses; ++s) {
        const std::uint64_t n = requests_[slot(RouteClass(r), m) * kStatuses + s].value();
        // Label sets never seen are left out, as client libraries do.
        if (n != 0) {
          out.sample("berth_http_requests_total",
                     {{"route", kRouteLabels[r]},
                      {"method", kMethodLabels[m]},
                      {"code", kStatusLabels[s]}},
                     n);
        }
      }
    }
  }
  out.family("berth_http_request_duration_seconds", "histogram",
             "Time from a request's first byte to the end of its response, by route class and "
             "method.");
  for (std::size_t r = 0; r < kRouteClasses; ++r) {
    for (std::size_t m = 0; m < kMethods; ++m) {
      const Histogram& h = durations_[slot(RouteClass(r), m)];
      if (h.counts() != std::array<std::uint64_t, Histogram::kBuckets>{}) {
        out.histogram("berth_http_request_duration_seconds",
                      {{"route", kRouteLabels[r]}, {"method", kMethodLabels[m]}}, h);
      }
    }
  }
  out.family("berth_http_request_bytes_total", "counter",
             "Request body bytes received, by route class.");
  for (std::size_t r = 0; r < kRouteClasses; ++r) {
    out.sample("berth_http_request_bytes_total", {{"route", kRouteLabels[r]}},
               bytes_in_[r].value());
  }
  out.family("berth_http_response_bytes_total", "counter",
             "Response body bytes sent, by route class.");
  for (std::size_t r = 0; r < kRouteClasses; ++r) {
    out.sample("berth_http_response_bytes_total", {{"route", kRouteLabels[r]}},
               bytes_out_[r].value());
  }
  out.family("berth_http_requests_in_flight", "gauge", "Requests being served now.");
  out.sample("berth_http_requests_in_flight", {}, in_flight_.value());
  out.family("berth_uploads_in_flight", "gauge",
             "Blob upload requests (POST, PATCH, PUT on an upload) being served now.");
  out.sample("berth_uploads_in_flight", {}, uploads_in_flight_.value());
  out.family("berth_pulls_total", "counter", "Manifests fetched (GET answered 200).");
  out.sample("berth_pulls_total", {}, pulls_.value());
  out.family("berth_pushes_total", "counter", "Manifests pushed (PUT answered 201).");
  out.sample("berth_pushes_total", {}, pushes_.value());
}

}  // namespace berth::metrics
