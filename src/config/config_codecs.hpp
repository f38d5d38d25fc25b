// The value grammar of the configuration: a Codec per type turns text into a value and back
// (strings, paths, enums, booleans, counts, byte sizes, durations, listen addresses), and the
// rules keys add on their values. Internal to config/ (config.hpp is the interface).
#pragma once

#include <algorithm>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "util/ascii.hpp"

namespace berth::config::detail {

using core::fail;

// What went wrong with a value, phrased "expected ..., got '...'" (the caller adds the
// source).
using Problem = std::string;

template <class T>
using Parsed = std::expected<T, Problem>;

inline constexpr std::uint64_t kKiB = 1024;

inline constexpr std::uint64_t kMiB = 1024 * kKiB;

// A value quoted for an error message: control bytes escaped so the message stays one line,
// and cut short so a pasted blob does not drown the message.
std::string quote(std::string_view text);

Problem expected_got(std::string_view expected, std::string_view text);

bool is_digit(char c);

bool is_alpha(char c);

// Reads the run of digits at text[i...], advancing i. nullopt if there is none or it does not
// fit in `max`.
std::optional<std::uint64_t> read_number(std::string_view text, std::size_t& i, std::uint64_t max);

// A codec turns the text form of one type into a value and back; `expected` says what the
// text should look like, for messages. `check`, if set, is a rule every value of this
// codec must pass (membership of an enum, syntax of an address); it runs when a key is set
// and again in validate(), so a Config built in code is held to the same rules.
template <class T>
struct Codec {
  std::string expected;
  std::function<Parsed<T>(std::string_view)> parse;
  std::function<std::string(const T&)> format;
  std::function<std::optional<Problem>(const T&)> check;
};

Codec<std::string> text_codec();

Codec<std::filesystem::path> path_codec();

Codec<std::string> enum_codec(std::vector<std::string> allowed);

Codec<bool> bool_codec();

Codec<std::size_t> count_codec();

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

// Binary units only, see the header. Matched without regard to case.
inline constexpr Unit kByteUnits[] = {
    {"tib", kMiB* kMiB}, {"gib", kMiB* kKiB}, {"mib", kMiB}, {"kib", kKiB}, {"b", 1}, {"", 1},
};

inline constexpr std::string_view kDecimalByteUnits[] = {"k", "kb", "m", "mb",
                                                         "g", "gb", "t", "tb"};

std::string format_byte_size(std::uint64_t value);

template <class T>
Codec<T> byte_size_codec() {
  constexpr std::string_view kExpected = "a byte size like 65536, 512KiB or 4MiB";
  return {std::string(kExpected),
          [kExpected](std::string_view text) -> Parsed<T> {
            constexpr std::uint64_t kMax = std::numeric_limits<T>::max();
            std::size_t i = 0;
            auto number = read_number(text, i, kMax);
            // One space may separate number and unit ("4 MiB"); trailing spaces are refused.
            if (i + 1 < text.size() && text[i] == ' ') {
              ++i;
            }
            const std::string unit = util::ascii_lower(text.substr(i));
            if (std::ranges::find(kDecimalByteUnits, unit) != std::end(kDecimalByteUnits)) {
              return std::unexpected(
                  expected_got("a byte size in binary units (B, KiB, MiB, GiB, TiB); decimal "
                               "units like KB and MB are ambiguous",
                               text));
            }
            for (const Unit& known : kByteUnits) {
              if (number && known.name == unit) {
                if (*number > kMax / known.factor) {
                  return std::unexpected(
                      expected_got("a byte size of at most " + format_byte_size(kMax), text));
                }
                return static_cast<T>(*number * known.factor);
              }
            }
            return std::unexpected(expected_got(kExpected, text));
          },
          [](const T& value) { return format_byte_size(value); }, nullptr};
}

// Largest first: a duration's parts must come in this order, each at most once.
inline constexpr Unit kDurationUnits[] = {
    {"d", 24 * 60 * 60 * 1000}, {"h", 60 * 60 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1},
};

Codec<Duration> duration_codec();

// host:port, where host may be empty (all interfaces), a name, an IPv4 address or an IPv6
// address in brackets, and port is 0 (any free port) to 65535.
std::optional<Problem> check_listen(const std::string& value);

Codec<std::string> listen_codec();

// A listener that may be switched off with an empty value.
Codec<std::string> optional_listen_codec();

// A rule on one key's value beyond its type.
template <class T>
std::function<std::optional<Problem>(const T&)> between(T low, T high, std::string expected) {
  return [=](const T& value) -> std::optional<Problem> {
    if (value < low || value > high) {
      return expected;
    }
    return std::nullopt;
  };
}

std::function<std::optional<Problem>(const Duration&)> positive_duration();

// 0 means "off" or "at once" where a key says so.
std::function<std::optional<Problem>(const Duration&)> non_negative_duration();

std::function<std::optional<Problem>(const std::string&)> non_empty();

std::function<std::optional<Problem>(const std::filesystem::path&)> non_empty_path();

// One row of the table, with the field's type erased.

}  // namespace berth::config::detail
