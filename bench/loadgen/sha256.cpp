// SHA-256 through EVP: one context per object, copied with EVP_MD_CTX_copy_ex.
#include "loadgen/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <utility>

namespace berth::bench {
namespace {

void check(int ok, const char* what) {
  if (ok != 1) {
    throw std::runtime_error(std::string("OpenSSL: ") + what + " failed");
  }
}

// Fetched once: EVP_sha256() in every init takes a read lock on the provider store.
const EVP_MD* sha256_method() {
  static EVP_MD* const kMethod = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return kMethod;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) {
    throw std::bad_alloc();
  }
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(const Sha256& other) : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) {
    throw std::bad_alloc();
  }
  check(EVP_MD_CTX_copy_ex(ctx_, other.ctx_), "EVP_MD_CTX_copy_ex");
}

Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) {
    check(EVP_MD_CTX_copy_ex(ctx_, other.ctx_), "EVP_MD_CTX_copy_ex");
  }
  return *this;
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

void Sha256::reset() { check(EVP_DigestInit_ex2(ctx_, sha256_method(), nullptr), "DigestInit"); }

void Sha256::update(const void* data, std::size_t size) {
  check(EVP_DigestUpdate(ctx_, data, size), "DigestUpdate");
}

Sha256::Value Sha256::finish() {
  Value value{};
  unsigned int length = 0;
  check(EVP_DigestFinal_ex(ctx_, value.data(), &length), "DigestFinal");
  reset();
  return value;
}

std::string Sha256::digest_text(const Value& value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  out.reserve(7 + 64);
  for (unsigned char c : value) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Sha256::digest_of(std::string_view data) {
  Sha256 sha;
  sha.update(data.data(), data.size());
  return digest_text(sha.finish());
}

}  // namespace berth::bench
