// The blocking client against Berth's own HTTP server on 127.0.0.1: keep-alive reuse, bodies
// read in pieces, and TLS trusted through a CA file only (what AWS_CA_BUNDLE and
// storage.s3.ca_file give the S3 driver).
#include "http/blocking_client.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "http/server.hpp"
#include "testing/test_pki.hpp"

namespace berth::http {
namespace {

namespace bhttp = beast::http;
namespace fs = std::filesystem;

// A CA, a certificate it issued for 127.0.0.1, and a server with a plain and a TLS listener
// answering GET with `size` bytes (?size=N) and PUT with the length of what it received.
class ClientTestServer {
 public:
  ClientTestServer() {
    std::string pattern = (fs::temp_directory_path() / "berth-client-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir_ = pattern;
    auto ca_key = testing::make_key();
    auto ca = testing::make_certificate("Client Test CA", 1, ca_key.get(), nullptr, nullptr);
    auto key = testing::make_key();
    auto certificate = testing::make_certificate("server", 2, key.get(), ca.get(), ca_key.get());
    testing::replace_file(ca_file(), testing::to_pem(ca.get()));
    testing::replace_file(dir_ / "server.pem", testing::to_pem(certificate.get()));
    testing::replace_file(dir_ / "server.key", testing::to_pem(key.get()));

    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.io_threads = 1;
    options.tls = TlsOptions{
        .listen = "127.0.0.1:0", .certificate = dir_ / "server.pem", .key = dir_ / "server.key"};
    server_ = std::make_unique<Server>(std::move(options), handle, pool_, nullptr);
    auto plain = server_->listen();
    if (!plain) {
      throw std::runtime_error("listen failed");
    }
    port_ = plain->port();
    tls_port_ = server_->tls_endpoint()->port();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~ClientTestServer() {
    server_->stop();
    thread_.join();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path ca_file() const { return dir_ / "ca.pem"; }
  std::string port() const { return std::to_string(port_); }
  std::string tls_port() const { return std::to_string(tls_port_); }

 private:
  static asio::awaitable<void> handle(Exchange& ex) {
    Response response{bhttp::status::ok, ex.request().version()};
    if (ex.request().method() == bhttp::verb::put) {
      std::uint64_t received = 0;
      std::byte buffer[4096];
      while (true) {
        auto n = co_await ex.read_body(buffer);
        if (!n || *n == 0) {
          break;
        }
        received += *n;
      }
      response.body() = std::to_string(received);
    } else {
      const std::string target(ex.request().target());
      const auto at = target.find("size=");
      const std::size_t size = at == std::string::npos ? 5 : std::stoul(target.substr(at + 5));
      response.body() = std::string(size, 'x');
    }
    response.prepare_payload();
    co_await ex.respond(std::move(response));
  }

  fs::path dir_;
  BlockingPool pool_{2};
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
};

TEST(BlockingClientTest, KeepAliveBodiesInPiecesAndUploads) {
  ClientTestServer server;
  auto client = BlockingClient::create({false, "127.0.0.1", server.port()}, {});
  ASSERT_TRUE(client.has_value()) << client.error();
  for (int round = 0; round < 3; ++round) {
    ClientRequest get;
    get.target = "/blob?size=1000000";
    auto response = (*client)->send(get);
    ASSERT_TRUE(response.has_value()) << response.error().message;
    EXPECT_EQ(response->status(), 200u);
    EXPECT_EQ(response->content_length(), 1000000u);
    std::vector<std::byte> piece(65536 + 3);
    std::size_t total = 0;
    while (true) {
      auto n = response->read(piece);
      ASSERT_TRUE(n.has_value()) << n.error().message;
      if (*n == 0) {
        break;
      }
      total += *n;
    }
    EXPECT_EQ(total, 1000000u);
  }
  const std::string first(300000, 'a');
  const std::string second(5, 'b');
  ClientRequest put;
  put.method = bhttp::verb::put;
  put.target = "/upload";
  put.body = {std::as_bytes(std::span(first)), std::as_bytes(std::span(second))};
  auto response = (*client)->send(put);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->read_all(100).value_or(""), "300005") << "the pieces went out as one body";
}

TEST(BlockingClientTest, TlsTrustsTheCaFileAndOnlyWhatItIsToldTo) {
  ClientTestServer server;
  BlockingClientOptions options;
  options.ca_file = server.ca_file();
  auto client = BlockingClient::create({true, "127.0.0.1", server.tls_port()}, options);
  ASSERT_TRUE(client.has_value()) << client.error();
  ClientRequest get;
  get.target = "/hello";
  auto response = (*client)->send(get);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->read_all(100).value_or(""), "xxxxx");

  // The system's CAs do not know the test CA.
  auto untrusting = BlockingClient::create({true, "127.0.0.1", server.tls_port()}, {});
  ASSERT_TRUE(untrusting.has_value());
  auto refused = (*untrusting)->send(get);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("TLS handshake"), std::string::npos)
      << refused.error().message;

  BlockingClientOptions missing;
  missing.ca_file = "/nonexistent/ca.pem";
  auto unreadable = BlockingClient::create({true, "127.0.0.1", server.tls_port()}, missing);
  ASSERT_FALSE(unreadable.has_value());
  EXPECT_NE(unreadable.error().find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(BlockingClientTest, NothingListeningIsATransportError) {
  ClientTestServer server;
  BlockingClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(500);
  auto client = BlockingClient::create({false, "127.0.0.1", "1"}, options);
  ASSERT_TRUE(client.has_value());
  auto response = (*client)->send(ClientRequest{});
  ASSERT_FALSE(response.has_value());
  EXPECT_NE(response.error().message.find("connect 127.0.0.1:1"), std::string::npos)
      << response.error().message;
}

}  // namespace
}  // namespace berth::http
