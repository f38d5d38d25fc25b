// ES256 JSON Web Tokens, written by hand on OpenSSL 3's EVP interface. Debian 12 ships
// libjwt 1.10, whose jwt_decode() verifies with whatever algorithm the token's own header
// names: handed our EC key, a token saying "HS256" is checked as an HMAC keyed with the key
// bytes, the classic algorithm-confusion hole. The key-provider API that lets a caller pin
// the algorithm came in later versions. What Berth needs is small enough to own and test
// completely: strict base64url, one JSON header, ECDSA P-256 with the conversion between
// OpenSSL's DER signatures and the raw r||s of JWS (RFC 7518 section 3.4), and the claims.
//
// verify() checks in order of cost and exposure: size, shape, header, then the signature,
// and only then parses the claims, so unsigned bytes never reach the claims code.
#include "auth/token_service.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>

#include "auth/base64url.hpp"
#include "auth/password.hpp"
#include "util/fsync.hpp"
#include "util/unique_fd.hpp"

namespace berth::auth {
namespace {

namespace json = boost::json;
using core::ErrorCode;

// Tokens arrive in an Authorization header. Ours are well under 4 KiB even with dozens of
// access entries; anything past this is refused before any work.
constexpr std::size_t kMaxTokenSize = 16 * 1024;
// A PEM private key is a few hundred bytes; a larger "key file" is something else.
constexpr std::size_t kMaxKeyFileSize = 64 * 1024;
// P-256: r and s are 32 bytes each in a JWS signature.
constexpr std::size_t kCoordinateSize = 32;
constexpr std::size_t kSignatureSize = 2 * kCoordinateSize;
// The order n of P-256 (FIPS 186-4 D.1.2.3) and n/2, big-endian. ECDSA signature (r, s)
// verifies as (r, n - s) too; Berth signs with s <= n/2 only and refuses the other, so every
// token has one spelling (the same reason base64url decoding is strict).
constexpr std::array<unsigned char, kCoordinateSize> kOrder = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
constexpr std::array<unsigned char, kCoordinateSize> kHalfOrder = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};

bool is_high_s(const unsigned char* s) {
  return std::memcmp(s, kHalfOrder.data(), kCoordinateSize) > 0;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using Sig = std::unique_ptr<ECDSA_SIG, SigFree>;

// errno becomes an error here only.
std::unexpected<core::Error> os_error(const std::string& what, int error) {
  return core::fail(ErrorCode::kInternal, what + ": " + std::generic_category().message(error));
}

std::unexpected<core::Error> unauthorized(std::string reason) {
  return core::fail(ErrorCode::kUnauthorized, "invalid token: " + std::move(reason));
}

std::string_view as_chars(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// ---- the key file ------------------------------------------------------------------------

// Creates the missing directories above the key, owner-only.
core::Result<void> make_private_directories(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      break;
    }
    if (errno != ENOENT) {
      return os_error("cannot create key directory " + p.string(), errno);
    }
    missing.push_back(p);
    if (p == p.parent_path()) {
      break;
    }
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      return os_error("cannot create key directory " + it->string(), errno);
    }
  }
  return {};
}

core::Result<std::string> read_small_file(const std::filesystem::path& path) {
  const util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return os_error("cannot open signing key " + path.string(), errno);
  }
  std::string text;
  std::array<char, 4096> buffer{};
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return os_error("cannot read signing key " + path.string(), errno);
    }
    if (n == 0) {
      return text;
    }
    text.append(buffer.data(), static_cast<std::size_t>(n));
    if (text.size() > kMaxKeyFileSize) {
      return core::fail(ErrorCode::kInternal,
                        "signing key " + path.string() + " is not a PEM private key");
    }
  }
}

// Never prompts on a terminal for the passphrase of an encrypted key (OpenSSL's default).
int no_passphrase(char*, int, int, void*) { return -1; }

core::Result<Pkey> load_key(const std::filesystem::path& path) {
  auto text = read_small_file(path);
  if (!text) {
    return std::unexpected(text.error());
  }
  Bio bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  if (!bio) {
    throw std::bad_alloc();
  }
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  OPENSSL_cleanse(text->data(), text->size());
  ERR_clear_error();
  if (!key) {
    return core::fail(ErrorCode::kInternal,
                      "signing key " + path.string() + " is not an unencrypted PEM private key");
  }
  std::array<char, 64> group{};
  std::size_t group_length = 0;
  if (!EVP_PKEY_is_a(key.get(), "EC") ||
      EVP_PKEY_get_group_name(key.get(), group.data(), group.size(), &group_length) != 1 ||
      std::string_view(group.data(), group_length) != "prime256v1") {
    ERR_clear_error();
    const char* type = EVP_PKEY_get0_type_name(key.get());
    return core::fail(ErrorCode::kInternal, "signing key " + path.string() + " is a " +
                                                (type ? type : "unknown") +
                                                " key; ES256 needs an EC P-256 key");
  }
  return key;
}

// Writes a new key where none exists. The PEM goes to a private temporary file that is then
// linked into place: link() fails if another process (a second replica sharing the
// directory) got there first, and then its key is used instead of being overwritten.
core::Result<Pkey> create_key(const std::filesystem::path& path) {
  if (auto made = make_private_directories(path.parent_path()); !made) {
    return std::unexpected(made.error());
  }
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) {
    ERR_clear_error();
    return core::fail(ErrorCode::kInternal, "cannot generate an EC P-256 key");
  }
  Bio bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    ERR_clear_error();
    return core::fail(ErrorCode::kInternal, "cannot encode the signing key");
  }
  char* pem = nullptr;
  const long pem_size = BIO_get_mem_data(bio.get(), &pem);

  std::array<unsigned char, 8> nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + base64url_encode(as_chars(nonce.data(), nonce.size()));
  {
    const util::UniqueFd fd(
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
      return os_error("cannot create signing key " + temporary.string(), errno);
    }
    for (long written = 0; written < pem_size;) {
      const ssize_t n =
          ::write(fd.get(), pem + written, static_cast<std::size_t>(pem_size - written));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        const int error = n < 0 ? errno : EIO;
        ::unlink(temporary.c_str());
        return os_error("cannot write signing key " + temporary.string(), error);
      }
      written += n;
    }
    if (const auto synced = util::fsync_fd(fd.get())) {
      ::unlink(temporary.c_str());
      return os_error("cannot write signing key " + temporary.string(), synced.value());
    }
  }
  const int linked = ::link(temporary.c_str(), path.c_str());
  const int link_error = errno;
  ::unlink(temporary.c_str());
  if (linked != 0) {
    if (link_error == EEXIST) {
      return load_key(path);
    }
    return os_error("cannot create signing key " + path.string(), link_error);
  }
  // The new name must survive a crash too, or the next start would make another key and
  // every token handed out so far would stop verifying.
  (void)util::fsync_parent(path);
  return key;
}

// RFC 7638: SHA-256 over the required members of the JWK in lexicographic order, no spaces.
std::string thumbprint(EVP_PKEY* key) {
  std::string coordinates[2];
  const char* names[2] = {OSSL_PKEY_PARAM_EC_PUB_X, OSSL_PKEY_PARAM_EC_PUB_Y};
  for (int i = 0; i < 2; ++i) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, names[i], &raw) != 1) {
      throw std::runtime_error("cannot read the public key of the signing key");
    }
    const Bn bn(raw);
    std::array<unsigned char, kCoordinateSize> bytes{};
    if (BN_bn2binpad(bn.get(), bytes.data(), static_cast<int>(bytes.size())) < 0) {
      throw std::runtime_error("cannot encode the public key of the signing key");
    }
    coordinates[i] = base64url_encode(as_chars(bytes.data(), bytes.size()));
  }
  const std::string jwk = R"({"crv":"P-256","kty":"EC","x":")" + coordinates[0] + R"(","y":")" +
                          coordinates[1] + R"("})";
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(jwk.data(), jwk.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  return base64url_encode(as_chars(digest.data(), length));
}

// ---- signatures --------------------------------------------------------------------------

// ECDSA over SHA-256, returned as JWS wants it: r and s, 32 bytes each, big-endian.
std::string sign(EVP_PKEY* key, std::string_view input) {
  const MdCtx ctx(EVP_MD_CTX_new());
  std::size_t der_size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("ECDSA signing failed");
  }
  std::vector<unsigned char> der(der_size);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("ECDSA signing failed");
  }
  const unsigned char* cursor = der.data();
  const Sig sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_size)));
  if (!sig) {
    throw std::runtime_error("ECDSA signing produced no signature");
  }
  std::array<unsigned char, kSignatureSize> raw{};
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), kCoordinateSize) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + kCoordinateSize, kCoordinateSize) <
          0) {
    throw std::runtime_error("ECDSA signature does not fit P-256");
  }
  if (is_high_s(raw.data() + kCoordinateSize)) {
    const Bn order(BN_bin2bn(kOrder.data(), kCoordinateSize, nullptr));
    const Bn low_s(BN_new());
    if (!order || !low_s || BN_sub(low_s.get(), order.get(), ECDSA_SIG_get0_s(sig.get())) != 1 ||
        BN_bn2binpad(low_s.get(), raw.data() + kCoordinateSize, kCoordinateSize) < 0) {
      throw std::runtime_error("ECDSA signature normalization failed");
    }
  }
  return std::string(as_chars(raw.data(), raw.size()));
}

bool signature_valid(EVP_PKEY* key, std::string_view input, std::string_view raw) {
  if (raw.size() != kSignatureSize) {
    return false;
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  if (is_high_s(bytes + kCoordinateSize)) {
    return false;
  }
  Bn r(BN_bin2bn(bytes, kCoordinateSize, nullptr));
  Bn s(BN_bin2bn(bytes + kCoordinateSize, kCoordinateSize, nullptr));
  Sig sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    throw std::bad_alloc();
  }
  (void)r.release();  // owned by sig now
  (void)s.release();
  unsigned char* der = nullptr;
  const int der_size = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_size <= 0) {
    throw std::bad_alloc();
  }
  const std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(
      der, [](unsigned char* p) { OPENSSL_free(p); });
  const MdCtx ctx(EVP_MD_CTX_new());
  const bool valid =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_size),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  // A failed verification leaves entries on this thread's error queue; they are not
  // anybody's business and would confuse the next OpenSSL caller on the thread.
  ERR_clear_error();
  return valid;
}

// ---- claims ------------------------------------------------------------------------------

std::int64_t unix_seconds(core::TimePoint t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// NumericDate claims outside about +/-290 years would overflow the nanosecond TimePoint; the
// checks use the raw seconds, only TokenClaims gets the clamped value.
core::TimePoint from_unix_seconds(std::int64_t seconds) {
  constexpr std::int64_t kLimit = std::int64_t(1) << 33;  // ~ year 2242
  return core::TimePoint(std::chrono::seconds(std::clamp(seconds, -kLimit, kLimit)));
}

std::optional<std::int64_t> integer_claim(const json::object& claims, std::string_view name) {
  const json::value* v = claims.if_contains(name);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (v->is_int64()) {
    return v->get_int64();
  }
  if (v->is_uint64()) {  // above INT64_MAX: as far in the future as can be said
    return std::numeric_limits<std::int64_t>::max();
  }
  return std::nullopt;
}

std::optional<std::string> string_claim(const json::object& claims, std::string_view name) {
  const json::value* v = claims.if_contains(name);
  if (v == nullptr || !v->is_string()) {
    return std::nullopt;
  }
  return std::string(v->get_string());
}

std::optional<json::object> parse_object(std::string_view text) {
  json::error_code ec;
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !value.is_object()) {
    return std::nullopt;
  }
  return std::move(value.get_object());
}

// The Docker token spec's "access": [{"type", "name", "actions": [...]}].
std::optional<std::vector<Access>> parse_access(const json::value* value) {
  std::vector<Access> access;
  if (value == nullptr) {
    return access;
  }
  if (!value->is_array()) {
    return std::nullopt;
  }
  for (const json::value& item : value->get_array()) {
    const json::object* entry = item.if_object();
    if (entry == nullptr) {
      return std::nullopt;
    }
    auto type = string_claim(*entry, "type");
    auto name = string_claim(*entry, "name");
    const json::value* actions = entry->if_contains("actions");
    if (!type || !name || actions == nullptr || !actions->is_array()) {
      return std::nullopt;
    }
    Access parsed{std::move(*type), std::move(*name), {}};
    for (const json::value& action : actions->get_array()) {
      if (!action.is_string()) {
        return std::nullopt;
      }
      parsed.actions.emplace_back(action.get_string());
    }
    access.push_back(std::move(parsed));
  }
  return access;
}

}  // namespace

struct TokenService::Impl {
  TokenServiceOptions options;
  const core::Clock& clock;
  Pkey key;
  std::string kid;
};

TokenService::TokenService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenService::~TokenService() = default;

core::Result<std::unique_ptr<TokenService>> TokenService::open(
    const std::filesystem::path& key_file, TokenServiceOptions options, const core::Clock& clock) {
  core::Result<Pkey> key = core::fail(ErrorCode::kInternal, "no signing key");
  struct stat st {};
  if (::stat(key_file.c_str(), &st) == 0) {
    key = load_key(key_file);
  } else if (errno == ENOENT) {
    key = create_key(key_file);
  } else {
    key = os_error("cannot read signing key " + key_file.string(), errno);
  }
  if (!key) {
    return std::unexpected(key.error());
  }
  std::string kid = thumbprint(key->get());
  auto impl =
      std::make_unique<Impl>(Impl{std::move(options), clock, std::move(*key), std::move(kid)});
  return std::unique_ptr<TokenService>(new TokenService(std::move(impl)));
}

const TokenServiceOptions& TokenService::options() const { return impl_->options; }
const std::string& TokenService::key_id() const { return impl_->kid; }

std::string TokenService::issue(const std::string& subject, const std::vector<Access>& access,
                                const std::string& account) const {
  const std::int64_t now = unix_seconds(impl_->clock.now());
  json::object header;
  header["alg"] = "ES256";
  header["typ"] = "JWT";
  header["kid"] = impl_->kid;

  std::array<unsigned char, 16> jti{};
  if (RAND_bytes(jti.data(), static_cast<int>(jti.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  json::array access_claim;
  for (const Access& a : access) {
    json::array actions;
    for (const std::string& action : a.actions) {
      actions.emplace_back(action);
    }
    access_claim.emplace_back(
        json::object{{"type", a.type}, {"name", a.name}, {"actions", std::move(actions)}});
  }
  json::object claims;
  claims["iss"] = impl_->options.issuer;
  claims["sub"] = subject;
  claims["aud"] = impl_->options.service;
  claims["exp"] = now + impl_->options.ttl.count();
  claims["nbf"] = now;
  claims["iat"] = now;
  claims["jti"] = base64url_encode(as_chars(jti.data(), jti.size()));
  claims["access"] = std::move(access_claim);
  if (!account.empty()) {
    claims["aid"] = account;
  }

  std::string token = base64url_encode(json::serialize(header));
  token += '.';
  token += base64url_encode(json::serialize(claims));
  const std::string signature = sign(impl_->key.get(), token);
  token += '.';
  token += base64url_encode(signature);
  return token;
}

core::Result<TokenClaims> TokenService::verify(std::string_view token) const {
  if (token.size() > kMaxTokenSize) {
    return unauthorized("too large");
  }
  const auto first_dot = token.find('.');
  const auto second_dot =
      first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return unauthorized("not three dot-separated parts");
  }
  const auto header_text = base64url_decode(token.substr(0, first_dot));
  const auto payload_text =
      base64url_decode(token.substr(first_dot + 1, second_dot - first_dot - 1));
  const auto signature = base64url_decode(token.substr(second_dot + 1));
  if (!header_text || !payload_text || !signature) {
    return unauthorized("malformed base64url");
  }

  // The header is read before the signature is checked, so it is only compared, never
  // trusted: whatever it says, the one algorithm and key used below are ES256 and ours.
  // (A repeated member cannot help an attacker for the same reason.)
  const auto header = parse_object(*header_text);
  if (!header) {
    return unauthorized("header is not a JSON object");
  }
  const json::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "ES256") {
    return unauthorized("algorithm must be ES256");
  }
  if (const json::value* typ = header->if_contains("typ");
      typ != nullptr && (!typ->is_string() || typ->get_string() != "JWT")) {
    return unauthorized("type must be JWT");
  }
  if (header->contains("crit")) {
    return unauthorized("critical header extensions are not supported");
  }
  const json::value* kid = header->if_contains("kid");
  if (kid == nullptr || !kid->is_string() || kid->get_string() != impl_->kid) {
    return unauthorized("unknown signing key");
  }
  if (!signature_valid(impl_->key.get(), token.substr(0, second_dot), *signature)) {
    return unauthorized("bad signature");
  }

  const auto claims = parse_object(*payload_text);
  if (!claims) {
    return unauthorized("claims are not a JSON object");
  }
  const auto issuer = string_claim(*claims, "iss");
  if (!issuer || *issuer != impl_->options.issuer) {
    return unauthorized("wrong issuer");
  }
  bool audience_ok = false;
  if (const json::value* aud = claims->if_contains("aud"); aud != nullptr) {
    if (aud->is_string()) {
      audience_ok = aud->get_string() == impl_->options.service;
    } else if (aud->is_array()) {
      for (const json::value& one : aud->get_array()) {
        audience_ok =
            audience_ok || (one.is_string() && one.get_string() == impl_->options.service);
      }
    }
  }
  if (!audience_ok) {
    return unauthorized("wrong audience");
  }
  const auto expires = integer_claim(*claims, "exp");
  const auto not_before = integer_claim(*claims, "nbf");
  const auto issued_at = integer_claim(*claims, "iat");
  if (!expires || !not_before || !issued_at) {
    return unauthorized("exp, nbf and iat must be integers");
  }
  const std::int64_t now = unix_seconds(impl_->clock.now());
  const std::int64_t leeway = impl_->options.leeway.count();
  if (!(*expires > now - leeway)) {
    return unauthorized("expired");
  }
  if (!(*not_before <= now + leeway)) {
    return unauthorized("not yet valid");
  }
  const json::value* sub = claims->if_contains("sub");
  const json::value* jti = claims->if_contains("jti");
  const json::value* aid = claims->if_contains("aid");
  if ((sub != nullptr && !sub->is_string()) || (jti != nullptr && !jti->is_string()) ||
      (aid != nullptr && !aid->is_string())) {
    return unauthorized("sub, jti and aid must be strings");
  }
  auto access = parse_access(claims->if_contains("access"));
  if (!access) {
    return unauthorized("malformed access claim");
  }
  TokenClaims result;
  result.issuer = *issuer;
  result.subject = sub != nullptr ? std::string(sub->get_string()) : std::string();
  result.audience = impl_->options.service;
  result.issued_at = from_unix_seconds(*issued_at);
  result.not_before = from_unix_seconds(*not_before);
  result.expires = from_unix_seconds(*expires);
  result.id = jti != nullptr ? std::string(jti->get_string()) : std::string();
  result.access = std::move(*access);
  result.account = aid != nullptr ? std::string(aid->get_string()) : std::string();
  return result;
}

}  // namespace berth::auth
