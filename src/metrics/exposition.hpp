// Renders metrics in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): a HELP and a TYPE line per
// family, then its samples, label values escaped. Hand-written for the reason instruments.hpp
// gives; its output is checked by Debian's python3-prometheus-client parser in the black-box
// tests (tests/metrics/).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "metrics/instruments.hpp"

namespace berth::metrics {

// The Content-Type of a scrape's answer.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

struct Label {
  std::string_view name;
  std::string_view value;
};

class Exposition {
 public:
  // Starts a family. type: "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, std::int64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  // The _bucket (cumulative, with le), _sum (seconds) and _count samples of a histogram.
  void histogram(std::string_view name, std::initializer_list<Label> labels,
                 const Histogram& histogram);

  const std::string& text() const { return text_; }
  std::string take() { return std::move(text_); }

 private:
  void labels(std::initializer_list<Label> labels, std::string_view le = {});

  std::string text_;
};

// "a\"b" for a"b: backslash, double quote and newline escaped, as the format wants.
[[nodiscard]] std::string escape_label_value(std::string_view value);
// A sample value as Prometheus reads it ("+Inf", "NaN", shortest round-trip decimal).
[[nodiscard]] std::string format_value(double value);

}  // namespace berth::metrics
