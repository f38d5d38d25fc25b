// core::Hasher: SHA-256 and SHA-512 over OpenSSL's low-level SHA256_CTX / SHA512_CTX, whose
// running state can be written out and read back.
//
// Why not EVP: a resumable upload's request may land on any replica, and the replica must go on
// hashing where the last one stopped without reading back gigabytes it already stored. OpenSSL
// 3's EVP interface has no way to export a digest's internal state (EVP_MD_CTX is opaque and
// its providers keep their state private). The low-level structs are deprecated since 3.0 but
// still shipped, public and plain data (eight chaining words, a bit count, the partial block),
// and their Update functions run the same assembly (SHA-NI, AVX2) as EVP's default provider,
// so nothing is lost in speed. A hand-written compression function would be portable but
// several times slower without those instructions. If OpenSSL ever drops these functions,
// this one file changes; the saved format below does not depend on OpenSSL's struct layout.
//
// Saved format, version 1, printable so that it sits in a TEXT column of any database:
//   1:<sha256|sha512>:<bytes hashed, decimal>:<the 8 chaining words, hex, big-endian, each 8
//   (sha256) or 16 (sha512) digits>:<the partial block, hex (bytes mod the block size of them)>
// restore() refuses any other version: the caller falls back to hashing the stored bytes.
#define OPENSSL_SUPPRESS_DEPRECATED  // the low-level SHA API, see above

#include <openssl/sha.h>

#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/digest.hpp"

namespace berth::core {
namespace {

constexpr std::string_view kFormatVersion = "1";
constexpr char kHex[] = "0123456789abcdef";

void must(int ok, const char* what) {
  if (ok != 1) {
    throw std::runtime_error(what);
  }
}

// The two algorithms' differences, in one place each.
void start(SHA256_CTX& ctx) { must(SHA256_Init(&ctx), "SHA256_Init failed"); }
void start(SHA512_CTX& ctx) { must(SHA512_Init(&ctx), "SHA512_Init failed"); }
void feed(SHA256_CTX& ctx, const void* data, std::size_t size) {
  must(SHA256_Update(&ctx, data, size), "SHA256_Update failed");
}
void feed(SHA512_CTX& ctx, const void* data, std::size_t size) {
  must(SHA512_Update(&ctx, data, size), "SHA512_Update failed");
}
void finish(SHA256_CTX ctx, unsigned char* out) {
  must(SHA256_Final(out, &ctx), "SHA256_Final failed");
}
void finish(SHA512_CTX ctx, unsigned char* out) {
  must(SHA512_Final(out, &ctx), "SHA512_Final failed");
}
// The bit count is kept in two words; bytes past 2^64 cannot occur here.
std::uint64_t bytes_of(const SHA256_CTX& ctx) {
  return ((std::uint64_t{ctx.Nh} << 32) | ctx.Nl) >> 3;
}
std::uint64_t bytes_of(const SHA512_CTX& ctx) {
  return (std::uint64_t{ctx.Nh} << 61) | (std::uint64_t{ctx.Nl} >> 3);
}
void set_bytes(SHA256_CTX& ctx, std::uint64_t bytes) {
  const std::uint64_t bits = bytes << 3;
  ctx.Nl = static_cast<SHA_LONG>(bits & 0xffffffffU);
  ctx.Nh = static_cast<SHA_LONG>(bits >> 32);
}
void set_bytes(SHA512_CTX& ctx, std::uint64_t bytes) {
  ctx.Nl = bytes << 3;
  ctx.Nh = bytes >> 61;
}
unsigned char* block_of(SHA256_CTX& ctx) { return reinterpret_cast<unsigned char*>(ctx.data); }
unsigned char* block_of(SHA512_CTX& ctx) { return ctx.u.p; }
const unsigned char* block_of(const SHA256_CTX& ctx) {
  return reinterpret_cast<const unsigned char*>(ctx.data);
}
const unsigned char* block_of(const SHA512_CTX& ctx) { return ctx.u.p; }
template <typename Ctx>
constexpr std::size_t kBlockSize = std::is_same_v<Ctx, SHA256_CTX> ? SHA256_CBLOCK : SHA512_CBLOCK;

void append_hex(std::string& out, const unsigned char* bytes, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
}

std::optional<unsigned> hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return static_cast<unsigned>(c - '0');
  }
  if (c >= 'a' && c <= 'f') {
    return static_cast<unsigned>(c - 'a' + 10);
  }
  return std::nullopt;
}

// Lowercase hex of an even length into bytes; nullopt for anything else.
std::optional<std::vector<unsigned char>> parse_hex(std::string_view text) {
  if (text.size() % 2 != 0) {
    return std::nullopt;
  }
  std::vector<unsigned char> bytes;
  bytes.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    auto high = hex_value(text[i]);
    auto low = hex_value(text[i + 1]);
    if (!high || !low) {
      return std::nullopt;
    }
    bytes.push_back(static_cast<unsigned char>(*high << 4 | *low));
  }
  return bytes;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t begin = 0;
  while (true) {
    const auto end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end == std::string_view::npos ? end : end - begin));
    if (end == std::string_view::npos) {
      return parts;
    }
    begin = end + 1;
  }
}

template <typename Ctx>
void save_words(std::string& out, const Ctx& ctx) {
  for (auto word : ctx.h) {
    std::array<unsigned char, sizeof(word)> big_endian{};
    for (std::size_t i = 0; i < sizeof(word); ++i) {
      big_endian[i] = static_cast<unsigned char>(word >> (8 * (sizeof(word) - 1 - i)));
    }
    append_hex(out, big_endian.data(), big_endian.size());
  }
}

template <typename Ctx>
bool restore_words(Ctx& ctx, std::string_view hex) {
  auto bytes = parse_hex(hex);
  constexpr std::size_t kWord = sizeof(ctx.h[0]);
  if (!bytes || bytes->size() != 8 * kWord) {
    return false;
  }
  for (std::size_t w = 0; w < 8; ++w) {
    std::remove_reference_t<decltype(ctx.h[0])> word = 0;
    for (std::size_t i = 0; i < kWord; ++i) {
      word = static_cast<decltype(word)>(word << 8) | (*bytes)[w * kWord + i];
    }
    ctx.h[w] = word;
  }
  return true;
}

// The fields after "1:<algorithm>:" of a saved state, into a context of that algorithm.
template <typename Ctx>
bool restore_into(Ctx& ctx, std::string_view bytes_text, std::string_view words,
                  std::string_view block_hex) {
  std::uint64_t bytes = 0;
  const auto* end = bytes_text.data() + bytes_text.size();
  auto [at, error] = std::from_chars(bytes_text.data(), end, bytes);
  if (bytes_text.empty() || error != std::errc() || at != end) {
    return false;
  }
  auto block = parse_hex(block_hex);
  if (!block || block->size() != bytes % kBlockSize<Ctx>) {
    return false;
  }
  start(ctx);  // md_len and whatever else OpenSSL keeps beside the state
  if (!restore_words(ctx, words)) {
    return false;
  }
  set_bytes(ctx, bytes);
  if (!block->empty()) {
    std::memcpy(block_of(ctx), block->data(), block->size());
  }
  ctx.num = static_cast<unsigned int>(block->size());
  return true;
}

}  // namespace

struct Hasher::State {
  std::variant<SHA256_CTX, SHA512_CTX> ctx;
};

Hasher::Hasher(DigestAlgorithm algorithm)
    : algorithm_(algorithm), state_(std::make_unique<State>()) {
  if (algorithm == DigestAlgorithm::kSha512) {
    state_->ctx.emplace<SHA512_CTX>();
  }
  std::visit([](auto& ctx) { start(ctx); }, state_->ctx);
}

Hasher::Hasher(std::unique_ptr<State> state)
    : algorithm_(std::holds_alternative<SHA256_CTX>(state->ctx) ? DigestAlgorithm::kSha256
                                                                : DigestAlgorithm::kSha512),
      state_(std::move(state)) {}

Hasher::Hasher(const Hasher& other)
    : algorithm_(other.algorithm_), state_(std::make_unique<State>(*other.state_)) {}

Hasher& Hasher::operator=(const Hasher& other) {
  if (this != &other) {
    algorithm_ = other.algorithm_;
    state_ = std::make_unique<State>(*other.state_);
  }
  return *this;
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(const void* data, std::size_t size) {
  if (size != 0) {
    std::visit([&](auto& ctx) { feed(ctx, data, size); }, state_->ctx);
  }
}

Digest Hasher::digest() const {
  std::array<unsigned char, SHA512_DIGEST_LENGTH> raw{};
  std::visit([&](const auto& ctx) { finish(ctx, raw.data()); }, state_->ctx);
  const std::size_t length =
      algorithm_ == DigestAlgorithm::kSha256 ? SHA256_DIGEST_LENGTH : SHA512_DIGEST_LENGTH;
  std::string text(algorithm_name(algorithm_));
  text.push_back(':');
  append_hex(text, raw.data(), length);
  return Digest(algorithm_, std::move(text));
}

std::uint64_t Hasher::size() const {
  return std::visit([](const auto& ctx) { return bytes_of(ctx); }, state_->ctx);
}

std::string Hasher::save() const {
  std::string out(kFormatVersion);
  out += ':';
  out += algorithm_name(algorithm_);
  out += ':';
  out += std::to_string(size());
  out += ':';
  std::visit(
      [&](const auto& ctx) {
        save_words(out, ctx);
        out += ':';
        append_hex(out, block_of(ctx), ctx.num);
      },
      state_->ctx);
  return out;
}

Result<Hasher> Hasher::restore(std::string_view saved) {
  const auto fields = split(saved, ':');
  if (fields.empty() || fields[0] != kFormatVersion) {
    return fail(ErrorCode::kInternal, "saved hash state of an unknown format version");
  }
  if (fields.size() != 5) {
    return fail(ErrorCode::kInternal, "saved hash state is damaged");
  }
  auto state = std::make_unique<State>();
  bool restored = false;
  if (fields[1] == algorithm_name(DigestAlgorithm::kSha256)) {
    restored = restore_into(state->ctx.emplace<SHA256_CTX>(), fields[2], fields[3], fields[4]);
  } else if (fields[1] == algorithm_name(DigestAlgorithm::kSha512)) {
    restored = restore_into(state->ctx.emplace<SHA512_CTX>(), fields[2], fields[3], fields[4]);
  }
  if (!restored) {
    return fail(ErrorCode::kInternal, "saved hash state is damaged");
  }
  return Hasher(std::move(state));
}

}  // namespace berth::core
