#include "util/natural_order.hpp"

#include <cstddef>

namespace berth::util {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// The run of digits at text[i...], and its value's digits without leading zeros.
struct DigitRun {
  std::string_view whole;
  std::string_view significant;
};

DigitRun digit_run(std::string_view text, std::size_t i) {
  std::size_t end = i;
  while (end < text.size() && digit(text[end])) {
    ++end;
  }
  std::size_t first = i;
  while (first + 1 < end && text[first] == '0') {
    ++first;
  }
  return {text.substr(i, end - i), text.substr(first, end - first)};
}

}  // namespace

bool natural_less(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      const DigitRun x = digit_run(a, i);
      const DigitRun y = digit_run(b, j);
      // Without leading zeros, a longer run is a larger number; equal lengths compare as text.
      if (x.significant.size() != y.significant.size()) {
        return x.significant.size() < y.significant.size();
      }
      if (x.significant != y.significant) {
        return x.significant < y.significant;
      }
      if (x.whole.size() != y.whole.size()) {
        return x.whole.size() < y.whole.size();
      }
      i += x.whole.size();
      j += y.whole.size();
      continue;
    }
    if (a[i] != b[j]) {
      return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    }
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

}  // namespace berth::util
