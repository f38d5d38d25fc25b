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
