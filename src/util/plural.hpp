// Counts in messages: "1 blob", "3 blobs".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::util {

inline std::string count_of(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

}  // namespace berth::util
