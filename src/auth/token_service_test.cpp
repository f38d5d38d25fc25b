// Tests of the JWT token service. Most are attacks: every way a token could be forged,
// altered, replayed out of its time or mistaken for another service's must be refused.
// Tokens with arbitrary headers and claims are built here with OpenSSL directly, signed by
// the service's own key file, so the claim checks are tested behind a valid signature.
#include "auth/token_service.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "auth/base64url.hpp"
#include "testing/fake_clock.hpp"

namespace berth::auth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::seconds;
using ::testing::HasSubstr;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

EVP_PKEY* load_private_key(const fs::path& path) {
  const std::string pem = read_file(path);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

std::string private_key_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string public_key_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

constexpr const char* kP256Order =
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

// ES256 as JWS writes it, independently of the code under test: DER from OpenSSL, then r
// and s as 32 big-endian bytes each.
std::string es256_signature(const fs::path& key_file, const std::string& input) {
  EVP_PKEY* key = load_private_key(key_file);
  EXPECT_NE(key, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t size = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::vector<unsigned char> der(size);
  EVP_DigestSign(ctx, der.data(), &size, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  const unsigned char* cursor = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(size));
  unsigned char raw[64];
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
  // The low-s form of the pair (see HighSTwinOfASignatureIsRefused).
  BIGNUM* order = BN_new();
  BN_hex2bn(&order, kP256Order);
  BIGNUM* half = BN_dup(order);
  BN_rshift1(half, half);
  BIGNUM* s = BN_dup(ECDSA_SIG_get0_s(sig));
  if (BN_cmp(s, half) > 0) {
    BN_sub(s, order, s);
  }
  BN_bn2binpad(s, raw + 32, 32);
  BN_free(s);
  BN_free(half);
  BN_free(order);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return std::string(reinterpret_cast<char*>(raw), sizeof(raw));
}

std::string encode(const json::value& v) { return base64url_encode(json::serialize(v)); }

struct Parts {
  std::string header;
  std::string payload;
  std::string signature;
};

Parts split(const std::string& token) {
  const auto a = token.find('.');
  const auto b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

json::object decode_object(const std::string& part) {
  auto text = base64url_decode(part);
  EXPECT_TRUE(text.has_value());
  return json::parse(text.value_or("{}")).as_object();
}

class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("berth-token-test-" + std::to_string(random()) + std::to_string(random()));
    fs::create_directories(dir_);
    key_file_ = dir_ / "keys" / "token.pem";
    service_ = open(key_file_, TokenServiceOptions{});
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<TokenService> open(const fs::path& key_file, TokenServiceOptions options) {
    auto service = TokenService::open(key_file, std::move(options), clock_);
    EXPECT_TRUE(service.has_value()) << service.error().message;
    return service ? std::move(*service) : nullptr;
  }

  std::int64_t now() const {
    return std::chrono::floor<seconds>(clock_.now().time_since_epoch()).count();
  }

  json::object header(std::string_view alg = "ES256") const {
    return {{"alg", alg}, {"typ", "JWT"}, {"kid", service_->key_id()}};
  }

  json::object claims() const {
    return {{"iss", "berth"}, {"sub", "alice"}, {"aud", "berth"}, {"exp", now() + 300},
            {"nbf", now()},   {"iat", now()},   {"jti", "id-1"}};
  }

  // A token with exactly this header and these claims, validly signed with our key.
  std::string forge(const json::object& header, const json::object& claims) const {
    const std::string input = encode(header) + "." + encode(claims);
    return input + "." + base64url_encode(es256_signature(key_file_, input));
  }

  void expect_refused(std::string_view token, std::string_view reason = "") const {
    auto verified = service_->verify(token);
    ASSERT_FALSE(verified.has_value()) << "accepted: " << token.substr(0, 200);
    EXPECT_EQ(verified.error().code, core::ErrorCode::kUnauthorized);
    EXPECT_THAT(verified.error().message, HasSubstr(std::string(reason)));
  }

  testing::FakeClock clock_;
  fs::path dir_;
  fs::path key_file_;
  std::unique_ptr<TokenService> service_;
};

// ---- the good path -----------------------------------------------------------------------

TEST_F(TokenServiceTest, IssuedTokenVerifies) {
  const std::vector<Access> access = {{"repository", "ci/app", {"pull", "push"}}};
  const std::string token = service_->issue("alice", access);
  auto claims = service_->verify(token);
  ASSERT_TRUE(claims.has_value()) << claims.error().message;
  EXPECT_EQ(claims->issuer, "berth");
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_EQ(claims->audience, "berth");
  EXPECT_EQ(claims->issued_at, core::TimePoint(seconds(now())));
  EXPECT_EQ(claims->not_before, claims->issued_at);
  EXPECT_EQ(claims->expires, claims->issued_at + seconds(300));
  EXPECT_EQ(claims->id.size(), 22u);  // 128 random bits
  EXPECT_EQ(claims->access, access);
}

TEST_F(TokenServiceTest, IssuedTokenHasTheJwsShapeClientsExpect) {
  const Parts parts = split(service_->issue("alice", {}));
  const json::object header = decode_object(parts.header);
  EXPECT_EQ(header.size(), 3u);
  EXPECT_EQ(header.at("alg"), "ES256");
  EXPECT_EQ(header.at("typ"), "JWT");
  EXPECT_EQ(header.at("kid"), json::value(service_->key_id()));
  auto signature = base64url_decode(parts.signature);
  ASSERT_TRUE(signature.has_value());
  EXPECT_EQ(signature->size(), 64u);
  const json::object claims = decode_object(parts.payload);
  for (const char* name : {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"}) {
    EXPECT_TRUE(claims.contains(name)) << name;
  }
}

TEST_F(TokenServiceTest, EveryTokenHasItsOwnId) {
  auto a = service_->verify(service_->issue("alice", {}));
  auto b = service_->verify(service_->issue("alice", {}));
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->id, b->id);
}

TEST_F(TokenServiceTest, AccountClaimRoundTripsAndIsAbsentWhenEmpty) {
  auto bound = service_->verify(service_->issue("alice", {}, "u42"));
  ASSERT_TRUE(bound.has_value()) << bound.error().message;
  EXPECT_EQ(bound->account, "u42");
  const std::string anonymous = service_->issue("", {});
  EXPECT_FALSE(decode_object(split(anonymous).payload).contains("aid"));
  EXPECT_EQ(service_->verify(anonymous).value().account, "");
}

TEST_F(TokenServiceTest, AccessClaimRoundTrips) {
  const std::vector<Access> access = {
      {"repository", "a/b", {"pull"}},
      {"repository", "a/c", {"*"}},
      {"repository", "d", {}},
      {"registry", "catalog", {"*"}},
  };
  const std::string token = service_->issue("", access);
  const json::object claims = decode_object(split(token).payload);
  EXPECT_EQ(json::serialize(claims.at("access")),
            R"([{"type":"repository","name":"a/b","actions":["pull"]},)"
            R"({"type":"repository","name":"a/c","actions":["*"]},)"
            R"({"type":"repository","name":"d","actions":[]},)"
            R"({"type":"registry","name":"catalog","actions":["*"]}])");
  auto verified = service_->verify(token);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(verified->access, access);
  EXPECT_EQ(verified->subject, "");
}

TEST_F(TokenServiceTest, MissingAccessClaimMeansNoAccess) {
  auto verified = service_->verify(forge(header(), claims()));
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_TRUE(verified->access.empty());
  EXPECT_EQ(verified->subject, "alice");
  EXPECT_EQ(verified->id, "id-1");
}

TEST_F(TokenServiceTest, TypMayBeAbsent) {
  json::object h = header();
  h.erase("typ");
  EXPECT_TRUE(service_->verify(forge(h, claims())).has_value());
}

TEST_F(TokenServiceTest, AudienceMayBeAListContainingUs) {
  json::object c = claims();
  c["aud"] = json::array{"other", "berth"};
  EXPECT_TRUE(service_->verify(forge(header(), c)).has_value());
  c["aud"] = json::array{"other", "another"};
  expect_refused(forge(header(), c), "audience");
  c["aud"] = json::array{};
  expect_refused(forge(header(), c), "audience");
}

// ---- keys ----------------------------------------------------------------------------------

TEST_F(TokenServiceTest, KeyFileIsPrivateAndReloaded) {
  struct stat st {};
  ASSERT_EQ(::stat(key_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(key_file_.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_THAT(read_file(key_file_), HasSubstr("-----BEGIN PRIVATE KEY-----"));  // PKCS#8

  const std::string token = service_->issue("alice", {});
  auto again = open(key_file_, TokenServiceOptions{});
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->key_id(), service_->key_id());
  EXPECT_TRUE(again->verify(token).has_value());
  EXPECT_TRUE(service_->verify(again->issue("bob", {})).has_value());
  // No temporary files left beside the key.
  EXPECT_EQ(std::distance(fs::directory_iterator(key_file_.parent_path()), {}), 1);
}

// The kid is the RFC 7638 thumbprint, computed here from the SubjectPublicKeyInfo DER: for
// P-256 its last 64 bytes are the x and y coordinates.
TEST_F(TokenServiceTest, KeyIdIsTheJwkThumbprint) {
  EVP_PKEY* key = load_private_key(key_file_);
  ASSERT_NE(key, nullptr);
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key, &der);
  ASSERT_EQ(size, 91);
  const std::string point(reinterpret_cast<char*>(der) + size - 64, 64);
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  const std::string jwk = R"({"crv":"P-256","kty":"EC","x":")" +
                          base64url_encode(point.substr(0, 32)) + R"(","y":")" +
                          base64url_encode(point.substr(32)) + R"("})";
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_Digest(jwk.data(), jwk.size(), digest, &length, EVP_sha256(), nullptr);
  EXPECT_EQ(service_->key_id(), base64url_encode(std::string(reinterpret_cast<char*>(digest), 32)));
}

TEST_F(TokenServiceTest, RefusesKeyFilesOfOtherTypes) {
  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  EVP_PKEY* ed25519 = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_TRUE(p384 && ed25519);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"p384.pem", private_key_pem(p384)},
      {"ed25519.pem", private_key_pem(ed25519)},
      {"public.pem", public_key_pem(p384)},
      {"garbage.pem", "not a key\n"},
      {"empty.pem", ""},
  };
  EVP_PKEY_free(p384);
  EVP_PKEY_free(ed25519);
  for (const auto& [name, text] : files) {
    write_file(dir_ / name, text);
    auto service = TokenService::open(dir_ / name, TokenServiceOptions{}, clock_);
    ASSERT_FALSE(service.has_value()) << name;
    EXPECT_EQ(service.error().code, core::ErrorCode::kInternal) << name;
    EXPECT_EQ(read_file(dir_ / name), text) << "a refused key file is left alone";
  }
}

TEST_F(TokenServiceTest, TokenOfAnotherKeyIsRefused) {
  auto other = open(dir_ / "other" / "token.pem", TokenServiceOptions{});
  ASSERT_NE(other, nullptr);
  ASSERT_NE(other->key_id(), service_->key_id());
  expect_refused(other->issue("alice", {}), "unknown signing key");

  // Naming our kid does not help: the signature is still the other key's.
  const std::string input = encode(header()) + "." + encode(claims());
  const std::string forged =
      input + "." + base64url_encode(es256_signature(dir_ / "other" / "token.pem", input));
  expect_refused(forged, "bad signature");
}

// ---- forgeries -----------------------------------------------------------------------------

TEST_F(TokenServiceTest, TamperedPayloadIsRefused) {
  const Parts parts = split(service_->issue("alice", {{"repository", "a", {"pull"}}}));
  json::object payload = decode_object(parts.payload);
  payload["sub"] = "admin";
  payload["access"] = json::array{
      json::object{{"type", "repository"}, {"name", "a"}, {"actions", json::array{"*"}}}};
  expect_refused(parts.header + "." + encode(payload) + "." + parts.signature, "bad signature");
}

TEST_F(TokenServiceTest, TamperedSignatureIsRefused) {
  const Parts parts = split(service_->issue("alice", {}));
  const std::string signature = *base64url_decode(parts.signature);
  for (std::size_t i : {std::size_t(0), std::size_t(31), std::size_t(32), std::size_t(63)}) {
    std::string flipped = signature;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    expect_refused(parts.header + "." + parts.payload + "." + base64url_encode(flipped),
                   "bad signature");
  }
  // Another token's signature.
  const Parts other = split(service_->issue("bob", {}));
  expect_refused(parts.header + "." + parts.payload + "." + other.signature, "bad signature");
  // r = s = 0, and all ones (beyond the group order).
  expect_refused(parts.header + "." + parts.payload + "." + base64url_encode(std::string(64, '\0')),
                 "bad signature");
  expect_refused(
      parts.header + "." + parts.payload + "." + base64url_encode(std::string(64, '\xff')),
      "bad signature");
}

TEST_F(TokenServiceTest, SignatureOfTheWrongSizeIsRefused) {
  const Parts parts = split(service_->issue("alice", {}));
  const std::string signature = *base64url_decode(parts.signature);
  const std::string input = parts.header + "." + parts.payload + ".";
  expect_refused(input + base64url_encode(signature.substr(0, 63)));
  expect_refused(input + base64url_encode(signature + '\0'));
  expect_refused(input + base64url_encode('\0' + signature));
  expect_refused(input);  // empty signature
}

// (r, n - s) is a valid ECDSA signature whenever (r, s) is; only the low-s one is accepted,
// and issue() always writes that one.
TEST_F(TokenServiceTest, HighSTwinOfASignatureIsRefused) {
  BIGNUM* order = BN_new();
  ASSERT_TRUE(
      BN_hex2bn(&order, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"));
  BIGNUM* half = BN_dup(order);
  BN_rshift1(half, half);
  for (int i = 0; i < 20; ++i) {
    const Parts parts = split(service_->issue("alice", {}));
    const std::string signature = *base64url_decode(parts.signature);
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
    EXPECT_LE(BN_cmp(s, half), 0) << "issued a high-s signature";
    BIGNUM* twin_s = BN_new();
    BN_sub(twin_s, order, s);
    unsigned char twin[64];
    std::memcpy(twin, raw, 32);
    BN_bn2binpad(twin_s, twin + 32, 32);
    expect_refused(parts.header + "." + parts.payload + "." +
                       base64url_encode(std::string(reinterpret_cast<char*>(twin), 64)),
                   "bad signature");
    BN_free(twin_s);
    BN_free(s);
  }
  BN_free(half);
  BN_free(order);
}

// Some libraries put OpenSSL's DER signature into the JWS; it is not the raw r||s JWS needs.
TEST_F(TokenServiceTest, DerSignatureIsRefused) {
  const std::string input = encode(header()) + "." + encode(claims());
  EVP_PKEY* key = load_private_key(key_file_);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t size = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string der(size, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &size,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  der.resize(size);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  expect_refused(input + "." + base64url_encode(der));
}

TEST_F(TokenServiceTest, AlgNoneIsRefused) {
  const std::string input = encode(header("none")) + "." + encode(claims());
  expect_refused(input + ".", "algorithm");
  // Even with a valid ES256 signature over the same bytes.
  expect_refused(input + "." + base64url_encode(es256_signature(key_file_, input)), "algorithm");
  for (std::string_view alg : {"None", "NONE", "", "ES384", "RS256", "PS256", "EdDSA"}) {
    expect_refused(forge(header(alg), claims()), "algorithm");
  }
  json::object h = header();
  h.erase("alg");
  expect_refused(forge(h, claims()), "algorithm");
  h["alg"] = json::array{"ES256"};
  expect_refused(forge(h, claims()), "algorithm");
}

// The algorithm-confusion attack: an HMAC keyed with our public key, which is public.
TEST_F(TokenServiceTest, HmacWithThePublicKeyIsRefused) {
  EVP_PKEY* key = load_private_key(key_file_);
  ASSERT_NE(key, nullptr);
  const std::string secret = public_key_pem(key);
  EVP_PKEY_free(key);
  const std::string input = encode(header("HS256")) + "." + encode(claims());
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  ASSERT_EQ(length, 32u);
  expect_refused(input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), 32)),
                 "algorithm");
}

TEST_F(TokenServiceTest, WrongOrMissingKidIsRefused) {
  json::object h = header();
  h["kid"] = "someone-else";
  expect_refused(forge(h, claims()), "unknown signing key");
  h["kid"] = service_->key_id() + "x";
  expect_refused(forge(h, claims()), "unknown signing key");
  h["kid"] = 1;
  expect_refused(forge(h, claims()), "unknown signing key");
  h.erase("kid");
  expect_refused(forge(h, claims()), "unknown signing key");
}

TEST_F(TokenServiceTest, OtherTypOrCritIsRefused) {
  json::object h = header();
  h["typ"] = "JWE";
  expect_refused(forge(h, claims()), "type");
  h["typ"] = nullptr;
  expect_refused(forge(h, claims()), "type");
  h = header();
  h["crit"] = json::array{"exp"};
  expect_refused(forge(h, claims()), "critical");
}

// ---- claims --------------------------------------------------------------------------------

TEST_F(TokenServiceTest, WrongAudienceIsRefused) {
  TokenServiceOptions options;
  options.service = "registry.other.example";
  auto other = open(key_file_, options);  // same key, another service
  ASSERT_NE(other, nullptr);
  expect_refused(other->issue("alice", {}), "audience");
  json::object c = claims();
  c.erase("aud");
  expect_refused(forge(header(), c), "audience");
}

TEST_F(TokenServiceTest, WrongIssuerIsRefused) {
  TokenServiceOptions options;
  options.issuer = "mallory";
  auto other = open(key_file_, options);
  ASSERT_NE(other, nullptr);
  expect_refused(other->issue("alice", {}), "issuer");
  json::object c = claims();
  c.erase("iss");
  expect_refused(forge(header(), c), "issuer");
  c["iss"] = json::array{"berth"};
  expect_refused(forge(header(), c), "issuer");
}

TEST_F(TokenServiceTest, ExpiredTokenIsRefused) {
  const std::string token = service_->issue("alice", {});
  clock_.advance(seconds(300 + 59));  // past exp, inside the leeway
  EXPECT_TRUE(service_->verify(token).has_value());
  clock_.advance(seconds(1));
  expect_refused(token, "expired");
  clock_.advance(std::chrono::hours(24 * 365));
  expect_refused(token, "expired");
}

TEST_F(TokenServiceTest, NotYetValidTokenIsRefused) {
  const std::string token = service_->issue("alice", {});
  clock_.advance(-seconds(60));  // a replica whose clock is a minute behind: leeway covers it
  EXPECT_TRUE(service_->verify(token).has_value());
  clock_.advance(-seconds(1));
  expect_refused(token, "not yet valid");
}

// exp = T is valid while now < T + leeway; nbf = T is valid once now >= T - leeway. The
// fraction of a second in the clock does not move the edge.
TEST_F(TokenServiceTest, LeewayEdges) {
  const std::int64_t t = now() + 1000;
  json::object c = claims();
  c["exp"] = t;
  const std::string expires_at_t = forge(header(), c);
  c = claims();
  c["nbf"] = t;
  c["exp"] = t + 1000;
  const std::string valid_from_t = forge(header(), c);

  clock_.set(core::TimePoint(seconds(t + 59) + std::chrono::milliseconds(999)));
  EXPECT_TRUE(service_->verify(expires_at_t).has_value());
  clock_.set(core::TimePoint(seconds(t + 60)));
  expect_refused(expires_at_t, "expired");

  clock_.set(core::TimePoint(seconds(t - 60)));
  EXPECT_TRUE(service_->verify(valid_from_t).has_value());
  clock_.set(core::TimePoint(seconds(t - 61) + std::chrono::milliseconds(999)));
  expect_refused(valid_from_t, "not yet valid");
}

TEST_F(TokenServiceTest, ZeroLeewayIsExact) {
  TokenServiceOptions options;
  options.leeway = seconds(0);
  auto strict = open(key_file_, options);
  ASSERT_NE(strict, nullptr);
  const std::string token = strict->issue("alice", {});
  clock_.advance(seconds(299));
  EXPECT_TRUE(strict->verify(token).has_value());
  clock_.advance(seconds(1));
  EXPECT_FALSE(strict->verify(token).has_value());
}

TEST_F(TokenServiceTest, TimeClaimsMustBeIntegers) {
  for (const char* name : {"exp", "nbf", "iat"}) {
    json::object c = claims();
    c.erase(name);
    expect_refused(forge(header(), c), "integers");
    c[name] = std::to_string(now());
    expect_refused(forge(header(), c), "integers");
    c[name] = static_cast<double>(now()) + 0.5;
    expect_refused(forge(header(), c), "integers");
  }
}

TEST_F(TokenServiceTest, ExtremeTimesDoNotOverflow) {
  json::object c = claims();
  c["exp"] = std::numeric_limits<std::int64_t>::max();
  c["iat"] = std::numeric_limits<std::int64_t>::min();
  c["nbf"] = std::numeric_limits<std::int64_t>::min();
  auto verified = service_->verify(forge(header(), c));
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_GT(verified->expires, clock_.now());
  c["exp"] = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE(service_->verify(forge(header(), c)).has_value());
  c = claims();
  c["nbf"] = std::numeric_limits<std::int64_t>::max();
  expect_refused(forge(header(), c), "not yet valid");
  c = claims();
  c["exp"] = std::numeric_limits<std::int64_t>::min();
  expect_refused(forge(header(), c), "expired");
}

TEST_F(TokenServiceTest, MalformedClaimsAreRefused) {
  json::object c = claims();
  c["sub"] = 5;
  expect_refused(forge(header(), c), "sub");
  c = claims();
  c["aid"] = json::array{"u1"};
  expect_refused(forge(header(), c), "aid");
  c = claims();
  c["access"] = "repository:a:pull";
  expect_refused(forge(header(), c), "access");
  c["access"] = json::array{json::object{{"type", "repository"}, {"name", "a"}}};
  expect_refused(forge(header(), c), "access");
  c["access"] =
      json::array{json::object{{"type", "repository"}, {"name", "a"}, {"actions", json::array{1}}}};
  expect_refused(forge(header(), c), "access");
  c["access"] = json::array{"x"};
  expect_refused(forge(header(), c), "access");

  const std::string input = encode(header()) + "." + base64url_encode("[1,2]");
  expect_refused(input + "." + base64url_encode(es256_signature(key_file_, input)), "claims");
  const std::string not_json = encode(header()) + "." + base64url_encode("{\"iss\":");
  expect_refused(not_json + "." + base64url_encode(es256_signature(key_file_, not_json)), "claims");
}

// ---- garbage -------------------------------------------------------------------------------

TEST_F(TokenServiceTest, GarbageIsRefused) {
  const Parts good = split(service_->issue("alice", {}));
  const std::vector<std::string> garbage = {
      "",
      ".",
      "..",
      "...",
      "abc",
      good.header + "." + good.payload,
      good.header + "." + good.payload + "." + good.signature + ".",
      good.header + "." + good.payload + "." + good.signature + "." + good.signature,
      "." + good.payload + "." + good.signature,
      good.header + ".." + good.signature,
      "@@@." + good.payload + "." + good.signature,
      good.header + "=." + good.payload + "." + good.signature,
      good.header + "." + good.payload + "." + good.signature + "==",
      good.header + "." + good.payload + " ." + good.signature,
      " " + good.header + "." + good.payload + "." + good.signature,
      good.header + "+/" + "." + good.payload + "." + good.signature,
      base64url_encode("[]") + "." + good.payload + "." + good.signature,
      base64url_encode("\"ES256\"") + "." + good.payload + "." + good.signature,
      base64url_encode("not json") + "." + good.payload + "." + good.signature,
      base64url_encode(R"({"alg":"ES256",})") + "." + good.payload + "." + good.signature,
      std::string("\0\0\0", 3),
  };
  for (const std::string& token : garbage) {
    expect_refused(token);
  }
}

// One byte string, one encoding: the spare low bits of the last base64 character must be
// zero, so a token cannot be respelled into another one that still verifies.
TEST_F(TokenServiceTest, NonCanonicalBase64IsRefused) {
  const Parts parts = split(service_->issue("alice", {}));
  ASSERT_EQ(parts.signature.size(), 86u);  // 64 bytes: 4 spare bits in the last character
  std::string respelled = parts.signature;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  respelled.back() = alphabet[alphabet.find(respelled.back()) | 1];
  ASSERT_NE(respelled, parts.signature);
  expect_refused(parts.header + "." + parts.payload + "." + respelled, "base64");
}

TEST_F(TokenServiceTest, HugeTokenIsRefusedBeforeParsing) {
  json::object c = claims();
  c["pad"] = std::string(20'000, 'x');
  expect_refused(forge(header(), c), "too large");
  expect_refused(std::string(1 << 20, 'a'), "too large");
}

TEST_F(TokenServiceTest, ErrorsDoNotEchoTheToken) {
  const std::string token = service_->issue("alice", {});
  const Parts parts = split(token);
  auto verified = service_->verify(parts.header + "." + parts.payload + ".AAAA");
  ASSERT_FALSE(verified.has_value());
  EXPECT_THAT(verified.error().message, ::testing::Not(HasSubstr(parts.payload)));
  EXPECT_TRUE(verified.error().detail_json.empty());
}

}  // namespace
}  // namespace berth::auth
