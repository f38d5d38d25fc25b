// Helpers for the black-box access-control tests: a berth with access control on and a
// seeded administrator, credentials and challenges, the token endpoint, JWTs signed by the
// test itself, the berth command line, and a test certificate authority.
//
// Passwords of seeded users are hashed with a low bcrypt cost: the server checks any bcrypt
// cost, and the matrix makes about a hundred password checks, which at the server's cost of
// 12 would take most of the suite's time budget. The cost-12 path is still exercised where
// the server or the CLI makes the hash (bootstrap admin, /api/v1/users, `berth user add`).
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth_process.hpp"
#include "meta/account_store.hpp"
#include "registry_client.hpp"
#include "testing/http_client.hpp"

namespace berth::authtest {

namespace fs = std::filesystem;
using testing::BerthOptions;
using testing::BerthProcess;
using testing::HttpClient;
using testing::HttpHeaders;
using testing::HttpResponse;
using testing::TempDir;

inline constexpr std::string_view kAdminPassword = "admin-secret-0";
// The passwords the suites give their users.
inline constexpr char kAlicePassword[] = "alice-password-1";
inline constexpr char kBobPassword[] = "bob-password-1";
inline constexpr char kCarolPassword[] = "carol-password-1";
inline constexpr char kDavePassword[] = "dave-password-1";
inline constexpr int kFastBcryptCost = 4;
// How long a test waits for something the server does in the background (reloading a file)
// before it gives up. Never part of an assertion about speed.
inline constexpr auto kPatience = std::chrono::seconds(30);

// ---- credentials and responses

std::string basic_auth(std::string_view user, std::string_view password);
std::string bearer_auth(std::string_view token);
// {"Authorization": value}; no header at all when value is empty.
HttpHeaders authorization(const std::string& value);

// Parses a JSON body; throws std::runtime_error (with the body) when it is not JSON.
boost::json::value json_of(std::string_view body);

// A WWW-Authenticate challenge: `Bearer realm="...",service="...",scope="..."`.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
  bool has(const std::string& key) const { return params.contains(key); }
  std::string get(const std::string& key) const {
    auto it = params.find(key);
    return it == params.end() ? std::string() : it->second;
  }
};
std::optional<Challenge> parse_challenge(std::string_view header);

// Percent-encoding for query strings and form bodies.
std::string url_encode(std::string_view text);

// ---- the token endpoint

struct TokenQuery {
  // Basic credentials; none: anonymous.
  std::optional<std::pair<std::string, std::string>> basic{};
  std::vector<std::string> scopes{};
  bool offline = false;
  std::string service = "berth";
};

HttpResponse get_token(HttpClient& http, const TokenQuery& query);
// The "token" of a 200 answer; throws std::runtime_error with the response otherwise.
std::string fetch_token(HttpClient& http, const TokenQuery& query);
// POST /token with an application/x-www-form-urlencoded body of these fields.
HttpResponse post_token(HttpClient& http,
                        const std::vector<std::pair<std::string, std::string>>& fields);

// "repository:<repo>:<actions>"
std::string repo_scope(std::string_view repo, std::string_view actions);

// ---- JWTs made by the test

std::string base64url(std::string_view bytes);
std::string base64url_decode(std::string_view text);

struct Jwt {
  boost::json::object header;
  boost::json::object payload;
};
// Decodes header and payload without checking anything.
Jwt decode_jwt(std::string_view token);
// header.payload signed with ES256 by the PEM private key in key_file, as the server signs
// (with the low-s spelling of the signature).
std::string sign_es256(const fs::path& key_file, const boost::json::object& header,
                       const boost::json::object& payload);
// The same token with the other valid spelling of its ECDSA signature: (r, n - s).
std::string malleate_signature(std::string_view token);
// header.payload signed with HMAC-SHA256 under `secret` (the algorithm-confusion attack).
std::string sign_hs256(std::string_view secret, const boost::json::object& header,
                       const boost::json::object& payload);
// The public half of the PEM private key in key_file, as PEM (the HS256 confusion "secret").
std::string public_key_pem(const fs::path& key_file);
// header.payload. with no signature.
std::string unsigned_jwt(const boost::json::object& header, const boost::json::object& payload);
// Seconds since the epoch, now.
std::int64_t unix_now();

// ---- accounts written straight into a data directory (before or while berth runs)

// A user with a fast bcrypt hash of `password` (or one of the given cost).
void seed_user(const fs::path& data, const std::string& name, std::string_view password,
               bool admin = false, int cost = kFastBcryptCost);
// A robot with the given scopes and expiry (which may lie in the past, which the API and the
// CLI refuse to make); returns its token.
std::string seed_robot(const fs::path& data, const std::string& name,
                       std::vector<meta::RobotScope> scopes,
                       std::optional<core::TimePoint> expires = std::nullopt);

// ---- a berth with access control on

struct AuthServerOptions {
  // Extra environment (BERTH_AUTH_...); BERTH_AUTH_ENABLED=true is always set.
  std::map<std::string, std::string> env{};
  std::vector<std::string> args{};
  // Users to create with a fast hash before the start: name → password.
  std::vector<std::pair<std::string, std::string>> users{};
};

// Seeds "admin" (password kAdminPassword, fast hash) and `users`, then starts berth with
// access control on. The data directory lives as long as the object.
class AuthServer {
 public:
  explicit AuthServer(AuthServerOptions options = {});
  // Stops berth if it still runs, and fails the current test unless it exits with status 0
  // (no crash, no sanitizer report, no leak).
  ~AuthServer();
  AuthServer(const AuthServer&) = delete;
  AuthServer& operator=(const AuthServer&) = delete;

  BerthProcess& process() { return *process_; }
  std::uint16_t port() const { return process_->port(); }
  const fs::path& data() const { return data_; }
  std::string log() const { return process_->log(); }
  fs::path signing_key() const { return data_ / "auth" / "token-signing.pem"; }
  // "http://127.0.0.1:<port>/token"
  std::string realm() const;

  // Basic credentials of the seeded admin: cheap to check, so setup uses them freely.
  std::string admin_basic() const { return basic_auth("admin", kAdminPassword); }

  // A new plain client of this server.
  std::unique_ptr<HttpClient> client() const;

  // The admin API as the admin; throws unless the status is `expect`.
  HttpResponse admin_api(std::string_view method, std::string_view path, std::string_view body,
                         unsigned expect);
  void create_project(const std::string& name, bool is_public);
  void set_member(const std::string& project, const std::string& user, const std::string& role);
  // Creates a robot through the API; returns its token.
  std::string create_robot(const std::string& name,
                           const std::vector<std::pair<std::string, std::string>>& scopes);

 private:
  TempDir dir_;
  fs::path data_;
  std::unique_ptr<BerthProcess> process_;
  std::unique_ptr<HttpClient> admin_http_;
};

// `count` clients of `server`, each with its connection open (an anonymous GET /v2/), so that
// requests sent by all of them at once race in the server, not in connecting.
std::vector<std::unique_ptr<HttpClient>> connected_clients(const AuthServer& server, int count);

// Sends `authorization` (if not empty) with every request of a client.
void use_authorization(HttpClient& http, const std::string& authorization);

// ---- pushing without the registry client's throwing helpers

struct SmallImage {
  std::string config_digest;
  std::string layer_digest;
  std::string manifest;
  std::string digest;
};
// Pushes a config, one layer and a manifest tagged `tag` with monolithic uploads; throws
// std::runtime_error with the response on any unexpected status.
SmallImage push_small_image(HttpClient& http, std::string_view repo, std::string_view tag);

// ---- the berth command line

// CommandResult and run_berth come from berth_process.hpp.
using testing::CommandResult;
using testing::run_berth;

// ---- certificates for the TLS listener

// A certificate authority (EC P-256) in a temporary directory, and server certificates for
// 127.0.0.1 and localhost issued by it into server.pem and server.key.
class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // Writes a new certificate with this serial and a new key over the server files (each
  // written beside and renamed into place, as certificate tools do).
  void install(long serial);

  fs::path ca_file() const { return dir_.path() / "ca.pem"; }
  fs::path certificate_file() const { return dir_.path() / "server.pem"; }
  fs::path key_file() const { return dir_.path() / "server.key"; }

 private:
  struct Impl;
  TempDir dir_;
  std::unique_ptr<Impl> impl_;
};

// The log once it contains `needle` (berth logs asynchronously, so a line written before the
// port file may reach the file after it); the log as it is after kPatience otherwise.
std::string wait_for_log(const BerthProcess& process, const std::string& needle);

// Reads a port number that berth writes into `file`, waiting up to kPatience for it.
std::uint16_t wait_for_port_file(const fs::path& file);

}  // namespace berth::authtest
