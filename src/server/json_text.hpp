// A JSON string written straight into a log line's buffer (fmt's or spdlog's memory buffer).
// By hand because Boost.JSON only serializes into a new std::string (an allocation per field
// of every access-log line); this appends the quoted, escaped text to the buffer in place.
#pragma once

#include <string_view>

namespace berth::server {

// Appends text as a JSON string literal: quotes, backslashes and control characters escaped,
// other bytes (UTF-8 included) as they are.
template <class Buffer>
void append_json_string(Buffer& out, std::string_view text) {
  constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t plain = 0;  // start of the run of bytes that need no escape
  auto flush = [&](std::size_t end) { out.append(text.data() + plain, text.data() + end); };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    flush(i);
    plain = i + 1;
    out.push_back('\\');
    switch (c) {
      case '"':
      case '\\':
        out.push_back(static_cast<char>(c));
        break;
      case '\n':
        out.push_back('n');
        break;
      case '\r':
        out.push_back('r');
        break;
      case '\t':
        out.push_back('t');
        break;
      default: {
        const char code[] = {'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out.append(code, code + sizeof code);
      }
    }
  }
  flush(text.size());
  out.push_back('"');
}

}  // namespace berth::server
