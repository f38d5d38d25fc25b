// Bytes as lower-case hex digits, and random ids made of them (OpenSSL's RAND_bytes): the one
// place for what upload ids, event ids and signatures each spelled out.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace berth::util {

// Two lower-case hex digits per byte.
[[nodiscard]] std::string hex(std::span<const unsigned char> bytes);

// `bytes` random bytes (OpenSSL's RAND_bytes) as hex: 2 * bytes digits. Throws
// std::runtime_error if the generator fails (it does not, once seeded at start).
[[nodiscard]] std::string random_hex(std::size_t bytes);

}  // namespace berth::util
