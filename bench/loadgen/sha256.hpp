// SHA-256 over OpenSSL's EVP interface (SHA-NI where the CPU has it), copyable so that a
// hashing state can be saved and resumed.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace berth::bench {

class Sha256 {
 public:
  using Value = std::array<unsigned char, 32>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;

  void reset();
  void update(const void* data, std::size_t size);
  void update(std::span<const std::byte> data) { update(data.data(), data.size()); }
  Value finish();

  // "sha256:" + lower-case hex.
  static std::string digest_text(const Value& value);
  static std::string digest_of(std::string_view data);

 private:
  evp_md_ctx_st* ctx_ = nullptr;
};

}  // namespace berth::bench
