// Byte counts for people: "10.0 MiB". Messages give the exact bytes beside it where they
// matter (quotas, limits).
#pragma once

#include <cstdint>
#include <string>

namespace berth::core {

// "0 B", "1023 B", "1.5 KiB", "10.0 MiB", ... up to PiB.
[[nodiscard]] std::string human_bytes(std::uint64_t bytes);

}  // namespace berth::core
