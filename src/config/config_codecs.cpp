#include "config/config_codecs.hpp"

#include <algorithm>
#include <limits>

#include "core/names.hpp"
#include "util/ascii.hpp"

namespace berth::config::detail {

std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 80;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) {
    out += "...";
  }
  out += "'";
  return out;
}

Problem expected_got(std::string_view expected, std::string_view text) {
  return "expected " + std::string(expected) + ", got " + quote(text);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::optional<std::uint64_t> read_number(std::string_view text, std::size_t& i, std::uint64_t max) {
  const std::size_t start = i;
  std::uint64_t value = 0;
  bool overflow = false;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (max - digit) / 10) {
      overflow = true;
    } else {
      value = value * 10 + digit;
    }
  }
  if (i == start || overflow) {
    return std::nullopt;
  }
  return value;
}

Codec<std::string> text_codec() {
  return {"text", [](std::string_view text) -> Parsed<std::string> { return std::string(text); },
          [](const std::string& value) { return value; }, nullptr};
}

Codec<std::filesystem::path> path_codec() {
  return {"a path",
          [](std::string_view text) -> Parsed<std::filesystem::path> {
            return std::filesystem::path(std::string(text));
          },
          [](const std::filesystem::path& value) { return value.string(); }, nullptr};
}

Codec<std::string> enum_codec(std::vector<std::string> allowed) {
  std::string expected = "one of ";
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    expected += (i == 0 ? "" : ", ") + allowed[i];
  }
  auto check = [allowed, expected](const std::string& value) -> std::optional<Problem> {
    if (std::ranges::find(allowed, value) != allowed.end()) {
      return std::nullopt;
    }
    return expected_got(expected, value);
  };
  return {expected, [](std::string_view text) -> Parsed<std::string> { return std::string(text); },
          [](const std::string& value) { return value; }, check};
}

Codec<bool> bool_codec() {
  constexpr std::string_view kExpected = "true or false (or yes/no, 1/0)";
  return {std::string(kExpected),
          [kExpected](std::string_view text) -> Parsed<bool> {
            const std::string word = util::ascii_lower(text);
            if (word == "true" || word == "yes" || word == "1") {
              return true;
            }
            if (word == "false" || word == "no" || word == "0") {
              return false;
            }
            return std::unexpected(expected_got(kExpected, text));
          },
          [](const bool& value) { return std::string(value ? "true" : "false"); }, nullptr};
}

Codec<std::size_t> count_codec() {
  constexpr std::string_view kExpected = "a whole number like 8";
  return {std::string(kExpected),
          [kExpected](std::string_view text) -> Parsed<std::size_t> {
            std::size_t i = 0;
            auto value = read_number(text, i, std::numeric_limits<std::size_t>::max());
            if (!value || i != text.size()) {
              return std::unexpected(expected_got(kExpected, text));
            }
            return static_cast<std::size_t>(*value);
          },
          [](const std::size_t& value) { return std::to_string(value); }, nullptr};
}

std::string format_byte_size(std::uint64_t value) {
  if (value == 0) {
    return "0";
  }
  for (const Unit& unit : kByteUnits) {
    if (unit.factor > 1 && value % unit.factor == 0) {
      std::string name(unit.name);
      name[0] = static_cast<char>(name[0] - 'a' + 'A');
      name[name.size() - 1] = 'B';
      return std::to_string(value / unit.factor) + name;
    }
  }
  return std::to_string(value);
}

Codec<Duration> duration_codec() {
  constexpr std::string_view kExpected =
      "a duration like 30s or 1h30m (units d, h, m, s, ms, largest first)";
  return {std::string(kExpected),
          [kExpected](std::string_view text) -> Parsed<Duration> {
            // Far beyond any sensible setting, and far from overflowing when code adds it to a
            // clock's time point in nanoseconds.
            constexpr std::uint64_t kMaxMs = 36500ULL * 24 * 60 * 60 * 1000;
            if (text == "0") {
              return Duration::zero();
            }
            auto bad = [&] { return std::unexpected(expected_got(kExpected, text)); };
            if (text.empty()) {
              return bad();
            }
            std::uint64_t total = 0;
            std::size_t next_unit = 0;  // Index into kDurationUnits of the smallest unit left.
            std::size_t i = 0;
            while (i < text.size()) {
              auto number = read_number(text, i, kMaxMs);
              const std::size_t unit_start = i;
              while (i < text.size() && is_alpha(text[i])) {
                ++i;
              }
              const std::string_view unit = text.substr(unit_start, i - unit_start);
              const auto* found =
                  std::ranges::find(kDurationUnits, unit, [](const Unit& u) { return u.name; });
              if (!number || found == std::end(kDurationUnits)) {
                return bad();
              }
              const auto index = static_cast<std::size_t>(found - std::begin(kDurationUnits));
              if (index < next_unit) {
                return bad();
              }
              next_unit = index + 1;
              if (*number > (kMaxMs - total) / found->factor) {
                return std::unexpected(expected_got("a duration of at most 36500d", text));
              }
              total += *number * found->factor;
            }
            return Duration(static_cast<Duration::rep>(total));
          },
          [](const Duration& value) {
            if (value <= Duration::zero()) {
              return std::to_string(value.count()) + (value == Duration::zero() ? "s" : "ms");
            }
            auto left = static_cast<std::uint64_t>(value.count());
            std::string out;
            for (const Unit& unit : kDurationUnits) {
              if (left >= unit.factor) {
                out += std::to_string(left / unit.factor) + std::string(unit.name);
                left %= unit.factor;
              }
            }
            return out;
          },
          nullptr};
}

std::optional<Problem> check_listen(const std::string& value) {
  constexpr std::string_view kExpected =
      "host:port with a port from 0 to 65535, like 0.0.0.0:5000, :5000 or [::]:5000";
  auto bad = [&] { return expected_got(kExpected, value); };
  std::string_view host;
  std::string_view port;
  if (value.starts_with('[')) {
    const auto close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      return bad();
    }
    host = std::string_view(value).substr(1, close - 1);
    port = std::string_view(value).substr(close + 2);
    const bool ipv6_chars = std::ranges::all_of(host, [](char c) {
      return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
             c == '.' || c == '%';
    });
    if (host.find(':') == std::string_view::npos || !ipv6_chars) {
      return bad();
    }
  } else {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos) {
      return bad();
    }
    host = std::string_view(value).substr(0, colon);
    port = std::string_view(value).substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return expected_got("an IPv6 host in brackets, like [::1]:5000", value);
    }
    const bool name_chars = std::ranges::all_of(
        host, [](char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '-'; });
    if (!name_chars) {
      return bad();
    }
  }
  std::size_t i = 0;
  if (port.size() > 5 || !read_number(port, i, 65535) || i != port.size()) {
    return bad();
  }
  return std::nullopt;
}

Codec<std::string> listen_codec() {
  Codec<std::string> codec = text_codec();
  codec.expected = "host:port";
  codec.check = check_listen;
  return codec;
}

Codec<std::string> optional_listen_codec() {
  Codec<std::string> codec = listen_codec();
  codec.expected = "host:port, or empty for none";
  codec.check = [](const std::string& value) -> std::optional<Problem> {
    return value.empty() ? std::nullopt : check_listen(value);
  };
  return codec;
}

std::function<std::optional<Problem>(const Duration&)> positive_duration() {
  return between<Duration>(Duration(1), std::chrono::days(3650),
                           "expected a duration from 1ms to 3650d");
}

std::function<std::optional<Problem>(const Duration&)> non_negative_duration() {
  return between<Duration>(Duration::zero(), std::chrono::days(3650),
                           "expected a duration from 0 to 3650d");
}

std::function<std::optional<Problem>(const std::string&)> non_empty() {
  return [](const std::string& value) -> std::optional<Problem> {
    if (value.empty()) {
      return "expected a value, got an empty one";
    }
    return std::nullopt;
  };
}

std::function<std::optional<Problem>(const std::filesystem::path&)> non_empty_path() {
  return [](const std::filesystem::path& value) -> std::optional<Problem> {
    if (value.empty()) {
      return "expected a path, got an empty one";
    }
    return std::nullopt;
  };
}

}  // namespace berth::config::detail
