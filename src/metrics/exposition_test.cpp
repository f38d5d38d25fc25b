// The text format of a scrape, checked line by line against the 0.0.4 grammar's rules that a
// parser trips on: HELP/TYPE before samples, escaped label values, cumulative buckets ending in
// +Inf with _count equal to it, sums in seconds. (The black-box test in tests/metrics also
// parses a real scrape with python3-prometheus-client.)
#include "metrics/exposition.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "metrics/http_metrics.hpp"
#include "metrics/operations.hpp"

namespace berth::metrics {
namespace {

namespace bhttp = boost::beast::http;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

TEST(Exposition, FamilyHasHelpAndTypeBeforeItsSamples) {
  Exposition out;
  out.family("berth_x_total", "counter", "Things \\ counted\nhere.");
  out.sample("berth_x_total", {{"kind", "a\"b\\c\nd"}}, std::uint64_t{3});
  out.sample("berth_x_total", {}, std::uint64_t{0});
  EXPECT_EQ(out.text(),
            "# HELP berth_x_total Things \\\\ counted\\nhere.\n"
            "# TYPE berth_x_total counter\n"
            "berth_x_total{kind=\"a\\\"b\\\\c\\nd\"} 3\n"
            "berth_x_total 0\n");
}

TEST(Exposition, ValuesAreWrittenAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1e6), "1000000");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
  Exposition out;
  out.sample("g", {}, std::int64_t{-2});
  EXPECT_EQ(out.text(), "g -2\n");
}

TEST(Exposition, HistogramBucketsAreCumulativeAndEndAtInf) {
  Histogram h;
  h.observe_us(1'000);        // on the bound: the 1 ms bucket
  h.observe_us(5'000);        // on the bound: still the 5 ms bucket
  h.observe_us(200'000);      // <= 250 ms
  h.observe_us(900'000'000);  // beyond every bound
  Exposition out;
  out.histogram("d_seconds", {{"route", "blob"}}, h);
  const auto got = lines(out.text());
  ASSERT_EQ(got.size(), Histogram::kBuckets + 2);
  // Below 5 ms too (before, 5 ms was the first bound: every cached HEAD fell in it).
  EXPECT_EQ(got[0], "d_seconds_bucket{route=\"blob\",le=\"0.00025\"} 0");
  EXPECT_EQ(got[1], "d_seconds_bucket{route=\"blob\",le=\"0.0005\"} 0");
  EXPECT_EQ(got[2], "d_seconds_bucket{route=\"blob\",le=\"0.001\"} 1");
  EXPECT_EQ(got[3], "d_seconds_bucket{route=\"blob\",le=\"0.0025\"} 1");
  EXPECT_EQ(got[4], "d_seconds_bucket{route=\"blob\",le=\"0.005\"} 2");
  EXPECT_EQ(got[8], "d_seconds_bucket{route=\"blob\",le=\"0.1\"} 2");
  EXPECT_EQ(got[9], "d_seconds_bucket{route=\"blob\",le=\"0.25\"} 3");
  EXPECT_EQ(got[Histogram::kBuckets - 2], "d_seconds_bucket{route=\"blob\",le=\"300\"} 3");
  EXPECT_EQ(got[Histogram::kBuckets - 1], "d_seconds_bucket{route=\"blob\",le=\"+Inf\"} 4");
  EXPECT_EQ(got[Histogram::kBuckets], "d_seconds_sum{route=\"blob\"} 900.206");
  EXPECT_EQ(got[Histogram::kBuckets + 1], "d_seconds_count{route=\"blob\"} 4");
}

TEST(HttpMetrics, StatusCodesOutsideTheListCountUnderTheirClass) {
  EXPECT_EQ(status_label(status_index(201)), "201");
  EXPECT_EQ(status_label(status_index(418)), "4xx");
  EXPECT_EQ(status_label(status_index(599)), "5xx");
  EXPECT_EQ(status_label(status_index(0)), "1xx");
  EXPECT_EQ(status_label(status_index(70000)), "5xx");
  EXPECT_EQ(method_label(method_index("PATCH")), "PATCH");
  EXPECT_EQ(method_label(method_index("BREW")), "other");
  // The request path's verbs name the same slots as their text.
  for (const auto verb : {bhttp::verb::get, bhttp::verb::head, bhttp::verb::put, bhttp::verb::post,
                          bhttp::verb::patch, bhttp::verb::delete_, bhttp::verb::options}) {
    EXPECT_EQ(method_index(verb), method_index(bhttp::to_string(verb))) << bhttp::to_string(verb);
  }
  EXPECT_EQ(method_label(method_index(bhttp::verb::propfind)), "other");
  EXPECT_EQ(method_label(method_index(bhttp::verb::unknown)), "other");
}

TEST(HttpMetrics, ARequestIsCountedByRouteMethodAndCode) {
  HttpMetrics metrics;
  metrics.record({.route = RouteClass::kManifest,
                  .method = bhttp::verb::put,
                  .status = 201,
                  .bytes_in = 500,
                  .bytes_out = 0,
                  .duration = std::chrono::milliseconds(3)});
  metrics.record({.route = RouteClass::kManifest, .method = bhttp::verb::get, .status = 200});
  metrics.record({.route = RouteClass::kManifest, .method = bhttp::verb::get, .status = 404});
  EXPECT_EQ(metrics.requests(RouteClass::kManifest, "PUT", 201), 1u);
  EXPECT_EQ(metrics.requests(RouteClass::kManifest, "GET", 200), 1u);
  EXPECT_EQ(metrics.requests(RouteClass::kBlob, "GET", 200), 0u);
  Exposition out;
  metrics.write(out);
  const std::string& text = out.text();
  EXPECT_NE(
      text.find("berth_http_requests_total{route=\"manifest\",method=\"PUT\",code=\"201\"} 1\n"),
      std::string::npos);
  EXPECT_NE(text.find("berth_http_request_bytes_total{route=\"manifest\"} 500\n"),
            std::string::npos);
  EXPECT_NE(text.find("berth_pushes_total 1\n"), std::string::npos);
  // The 404 is a request but not a pull.
  EXPECT_NE(text.find("berth_pulls_total 1\n"), std::string::npos);
  EXPECT_NE(
      text.find("berth_http_request_duration_seconds_bucket{route=\"manifest\",method=\"PUT\","
                "le=\"0.005\"} 1\n"),
      std::string::npos);
  // Label sets never used are left out.
  EXPECT_EQ(text.find("route=\"blob\",method"), std::string::npos);
}

TEST(HttpMetrics, InFlightGaugesGoUpAndDown) {
  HttpMetrics metrics;
  metrics.request_started();
  metrics.request_started();
  metrics.upload_started();
  metrics.request_ended();
  Exposition out;
  metrics.write(out);
  EXPECT_NE(out.text().find("berth_http_requests_in_flight 1\n"), std::string::npos);
  EXPECT_NE(out.text().find("berth_uploads_in_flight 1\n"), std::string::npos);
}

TEST(OperationsMetrics, GcAndLoginsAreCounted) {
  OperationsMetrics ops;
  ops.gc_finished(true, std::chrono::milliseconds(1500), 4096, 3);
  ops.gc_finished(false, std::chrono::milliseconds(10), 0, 0);
  ops.login_failed();
  ops.lockout();
  Exposition out;
  ops.write(out);
  const std::string& text = out.text();
  EXPECT_NE(text.find("berth_gc_runs_total{result=\"ok\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("berth_gc_runs_total{result=\"failed\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("berth_gc_reclaimed_bytes_total 4096\n"), std::string::npos);
  EXPECT_NE(text.find("berth_gc_duration_seconds_sum 1.51\n"), std::string::npos);
  EXPECT_NE(text.find("berth_login_failures_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("berth_login_lockouts_total 1\n"), std::string::npos);
}

}  // namespace
}  // namespace berth::metrics
