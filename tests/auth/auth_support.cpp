// The helpers of the access-control tests (see auth_support.hpp).
#include "auth_support.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "auth/password.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/test_pki.hpp"

namespace berth::authtest {

namespace json = boost::json;
using testing::describe;

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view bytes, bool url) {
  std::string out;
  std::size_t i = 0;
  auto sextet = [&](unsigned value) {
    char c = kBase64[value & 63];
    if (url && c == '+') {
      c = '-';
    } else if (url && c == '/') {
      c = '_';
    }
    out.push_back(c);
  };
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    sextet(v >> 18);
    sextet(v >> 12);
    sextet(v >> 6);
    sextet(v);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    sextet(v >> 18);
    sextet(v >> 12);
    if (!url) {
      out += "==";
    }
  } else if (rest == 2) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    sextet(v >> 18);
    sextet(v >> 12);
    sextet(v >> 6);
    if (!url) {
      out += "=";
    }
  }
  return out;
}

meta::SqliteStores open_stores(const fs::path& data) {
  fs::create_directories(data);
  auto stores = meta::open_sqlite_stores(meta::SqliteOptions{(data / "berth.db").string()});
  if (!stores) {
    throw std::runtime_error("cannot open the account store: " + stores.error().message);
  }
  return std::move(*stores);
}

void check_status(const HttpResponse& response, unsigned expect, std::string_view what) {
  if (response.status != expect) {
    throw std::runtime_error(std::string(what) + ": expected " + std::to_string(expect) + ", " +
                             describe(response));
  }
}

std::string signing_input(const json::object& header, const json::object& payload) {
  return base64url(json::serialize(header)) + "." + base64url(json::serialize(payload));
}

using testing::bio_text;
using testing::CertificatePtr;
using testing::KeyPtr;
using testing::make_certificate;
using testing::make_key;
using testing::replace_file;
using testing::to_pem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// ---------------------------------------------------------------------------- credentials

std::string basic_auth(std::string_view user, std::string_view password) {
  std::string pair(user);
  pair += ':';
  pair += password;
  return "Basic " + base64(pair, false);
}

std::string bearer_auth(std::string_view token) { return "Bearer " + std::string(token); }

HttpHeaders authorization(const std::string& value) {
  HttpHeaders headers;
  if (!value.empty()) {
    headers.add("Authorization", value);
  }
  return headers;
}

json::value json_of(std::string_view body) {
  boost::system::error_code ec;
  auto value = json::parse(body, ec);
  if (ec) {
    throw std::runtime_error("not JSON: " + std::string(body));
  }
  return value;
}

std::optional<Challenge> parse_challenge(std::string_view header) {
  Challenge challenge;
  const auto space = header.find(' ');
  if (space == std::string_view::npos) {
    if (header.empty()) {
      return std::nullopt;
    }
    challenge.scheme = std::string(header);
    return challenge;
  }
  challenge.scheme = std::string(header.substr(0, space));
  std::size_t i = space + 1;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) {
      ++i;
    }
    const auto equals = header.find('=', i);
    if (equals == std::string_view::npos) {
      return std::nullopt;
    }
    std::string key(header.substr(i, equals - i));
    i = equals + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) {
          ++i;
        }
        value.push_back(header[i++]);
      }
      if (i >= header.size()) {
        return std::nullopt;  // unterminated quote
      }
      ++i;
    } else {
      while (i < header.size() && header[i] != ',') {
        value.push_back(header[i++]);
      }
    }
    if (challenge.params.contains(key)) {
      return std::nullopt;  // a parameter twice is malformed
    }
    challenge.params.emplace(std::move(key), std::move(value));
  }
  return challenge;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------- tokens

HttpResponse get_token(HttpClient& http, const TokenQuery& query) {
  std::string target = "/token?service=" + url_encode(query.service);
  for (const auto& scope : query.scopes) {
    target += "&scope=" + url_encode(scope);
  }
  if (query.offline) {
    target += "&offline_token=true";
  }
  HttpHeaders headers;
  if (query.basic) {
    headers.add("Authorization", basic_auth(query.basic->first, query.basic->second));
  }
  return http.get(target, headers);
}

std::string fetch_token(HttpClient& http, const TokenQuery& query) {
  const auto response = get_token(http, query);
  check_status(response, 200, "GET /token");
  const auto body = json_of(response.body);
  return std::string(body.at("token").as_string());
}

HttpResponse post_token(HttpClient& http,
                        const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [key, value] : fields) {
    body += (body.empty() ? "" : "&") + url_encode(key) + "=" + url_encode(value);
  }
  return http.post("/token", body, {{"Content-Type", "application/x-www-form-urlencoded"}});
}

std::string repo_scope(std::string_view repo, std::string_view actions) {
  return "repository:" + std::string(repo) + ":" + std::string(actions);
}

// ---------------------------------------------------------------------------- JWTs

std::string base64url(std::string_view bytes) { return base64(bytes, true); }

std::string base64url_decode(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '-') {
      value = 62;
    } else if (c == '_') {
      value = 63;
    } else {
      throw std::runtime_error("not base64url: " + std::string(text));
    }
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

Jwt decode_jwt(std::string_view token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos) {
    throw std::runtime_error("not a JWT: " + std::string(token));
  }
  Jwt jwt;
  jwt.header = json_of(base64url_decode(token.substr(0, first))).as_object();
  jwt.payload = json_of(base64url_decode(token.substr(first + 1, second - first - 1))).as_object();
  return jwt;
}

namespace {

KeyPtr read_private_key(const fs::path& key_file) {
  const std::string pem = read_file(key_file);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  KeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr), EVP_PKEY_free);
  BIO_free(bio);
  if (!key) {
    throw std::runtime_error("cannot read the signing key " + key_file.string());
  }
  return key;
}

// n - s for the order n of P-256, as 32 big-endian bytes.
std::string negate_s(std::string_view s) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> order(nullptr, BN_free);
  BIGNUM* parsed = nullptr;
  BN_hex2bn(&parsed, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
  order.reset(parsed);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> value(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()),
                nullptr),
      BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> result(BN_new(), BN_free);
  if (!order || !value || !result || BN_sub(result.get(), order.get(), value.get()) != 1) {
    throw std::runtime_error("BN_sub failed");
  }
  std::string out(32, '\0');
  BN_bn2binpad(result.get(), reinterpret_cast<unsigned char*>(out.data()), 32);
  return out;
}

}  // namespace

std::string public_key_pem(const fs::path& key_file) {
  auto key = read_private_key(key_file);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key.get());
  return bio_text(bio);
}

std::string sign_es256(const fs::path& key_file, const json::object& header,
                       const json::object& payload) {
  auto key = read_private_key(key_file);
  const std::string input = signing_input(header, payload);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("cannot sign");
  }
  std::string der(length, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("cannot sign");
  }
  // JWS wants r || s, 32 bytes each, not OpenSSL's DER sequence.
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> signature(
      d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(length)), ECDSA_SIG_free);
  if (!signature) {
    throw std::runtime_error("cannot decode the signature");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(signature.get(), &r, &s);
  std::string raw(64, '\0');
  BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  // (r, s) and (r, n - s) both verify; Berth accepts only the low-s spelling, as it signs.
  const std::string low = raw.substr(0, 32) + negate_s(raw.substr(32));
  if (std::memcmp(raw.data() + 32, low.data() + 32, 32) > 0) {
    raw = low;
  }
  return input + "." + base64url(raw);
}

std::string malleate_signature(std::string_view token) {
  const auto dot = token.rfind('.');
  const std::string raw = base64url_decode(token.substr(dot + 1));
  if (raw.size() != 64) {
    throw std::runtime_error("not an ES256 signature");
  }
  return std::string(token.substr(0, dot + 1)) +
         base64url(raw.substr(0, 32) + negate_s(raw.substr(32)));
}

std::string sign_hs256(std::string_view secret, const json::object& header,
                       const json::object& payload) {
  const std::string input = signing_input(header, payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), length));
}

std::string unsigned_jwt(const json::object& header, const json::object& payload) {
  return signing_input(header, payload) + ".";
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------- seeding

void seed_user(const fs::path& data, const std::string& name, std::string_view password, bool admin,
               int cost) {
  auto hash = auth::hash_password(password, cost);
  if (!hash) {
    throw std::runtime_error("cannot hash: " + hash.error().message);
  }
  auto stores = open_stores(data);
  auto created =
      stores.accounts->create_user(meta::User{.name = name,
                                              .password_hash = *hash,
                                              .admin = admin,
                                              .created = std::chrono::system_clock::now()});
  if (!created) {
    throw std::runtime_error("cannot create user " + name + ": " + created.error().message);
  }
}

std::string seed_robot(const fs::path& data, const std::string& name,
                       std::vector<meta::RobotScope> scopes,
                       std::optional<core::TimePoint> expires) {
  const std::string token = auth::random_token("brb_");
  meta::Robot robot;
  robot.name = name;
  robot.token_hash = auth::token_hash(token);
  robot.scopes = std::move(scopes);
  robot.created = std::chrono::system_clock::now() - std::chrono::hours(48);
  robot.expires = expires;
  auto stores = open_stores(data);
  auto created = stores.accounts->create_robot(robot);
  if (!created) {
    throw std::runtime_error("cannot create robot " + name + ": " + created.error().message);
  }
  return token;
}

// ---------------------------------------------------------------------------- AuthServer

AuthServer::AuthServer(AuthServerOptions options) : data_(dir_.path() / "data") {
  seed_user(data_, "admin", kAdminPassword, true);
  for (const auto& [name, password] : options.users) {
    seed_user(data_, name, password);
  }
  BerthOptions berth;
  berth.data = data_;
  berth.env = std::move(options.env);
  berth.env["BERTH_AUTH_ENABLED"] = "true";
  berth.args = std::move(options.args);
  process_ = std::make_unique<BerthProcess>(std::move(berth));
  admin_http_ = client();
}

AuthServer::~AuthServer() {
  admin_http_.reset();
  if (process_->running()) {
    const int status = process_->stop();
    if (status != 0) {
      ADD_FAILURE() << "berth exited with status " << status << ":\n" << process_->log();
    }
  }
}

std::string AuthServer::realm() const {
  return "http://127.0.0.1:" + std::to_string(port()) + "/token";
}

std::unique_ptr<HttpClient> AuthServer::client() const {
  return std::make_unique<HttpClient>("127.0.0.1", port());
}

std::vector<std::unique_ptr<HttpClient>> connected_clients(const AuthServer& server, int count) {
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < count; ++i) {
    clients.push_back(server.client());
    check_status(clients.back()->get("/v2/"), 401, "GET /v2/ to connect");
  }
  return clients;
}

HttpResponse AuthServer::admin_api(std::string_view method, std::string_view path,
                                   std::string_view body, unsigned expect) {
  HttpHeaders headers{{"Authorization", admin_basic()}};
  if (!body.empty()) {
    headers.add("Content-Type", "application/json");
  }
  auto response = admin_http_->request(method, path, headers, body);
  check_status(response, expect, std::string(method) + " " + std::string(path));
  return response;
}

void AuthServer::create_project(const std::string& name, bool is_public) {
  json::object body{{"name", name}, {"public", is_public}};
  admin_api("POST", "/api/v1/projects", json::serialize(body), 201);
}

void AuthServer::set_member(const std::string& project, const std::string& user,
                            const std::string& role) {
  json::object body{{"role", role}};
  admin_api("PUT", "/api/v1/projects/" + project + "/members/" + user, json::serialize(body), 204);
}

std::string AuthServer::create_robot(
    const std::string& name, const std::vector<std::pair<std::string, std::string>>& scopes) {
  json::array projects;
  for (const auto& [project, role] : scopes) {
    projects.push_back(json::object{{"project", project}, {"role", role}});
  }
  json::object body{{"name", name}, {"projects", std::move(projects)}};
  auto response = admin_api("POST", "/api/v1/robots", json::serialize(body), 201);
  return std::string(json_of(response.body).at("token").as_string());
}

void use_authorization(HttpClient& http, const std::string& authorization) {
  http.set_default_headers(authorization.empty() ? HttpHeaders{}
                                                 : HttpHeaders{{"Authorization", authorization}});
}

// ---------------------------------------------------------------------------- pushing

SmallImage push_small_image(HttpClient& http, std::string_view repo, std::string_view tag) {
  using testing::media_types::kOciConfig;
  using testing::media_types::kOciLayer;
  using testing::media_types::kOciManifest;
  const std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},)"
                             R"("config":{"Labels":{"berth.test":")" +
                             testing::random_token(16) + R"("}}})";
  const std::string layer = testing::random_bytes(512);
  SmallImage image;
  for (const std::string* blob : {&config, &layer}) {
    const std::string digest = testing::sha256_digest(*blob);
    const auto response = http.post("/v2/" + std::string(repo) + "/blobs/uploads/?digest=" + digest,
                                    *blob, {{"Content-Type", "application/octet-stream"}});
    check_status(response, 201, "blob upload into " + std::string(repo));
    (blob == &config ? image.config_digest : image.layer_digest) = digest;
  }
  image.manifest = testing::make_image_manifest(testing::describe(kOciConfig, config),
                                                {testing::describe(kOciLayer, layer)});
  image.digest = testing::sha256_digest(image.manifest);
  const auto response = http.put("/v2/" + std::string(repo) + "/manifests/" + std::string(tag),
                                 image.manifest, {{"Content-Type", std::string(kOciManifest)}});
  check_status(response, 201, "manifest PUT into " + std::string(repo));
  return image;
}

// ---------------------------------------------------------------------------- TLS

struct TestPki::Impl {
  KeyPtr ca_key = make_key();
  CertificatePtr ca = make_certificate("Berth Auth Test CA", 1, ca_key.get(), nullptr, nullptr);
};

TestPki::TestPki() : impl_(std::make_unique<Impl>()) {
  replace_file(ca_file(), to_pem(impl_->ca.get()));
}

TestPki::~TestPki() = default;

void TestPki::install(long serial) {
  auto key = make_key();
  auto certificate =
      make_certificate("127.0.0.1", serial, key.get(), impl_->ca.get(), impl_->ca_key.get());
  replace_file(certificate_file(), to_pem(certificate.get()));
  replace_file(key_file(), to_pem(key.get()));
}

std::uint16_t wait_for_port_file(const fs::path& file) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    unsigned port = 0;
    if (in >> port && port != 0) {
      return static_cast<std::uint16_t>(port);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("no port in " + file.string());
}

std::string wait_for_log(const BerthProcess& process, const std::string& needle) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  std::string log = process.log();
  while (log.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log = process.log();
  }
  return log;
}

}  // namespace berth::authtest
