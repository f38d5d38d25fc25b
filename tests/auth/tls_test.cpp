// Access control over TLS: berth with tls.certificate / tls.key (a CA and a certificate for
// 127.0.0.1 made by the test) and --tls-port-file. The token flow works over HTTPS with the
// test CA and the challenge sends clients to an https:// realm; the plain listener keeps
// working beside it; a certificate replaced while berth runs is used by new connections.
#include <gtest/gtest.h>
#include <openssl/tls1.h>

#include <thread>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::HttpClientError;
using testing::TlsClientOptions;

class TlsAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_.install(1);
    AuthServerOptions options;
    options.env["BERTH_TLS_CERTIFICATE"] = pki_.certificate_file().string();
    options.env["BERTH_TLS_KEY"] = pki_.key_file().string();
    options.env["BERTH_TLS_LISTEN"] = "127.0.0.1:0";
    options.env["BERTH_TLS_RELOAD_CHECK"] = "100ms";
    options.args = {"--tls-port-file", tls_port_file().string()};
    options.users = {{"alice", kAlicePassword}};
    server_ = std::make_unique<AuthServer>(std::move(options));
    tls_port_ = wait_for_port_file(tls_port_file());
    server_->create_project("team", false);
    server_->set_member("team", "alice", "writer");
  }

  fs::path tls_port_file() const { return scratch_.path() / "tls-port"; }
  TlsClientOptions trust() const { return TlsClientOptions{.ca_file = pki_.ca_file().string()}; }
  std::unique_ptr<HttpClient> tls_client() const {
    return std::make_unique<HttpClient>("127.0.0.1", tls_port_, trust());
  }

  TempDir scratch_;
  TestPki pki_;
  std::unique_ptr<AuthServer> server_;
  std::uint16_t tls_port_ = 0;
};

TEST_F(TlsAuthTest, TokenFlowOverTls) {
  auto https = tls_client();
  const auto probe = https->get("/v2/");
  EXPECT_EQ(probe.status, 401u) << describe(probe);
  const auto challenge = parse_challenge(probe.header("WWW-Authenticate"));
  ASSERT_TRUE(challenge) << describe(probe);
  EXPECT_EQ(challenge->scheme, "Bearer");
  EXPECT_EQ(challenge->get("realm"), "https://127.0.0.1:" + std::to_string(tls_port_) + "/token");
  EXPECT_EQ(challenge->get("service"), "berth");
  ASSERT_TRUE(https->tls_session());
  const std::string version = https->tls_session()->version;
  EXPECT_TRUE(version == "TLSv1.3" || version == "TLSv1.2") << version;

  // The client follows the realm: the token endpoint over TLS, then the registry with it.
  const std::string token =
      fetch_token(*https, TokenQuery{.basic = std::make_pair("alice", kAlicePassword),
                                     .scopes = {repo_scope("team/app", "pull,push")}});
  auto pusher = tls_client();
  use_authorization(*pusher, bearer_auth(token));
  EXPECT_EQ(pusher->get("/v2/").status, 200u);
  const auto image = push_small_image(*pusher, "team/app", "v1");
  const auto pulled = pusher->get("/v2/team/app/manifests/v1",
                                  {{"Accept", std::string(testing::media_types::kOciManifest)}});
  EXPECT_EQ(pulled.status, 200u) << describe(pulled);
  EXPECT_EQ(pulled.body, image.manifest);
  // Refusals over TLS are the same as over plain HTTP.
  const auto anonymous = https->get("/v2/team/app/manifests/v1");
  EXPECT_EQ(anonymous.status, 401u) << describe(anonymous);
  EXPECT_EQ(parse_challenge(anonymous.header("WWW-Authenticate"))->get("scope"),
            "repository:team/app:pull");

  // The plain listener still works, points to its own realm, and takes the same tokens.
  auto plain = server_->client();
  const auto plain_probe = plain->get("/v2/");
  EXPECT_EQ(plain_probe.status, 401u);
  EXPECT_EQ(parse_challenge(plain_probe.header("WWW-Authenticate"))->get("realm"),
            server_->realm());
  const auto plain_pull = plain->get("/v2/team/app/manifests/v1",
                                     {{"Authorization", bearer_auth(token)},
                                      {"Accept", std::string(testing::media_types::kOciManifest)}});
  EXPECT_EQ(plain_pull.status, 200u) << describe(plain_pull);
  EXPECT_EQ(plain_pull.body, image.manifest);
}

TEST_F(TlsAuthTest, OldProtocolsAndUntrustedClientsFail) {
  // TLS 1.2 and newer only.
  HttpClient old("127.0.0.1", tls_port_,
                 TlsClientOptions{.ca_file = pki_.ca_file().string(),
                                  .max_version = TLS1_1_VERSION,
                                  .ciphers = "DEFAULT:@SECLEVEL=0"});
  EXPECT_THROW(old.get("/v2/"), HttpClientError);
  // A client that trusts another CA does not talk to us (and so sends no credentials).
  TestPki other;
  HttpClient stranger("127.0.0.1", tls_port_,
                      TlsClientOptions{.ca_file = other.ca_file().string()});
  EXPECT_THROW(stranger.get("/token", authorization(basic_auth("alice", kAlicePassword))),
               HttpClientError);
}

TEST_F(TlsAuthTest, ReplacedCertificateIsUsedByNewConnections) {
  auto before = tls_client();
  ASSERT_EQ(before->get("/v2/").status, 401u);
  ASSERT_TRUE(before->tls_session());
  EXPECT_EQ(before->tls_session()->peer_serial, "01");

  pki_.install(2);
  std::string serial;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    auto fresh = tls_client();
    try {
      (void)fresh->get("/v2/");
      serial = fresh->tls_session() ? fresh->tls_session()->peer_serial : "";
    } catch (const HttpClientError&) {
      serial.clear();  // replaced between our two file writes: the next try will do
    }
    if (serial == "02") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(serial, "02") << "the new certificate was not picked up\n" << server_->log();

  // The token flow works on the new certificate.
  auto https = tls_client();
  const std::string token =
      fetch_token(*https, TokenQuery{.basic = std::make_pair("alice", kAlicePassword),
                                     .scopes = {repo_scope("team/app", "pull,push")}});
  use_authorization(*https, bearer_auth(token));
  push_small_image(*https, "team/app", "after-rotation");
  EXPECT_EQ(https->tls_session()->peer_serial, "02");
  // The connection opened before the change keeps working.
  EXPECT_EQ(before->get("/v2/").status, 401u);
}

}  // namespace
}  // namespace berth::authtest
