// ASCII case for protocol text (header names, units, hex), independent of the C locale.
#pragma once

#include <string>
#include <string_view>

namespace berth::util {

inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace berth::util

namespace berth::util {

// `text` without leading and trailing spaces and tabs (HTTP's optional whitespace).
inline std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace berth::util
