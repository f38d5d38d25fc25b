#include "metrics/exposition.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace berth::metrics {
namespace {

// HELP text escapes backslash and newline only (quotes are fine there).
void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

template <class T>
void append_number(std::string& out, T value) {
  std::array<char, 32> buffer;
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), end);
}

void append_labels(std::string& out, std::initializer_list<Label> labels, std::string_view le) {
  if (labels.size() == 0 && le.empty()) {
    return;
  }
  out += '{';
  bool first = true;
  for (const Label& label : labels) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += label.name;
    out += "=\"";
    out += escape_label_value(label.value);
    out += '"';
  }
  if (!le.empty()) {
    out += first ? "le=\"" : ",le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void append_sample_line(std::string& out, std::string_view name,
                        std::initializer_list<Label> labels, std::string_view value) {
  out += name;
  append_labels(out, labels, {});
  out += ' ';
  out += value;
  out += '\n';
}

// A bucket's bound in seconds, exact and in plain decimals ("0.00025", not the "2.5e-04" of
// the shortest double: the le label should read the same as other exporters').
std::string seconds_text(std::uint64_t us) {
  std::string out = std::to_string(us / 1'000'000);
  if (const auto fraction = us % 1'000'000; fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 6 - digits.size(), '0');
    while (digits.back() == '0') {
      digits.pop_back();
    }
    out += '.' + digits;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  std::string out;
  // Whole numbers in full (1000000, not 1e+06: both parse, the first reads better).
  constexpr double kExact = 9007199254740992.0;  // 2^53
  if (value == std::trunc(value) && std::fabs(value) < kExact) {
    append_number(out, static_cast<std::int64_t>(value));
  } else {
    append_number(out, value);
  }
  return out;
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  append_help(text_, help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void Exposition::labels(std::initializer_list<Label> labels, std::string_view le) {
  append_labels(text_, labels, le);
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels,
                        std::uint64_t value) {
  std::string text;
  append_number(text, value);
  append_sample_line(text_, name, labels, text);
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels,
                        std::int64_t value) {
  std::string text;
  append_number(text, value);
  append_sample_line(text_, name, labels, text);
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  append_sample_line(text_, name, labels, format_value(value));
}

void Exposition::histogram(std::string_view name, std::initializer_list<Label> labels,
                           const Histogram& histogram) {
  const auto counts = histogram.counts();
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    const std::string le = i < Histogram::kLatencyBoundsUs.size()
                               ? seconds_text(Histogram::kLatencyBoundsUs[i])
                               : "+Inf";
    text_ += bucket;
    this->labels(labels, le);
    text_ += ' ';
    append_number(text_, cumulative);
    text_ += '\n';
  }
  sample(std::string(name) + "_sum", labels, static_cast<double>(histogram.sum_us()) / 1e6);
  sample(std::string(name) + "_count", labels, cumulative);
}

}  // namespace berth::metrics
