// The web UI's sessions through a real HTTP server (in this process, so that the clock is a
// fake one): sign-in and its refusals (wrong password, lockout, robots, not JSON), the cookie's
// attributes (Secure only under TLS), the CSRF token, the cookie ignored outside /api/v1, 401s
// without a Basic challenge for the UI, sign-out, the idle and absolute lifetimes, what ends a
// session early (password change, demotion, deletion, an htpasswd line that changed), and
// open mode.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "api/api.hpp"
#include "auth/access_control.hpp"
#include "auth/authenticator.hpp"
#include "auth/htpasswd.hpp"
#include "auth/password.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/token_service.hpp"
#include "auth/ui_sessions.hpp"
#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "testing/fake_clock.hpp"
#include "testing/http_client.hpp"
#include "testing/memory_blob_store.hpp"
#include "testing/temp_dir.hpp"
#include "testing/test_pki.hpp"

namespace berth::api {
namespace {

using namespace std::chrono_literals;
using testing::HttpClient;
using testing::HttpHeaders;
using testing::HttpResponse;
namespace json = boost::json;
namespace fs = std::filesystem;

constexpr int kCost = 4;
constexpr auto kJson = "application/json";

struct ServerSetup {
  bool access_control = true;
  bool tls = false;
};

// berth's request handling with access control, sessions and an htpasswd file, on a fake
// clock, listening on 127.0.0.1:0 (and TLS when asked).
class SessionServer {
 public:
  explicit SessionServer(ServerSetup setup)
      : stores_(meta::open_sqlite_stores(meta::SqliteOptions{":memory:"}).value()),
        blobs_(testing::make_memory_blob_store(clock_)),
        registry_(*blobs_, *stores_.metadata, clock_),
        access_(*stores_.accounts, clock_,
                auth::AccessControlOptions{.enabled = setup.access_control}),
        limiter_(auth::RateLimitOptions{.max_failures_per_address = 100,
                                        .max_failures_per_user = 3,
                                        .window = 5min,
                                        .max_tracked_keys = 100,
                                        .on_lockout = {}},
                 clock_),
        htpasswd_((write_htpasswd("carol-password-1"), dir_.path() / "htpasswd"),
                  [](const std::string&) {}, 0ms),
        authenticator_(*stores_.accounts, &htpasswd_, limiter_, clock_),
        tokens_(auth::TokenService::open(dir_.path() / "key.pem", {}, clock_).value()),
        sessions_(*stores_.sessions, authenticator_, clock_,
                  auth::UiSessionOptions{.idle = 30min, .lifetime = 12h}),
        pool_(2, "requests"),
        api_(ApiServices{.registry = registry_,
                         .pool = pool_,
                         .options = {},
                         .ready = [] { return true; },
                         .accounts = *stores_.accounts,
                         .access = access_,
                         .authenticator = authenticator_,
                         .tokens = *tokens_,
                         .auth = {},
                         .clock = clock_,
                         .collect_garbage = {},
                         .sessions = &sessions_}) {
    http::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.io_threads = 1;
    if (setup.tls) {
      auto key = testing::make_key();
      auto certificate = testing::make_certificate("berth", 1, key.get(), nullptr, nullptr);
      testing::replace_file(dir_.path() / "tls.crt", testing::to_pem(certificate.get()));
      testing::replace_file(dir_.path() / "tls.key", testing::to_pem(key.get()));
      options.tls = http::TlsOptions{.listen = "127.0.0.1:0",
                                     .certificate = dir_.path() / "tls.crt",
                                     .key = dir_.path() / "tls.key",
                                     .reload_check = 0ms};
    }
    server_ = std::make_unique<http::Server>(
        options, [this](http::Exchange& exchange) { return api_.handle(exchange); }, pool_,
        http::AccessLog{});
    auto endpoint = server_->listen();
    if (!endpoint) {
      throw std::runtime_error("cannot listen: " + endpoint.error().message());
    }
    port_ = setup.tls ? server_->tls_endpoint()->port() : endpoint->port();
    tls_ = setup.tls;
    runner_ = std::thread([this] { server_->run(); });
  }
  ~SessionServer() {
    server_->stop();
    runner_.join();
    pool_.join();
  }

  std::unique_ptr<HttpClient> client() {
    if (tls_) {
      return std::make_unique<HttpClient>("127.0.0.1", port_,
                                          testing::TlsClientOptions{.verify = false});
    }
    return std::make_unique<HttpClient>("127.0.0.1", port_);
  }

  void add_user(const std::string& name, bool admin = false) {
    ASSERT_TRUE(stores_.accounts->create_user(
        meta::User{.name = name,
                   .password_hash = auth::hash_password(name + "-password", kCost).value(),
                   .admin = admin}));
  }
  void write_htpasswd(const std::string& password) {
    const fs::path next = dir_.path() / "htpasswd.new";
    std::ofstream(next) << "carol:" << auth::hash_password(password, kCost).value() << "\n";
    fs::rename(next, dir_.path() / "htpasswd");  // a new inode: a change the reader sees
  }

  testing::FakeClock& clock() { return clock_; }
  meta::Stores& stores() { return stores_; }

 private:
  testing::TempDir dir_;
  testing::FakeClock clock_;
  meta::Stores stores_;
  std::unique_ptr<storage::BlobStore> blobs_;
  registry::Registry registry_;
  auth::AccessControl access_;
  auth::LoginRateLimiter limiter_;
  auth::HtpasswdFile htpasswd_;
  auth::Authenticator authenticator_;
  std::unique_ptr<auth::TokenService> tokens_;
  auth::UiSessions sessions_;
  http::BlockingPool pool_;
  Api api_;
  std::unique_ptr<http::Server> server_;
  std::thread runner_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
};

std::string error_code(const HttpResponse& r) {
  boost::system::error_code ec;
  auto value = json::parse(r.body, ec);
  if (ec || !value.is_object() || !value.as_object().contains("errors")) {
    return {};
  }
  return std::string(value.at("errors").at(0).at("code").as_string());
}

std::string sign_in_body(const std::string& user, const std::string& password) {
  return json::serialize(json::object{{"username", user}, {"password", password}});
}

// A browser: the cookie it was given and the CSRF token the UI keeps.
struct Browser {
  std::unique_ptr<HttpClient> http;
  std::string cookie;
  std::string csrf;

  HttpHeaders headers(bool with_csrf = true) const {
    HttpHeaders h{{"Cookie", "theme=dark; berth_session=" + cookie}};
    if (with_csrf) {
      h.add("X-CSRF-Token", csrf);
    }
    return h;
  }
  HttpResponse get(const std::string& target) { return http->get(target, headers()); }
};

class SessionTest : public ::testing::Test {
 protected:
  void start(ServerSetup setup = {}) { server_ = std::make_unique<SessionServer>(setup); }

  HttpResponse post_sign_in(HttpClient& http, const std::string& user, const std::string& password,
                            const std::string& type = kJson) {
    return http.post("/api/v1/session", sign_in_body(user, password), {{"Content-Type", type}});
  }

  // Signs in; fails the test if that does not work.
  Browser sign_in(const std::string& user, const std::string& password) {
    Browser browser{server_->client(), {}, {}};
    const auto r = post_sign_in(*browser.http, user, password);
    EXPECT_EQ(r.status, 200u) << r.body;
    const std::string set_cookie = r.header("Set-Cookie");
    const auto start = set_cookie.find("berth_session=");
    const auto end = set_cookie.find(';');
    if (start == 0 && end != std::string::npos) {
      browser.cookie = set_cookie.substr(14, end - 14);
    }
    auto body = json::parse(r.body);
    browser.csrf = std::string(body.at("csrf_token").as_string());
    return browser;
  }

  std::unique_ptr<SessionServer> server_;
};

TEST_F(SessionTest, SignInSetsAStrictHttpOnlyCookieAndAnswersTheSession) {
  start();
  server_->add_user("alice", true);
  auto http = server_->client();
  const auto r = post_sign_in(*http, "alice", "alice-password");
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::string cookie = r.header("Set-Cookie");
  EXPECT_TRUE(cookie.starts_with("berth_session=")) << cookie;
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain HTTP: " << cookie;
  auto body = json::parse(r.body);
  EXPECT_EQ(body.at("access_control"), true);
  EXPECT_EQ(body.at("signed_in"), true);
  EXPECT_EQ(body.at("user").at("name"), "alice");
  EXPECT_EQ(body.at("user").at("admin"), true);
  EXPECT_GE(body.at("csrf_token").as_string().size(), 43u);
  EXPECT_FALSE(body.at("version").as_string().empty());

  auto browser = sign_in("alice", "alice-password");
  const auto session = browser.get("/api/v1/session");
  ASSERT_EQ(session.status, 200u);
  auto current = json::parse(session.body);
  EXPECT_EQ(current.at("signed_in"), true);
  EXPECT_EQ(current.at("csrf_token").as_string(), browser.csrf);
  const auto me = browser.get("/api/v1/me");
  ASSERT_EQ(me.status, 200u) << me.body;
  EXPECT_NE(me.body.find("\"alice\""), std::string::npos) << me.body;
}

TEST_F(SessionTest, UnderTlsTheCookieIsSecure) {
  start({.access_control = true, .tls = true});
  server_->add_user("alice");
  auto http = server_->client();
  const auto r = post_sign_in(*http, "alice", "alice-password");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.header("Set-Cookie").find("; Secure"), std::string::npos) << r.header("Set-Cookie");
}

TEST_F(SessionTest, WrongCredentialsRobotsAndFormsAreRefused) {
  start();
  server_->add_user("alice");
  auto http = server_->client();
  const auto wrong = post_sign_in(*http, "alice", "guess");
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(error_code(wrong), "UNAUTHORIZED");
  EXPECT_FALSE(wrong.has_header("WWW-Authenticate"));
  EXPECT_FALSE(wrong.has_header("Set-Cookie"));
  EXPECT_EQ(post_sign_in(*http, "nobody", "guess").status, 401u);

  const auto robot = post_sign_in(*http, "robot$ci", "brb_token");
  EXPECT_EQ(robot.status, 403u);
  EXPECT_EQ(error_code(robot), "DENIED");
  // A form on another site can post these without asking; only JSON signs in.
  for (const char* type : {"application/x-www-form-urlencoded", "text/plain", ""}) {
    const auto form = post_sign_in(*http, "alice", "alice-password", type);
    EXPECT_EQ(form.status, 400u) << type;
    EXPECT_FALSE(form.has_header("Set-Cookie")) << type;
  }
  const auto not_json = http->post("/api/v1/session", "{", {{"Content-Type", kJson}});
  EXPECT_EQ(not_json.status, 400u);
}

TEST_F(SessionTest, SignInIsLockedOutLikeTheRegistry) {
  start();
  server_->add_user("alice");
  auto http = server_->client();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(post_sign_in(*http, "alice", "guess").status, 401u);
  }
  const auto locked = post_sign_in(*http, "alice", "alice-password");
  EXPECT_EQ(locked.status, 429u) << locked.body;
  EXPECT_EQ(error_code(locked), "TOOMANYREQUESTS");
  EXPECT_TRUE(locked.has_header("Retry-After"));
  // The registry's Basic login counts the same failures.
  const auto basic =
      http->get("/api/v1/me", {{"Authorization", "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="}});
  EXPECT_EQ(basic.status, 429u) << basic.body;
}

TEST_F(SessionTest, ChangesNeedTheCsrfTokenReadsDoNot) {
  start();
  server_->add_user("alice", true);
  auto browser = sign_in("alice", "alice-password");
  const std::string user = R"({"name":"bob","password":"bob-password"})";
  auto without = browser.http->post("/api/v1/users", user, [&] {
    auto h = browser.headers(false);
    h.add("Content-Type", kJson);
    return h;
  }());
  EXPECT_EQ(without.status, 403u) << without.body;
  EXPECT_EQ(error_code(without), "DENIED");
  EXPECT_NE(without.body.find("CSRF"), std::string::npos) << without.body;
  auto wrong_headers = browser.headers(false);
  wrong_headers.add("X-CSRF-Token", browser.csrf.substr(1) + "x");
  EXPECT_EQ(browser.http->post("/api/v1/users", user, wrong_headers).status, 403u);
  EXPECT_FALSE(server_->stores().accounts->get_user("bob").value());

  const auto with = browser.http->post("/api/v1/users", user, browser.headers());
  EXPECT_EQ(with.status, 201u) << with.body;
  EXPECT_TRUE(server_->stores().accounts->get_user("bob").value());
  EXPECT_EQ(browser.http->get("/api/v1/users", browser.headers(false)).status, 200u);
  // Basic callers need no CSRF token: they send their credentials each time.
  const auto basic =
      browser.http->post("/api/v1/users", R"({"name":"carl","password":"carl-password"})",
                         {{"Authorization", "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="}});
  EXPECT_EQ(basic.status, 201u) << basic.body;
}

TEST_F(SessionTest, TheCookieOpensNothingOutsideTheApi) {
  start();
  server_->add_user("alice", true);
  auto browser = sign_in("alice", "alice-password");
  // An administrator's Basic credentials would open both; the cookie is anonymous there.
  EXPECT_EQ(browser.get("/v2/").status, 401u);
  const auto tags = browser.get("/v2/team/app/tags/list");
  EXPECT_EQ(tags.status, 401u) << tags.body;
}

TEST_F(SessionTest, UiRequestsGetNoBasicChallenge) {
  start();
  server_->add_user("alice");
  auto http = server_->client();
  const auto plain = http->get("/api/v1/me");
  EXPECT_EQ(plain.status, 401u);
  EXPECT_EQ(plain.header("WWW-Authenticate"), "Basic realm=\"berth\"");
  const auto ui = http->get("/api/v1/me", {{"X-Requested-With", "berth-ui"}});
  EXPECT_EQ(ui.status, 401u);
  EXPECT_FALSE(ui.has_header("WWW-Authenticate"));
  const auto stale = http->get("/api/v1/me", {{"Cookie", "berth_session=ended"}});
  EXPECT_EQ(stale.status, 401u);
  EXPECT_FALSE(stale.has_header("WWW-Authenticate"));
  EXPECT_NE(stale.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  // GET /api/v1/session never answers 401.
  const auto session = http->get("/api/v1/session", {{"Cookie", "berth_session=ended"}});
  EXPECT_EQ(session.status, 200u);
  EXPECT_EQ(json::parse(session.body).at("signed_in"), false);
}

TEST_F(SessionTest, SignOutNeedsTheCsrfTokenAndEndsTheSession) {
  start();
  server_->add_user("alice");
  auto browser = sign_in("alice", "alice-password");
  EXPECT_EQ(browser.http->del("/api/v1/session", browser.headers(false)).status, 403u);
  EXPECT_EQ(browser.get("/api/v1/me").status, 200u);
  const auto out = browser.http->del("/api/v1/session", browser.headers());
  EXPECT_EQ(out.status, 204u);
  EXPECT_NE(out.header("Set-Cookie").find("berth_session=; Max-Age=0"), std::string::npos);
  EXPECT_EQ(browser.get("/api/v1/me").status, 401u);
  EXPECT_EQ(json::parse(browser.get("/api/v1/session").body).at("signed_in"), false);
}

TEST_F(SessionTest, IdleAndAbsoluteLifetimes) {
  start();
  server_->add_user("alice");
  auto idle = sign_in("alice", "alice-password");
  auto busy = sign_in("alice", "alice-password");
  for (int i = 0; i < 2; ++i) {
    server_->clock().advance(20min);
    EXPECT_EQ(busy.get("/api/v1/me").status, 200u);
  }
  // 40 minutes without a request.
  const auto ended = idle.get("/api/v1/me");
  EXPECT_EQ(ended.status, 401u);
  EXPECT_FALSE(ended.has_header("WWW-Authenticate"));
  for (int i = 0; i < 33; ++i) {
    server_->clock().advance(20min);
    ASSERT_EQ(busy.get("/api/v1/me").status, 200u) << "after " << 40 + (i + 1) * 20 << " min";
  }
  server_->clock().advance(20min);  // 12 hours after the sign-in, used all along
  EXPECT_EQ(busy.get("/api/v1/me").status, 401u);
}

TEST_F(SessionTest, PasswordChangeDemotionAndDeletionEndSessions) {
  start();
  server_->add_user("root", true);
  server_->add_user("alice");
  server_->add_user("bob", true);
  server_->add_user("dave");
  auto root = sign_in("root", "root-password");
  auto alice = sign_in("alice", "alice-password");
  auto bob = sign_in("bob", "bob-password");
  auto dave = sign_in("dave", "dave-password");
  auto patch = [&](const std::string& user, const std::string& body) {
    auto headers = root.headers();
    headers.add("Content-Type", kJson);
    return root.http->patch("/api/v1/users/" + user, body, headers).status;
  };
  EXPECT_EQ(patch("alice", R"({"password":"alice-password-2"})"), 204u);
  EXPECT_EQ(patch("bob", R"({"admin":false})"), 204u);
  EXPECT_EQ(root.http->del("/api/v1/users/dave", root.headers()).status, 204u);
  EXPECT_EQ(alice.get("/api/v1/me").status, 401u);
  EXPECT_EQ(bob.get("/api/v1/me").status, 401u);
  EXPECT_EQ(dave.get("/api/v1/me").status, 401u);
  EXPECT_EQ(root.get("/api/v1/me").status, 200u);
  // A new sign-in with the new password works.
  EXPECT_EQ(sign_in("alice", "alice-password-2").get("/api/v1/me").status, 200u);
}

TEST_F(SessionTest, AnHtpasswdUserWhoseLineChangedIsSignedOut) {
  start();
  auto carol = sign_in("carol", "carol-password-1");
  EXPECT_EQ(carol.get("/api/v1/me").status, 200u);
  server_->write_htpasswd("carol-password-2");
  EXPECT_EQ(carol.get("/api/v1/me").status, 401u);
}

TEST_F(SessionTest, OpenModeNeedsNoSession) {
  start({.access_control = false, .tls = false});
  auto http = server_->client();
  const auto session = http->get("/api/v1/session");
  ASSERT_EQ(session.status, 200u);
  auto body = json::parse(session.body);
  EXPECT_EQ(body.at("access_control"), false);
  EXPECT_EQ(body.at("signed_in"), false);
  EXPECT_TRUE(body.at("user").is_null());
  EXPECT_TRUE(body.at("csrf_token").is_null());
  EXPECT_EQ(http->get("/api/v1/users").status, 200u);
  const auto sign_in = post_sign_in(*http, "alice", "whatever");
  EXPECT_EQ(sign_in.status, 400u);
  EXPECT_FALSE(sign_in.has_header("Set-Cookie"));
}

}  // namespace
}  // namespace berth::api
