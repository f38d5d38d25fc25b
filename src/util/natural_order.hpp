// The order people expect for names with numbers in them: "build-3" before "build-10".
#pragma once

#include <string_view>

namespace berth::util {

// Compares runs of digits by their value (leading zeros ignored; on a tie the shorter run,
// "7" before "007", so the order stays total) and everything else byte by byte.
[[nodiscard]] bool natural_less(std::string_view a, std::string_view b);

}  // namespace berth::util
