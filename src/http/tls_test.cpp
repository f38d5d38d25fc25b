// Tests of the HTTPS listener: trust and names, protocol versions, keep-alive, bodies and files
// through TLS, handshake deadlines, certificate reloading and shutdown. Each test makes its own
// CA and server certificates with OpenSSL's C API in a temporary directory, runs a Server with
// a plain and a TLS listener on 127.0.0.1:0, and drives it with the blocking test client.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/server.hpp"
#include "http/server_test_support.hpp"
#include "http/tls_context.hpp"
#include "testing/http_client.hpp"
#include "testing/test_pki.hpp"

namespace berth::http {
namespace {

namespace bhttp = beast::http;
namespace fs = std::filesystem;
using berth::testing::HttpClient;
using berth::testing::HttpClientError;
using berth::testing::RawConnection;
using berth::testing::TlsClientOptions;
using namespace std::chrono_literals;
using test_support::kPatience;
using test_support::make_response;
using test_support::query_number;
using test_support::random_bytes;
using test_support::TempFile;
using test_support::Warnings;

// ---------------------------------------------------------------------------- certificates

using berth::testing::bio_text;
using berth::testing::CertificatePtr;
using berth::testing::KeyPtr;
using berth::testing::make_certificate;
using berth::testing::make_key;
using berth::testing::replace_file;
using berth::testing::to_pem;

struct Pair {
  std::string certificate_pem;
  std::string key_pem;
};

// A CA and the certificates it issues, in a temporary directory that goes with it.
class Pki {
 public:
  explicit Pki(const std::string& ca_name = "Berth Test CA")
      : ca_key_(make_key()), ca_(make_certificate(ca_name, 1, ca_key_.get(), nullptr, nullptr)) {
    std::string pattern = (fs::temp_directory_path() / "berth-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir_ = pattern;
    replace_file(ca_file(), to_pem(ca_.get()));
  }
  ~Pki() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  Pki(const Pki&) = delete;
  Pki& operator=(const Pki&) = delete;

  Pair issue(const std::string& common_name, long serial) const {
    auto key = make_key();
    auto certificate = make_certificate(common_name, serial, key.get(), ca_.get(), ca_key_.get());
    return Pair{to_pem(certificate.get()), to_pem(key.get())};
  }
  // Issues a pair into the server's certificate and key files.
  Pair install(const std::string& common_name, long serial) const {
    Pair pair = issue(common_name, serial);
    replace_file(certificate_file(), pair.certificate_pem);
    replace_file(key_file(), pair.key_pem);
    return pair;
  }

  const fs::path& dir() const { return dir_; }
  fs::path ca_file() const { return dir_ / "ca.pem"; }
  fs::path certificate_file() const { return dir_ / "server.pem"; }
  fs::path key_file() const { return dir_ / "server.key"; }

  TlsClientOptions client_options() const {
    return TlsClientOptions{.ca_file = ca_file().string()};
  }

 private:
  KeyPtr ca_key_;
  CertificatePtr ca_;
  fs::path dir_;
};

// ---------------------------------------------------------------------------- server

// Warnings from ServerOptions::warn, which tests wait for.
ServerOptions tls_options(const Pki& pki, Warnings& warnings) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.io_threads = 2;
  options.tls = TlsOptions{
      .listen = "127.0.0.1:0",
      .certificate = pki.certificate_file(),
      .key = pki.key_file(),
  };
  options.warn = warnings.hook();
  return options;
}

// A server with both listeners, run on a thread.
class TlsTestServer {
 public:
  TlsTestServer(Handler handler, ServerOptions options) {
    server_ = std::make_unique<Server>(std::move(options), std::move(handler), pool_,
                                       [this](const AccessRecord& record) {
                                         std::lock_guard lock(mutex_);
                                         bytes_out_.push_back(record.bytes_out);
                                         records_changed_.notify_all();
                                       });
    const auto endpoint = server_->listen();
    if (!endpoint) {
      throw std::runtime_error("listen: " + endpoint.error().message());
    }
    port_ = endpoint->port();
    if (const auto tls = server_->tls_endpoint()) {
      tls_port_ = tls->port();
    }
    thread_ = std::thread([this] {
      server_->run();
      run_returned_ = true;
    });
  }
  ~TlsTestServer() {
    server_->stop();
    join();
  }

  std::uint16_t port() const { return port_; }
  std::uint16_t tls_port() const { return tls_port_; }
  Server& server() { return *server_; }
  void stop() { server_->stop(); }
  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  bool run_returned() const { return run_returned_; }

  // bytes_out of each finished request, in order; records come after the response went out.
  std::vector<std::uint64_t> wait_for_records(std::size_t count) {
    std::unique_lock lock(mutex_);
    records_changed_.wait_for(lock, kPatience, [&] { return bytes_out_.size() >= count; });
    return bytes_out_;
  }

 private:
  BlockingPool pool_{2};
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
  std::thread thread_;
  std::atomic<bool> run_returned_{false};
  std::mutex mutex_;
  std::condition_variable records_changed_;
  std::vector<std::uint64_t> bytes_out_;
};

// Answers with whether the request came over TLS, and the target.
asio::awaitable<void> describe(Exchange& exchange) {
  const std::string text = std::string(exchange.secure() ? "https " : "http ") +
                           std::string(exchange.request().target());
  co_await exchange.respond(make_response(bhttp::status::ok, text));
}

// The peer certificate serial a fresh TLS connection sees.
std::string serial_of_a_new_connection(const Pki& pki, std::uint16_t port) {
  HttpClient client("127.0.0.1", port, pki.client_options());
  const auto response = client.get("/");
  if (response.status != 200) {
    throw std::runtime_error("unexpected status " + std::to_string(response.status));
  }
  return client.tls_session().value().peer_serial;
}

// ---------------------------------------------------------------------------- trust and names

TEST(HttpTls, GetOverTlsIsVerifiedByTheCaAndThePlainListenerStillWorks) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  TlsTestServer server(describe, tls_options(pki, warnings));
  ASSERT_NE(server.tls_port(), 0);
  ASSERT_NE(server.tls_port(), server.port());

  HttpClient secure("127.0.0.1", server.tls_port(), pki.client_options());
  const auto response = secure.get("/over/tls");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "https /over/tls");
  const auto session = secure.tls_session();
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->alpn, "http/1.1");
  EXPECT_EQ(session->version, "TLSv1.3");
  EXPECT_EQ(session->peer_serial, "1001");
  EXPECT_NE(session->peer_subject.find("CN=berth.test"), std::string::npos);

  // The DNS name in the certificate works as well as the IP address.
  TlsClientOptions by_name = pki.client_options();
  by_name.server_name = "localhost";
  HttpClient named("127.0.0.1", server.tls_port(), by_name);
  EXPECT_EQ(named.get("/").status, 200);

  HttpClient plain("127.0.0.1", server.port());
  const auto plain_response = plain.get("/plain");
  EXPECT_EQ(plain_response.status, 200);
  EXPECT_EQ(plain_response.body, "http /plain");
  EXPECT_FALSE(plain.tls_session().has_value());
  EXPECT_TRUE(warnings.all().empty());
}

TEST(HttpTls, ClientsRefuseAnUntrustedCertificateOrTheWrongName) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Pki other("Some Other CA");
  Warnings warnings;
  TlsTestServer server(describe, tls_options(pki, warnings));

  HttpClient untrusted("127.0.0.1", server.tls_port(), other.client_options());
  try {
    untrusted.get("/");
    ADD_FAILURE() << "a certificate from another CA was accepted";
  } catch (const HttpClientError& e) {
    EXPECT_NE(std::string(e.what()).find("certificate verify failed"), std::string::npos)
        << e.what();
  }

  TlsClientOptions wrong_name = pki.client_options();
  wrong_name.server_name = "registry.example.com";
  HttpClient misnamed("127.0.0.1", server.tls_port(), wrong_name);
  EXPECT_THROW(misnamed.get("/"), HttpClientError);

  // And the server is fine afterwards.
  HttpClient good("127.0.0.1", server.tls_port(), pki.client_options());
  EXPECT_EQ(good.get("/").status, 200);
}

TEST(HttpTls, PlainHttpSentToTheTlsPortGetsNoHttpAnswer) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  TlsTestServer server(describe, tls_options(pki, warnings));
  RawConnection raw("127.0.0.1", server.tls_port());
  raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string answer = raw.read_until_close(kPatience);
  EXPECT_TRUE(raw.closed());
  EXPECT_FALSE(answer.starts_with("HTTP/")) << answer;
}

// ---------------------------------------------------------------------------- versions

TEST(HttpTls, Tls11IsRefusedAndTls12IsAccepted) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  TlsTestServer server(describe, tls_options(pki, warnings));

  // The client is willing to speak TLS 1.0/1.1 (security level 0 allows it in OpenSSL 3), so a
  // failure is the server's refusal, which it states with a protocol_version alert.
  TlsClientOptions old = pki.client_options();
  old.min_version = TLS1_VERSION;
  old.max_version = TLS1_1_VERSION;
  old.ciphers = "DEFAULT:@SECLEVEL=0";
  HttpClient old_client("127.0.0.1", server.tls_port(), old);
  try {
    old_client.get("/");
    ADD_FAILURE() << "a TLS 1.1 handshake succeeded";
  } catch (const HttpClientError& e) {
    EXPECT_NE(std::string(e.what()).find("protocol version"), std::string::npos) << e.what();
  }

  TlsClientOptions tls12 = old;
  tls12.max_version = TLS1_2_VERSION;
  HttpClient client("127.0.0.1", server.tls_port(), tls12);
  EXPECT_EQ(client.get("/").status, 200);
  const auto session = client.tls_session();
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->version, "TLSv1.2");
  EXPECT_EQ(session->alpn, "http/1.1");
}

TEST(HttpTls, Tls12WithoutForwardSecrecyIsRefused) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  TlsTestServer server(describe, tls_options(pki, warnings));
  TlsClientOptions options = pki.client_options();
  options.max_version = TLS1_2_VERSION;
  // Static RSA key exchange and CBC: neither is on the server's list.
  options.ciphers = "AES128-SHA:AES256-SHA:AES128-GCM-SHA256";
  HttpClient client("127.0.0.1", server.tls_port(), options);
  EXPECT_THROW(client.get("/"), HttpClientError);
}

// ---------------------------------------------------------------------------- connections

TEST(HttpTls, KeepAliveServesManyRequestsOnOneTlsConnection) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  TlsTestServer server(describe, tls_options(pki, warnings));
  HttpClient client("127.0.0.1", server.tls_port(), pki.client_options());
  for (int i = 0; i < 50; ++i) {
    const std::string target = "/item/" + std::to_string(i);
    const auto response = client.get(target);
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "https " + target);
    EXPECT_FALSE(response.closes_connection);
  }
  EXPECT_EQ(client.connects(), 1u);
  EXPECT_EQ(server.server().connection_count(), 1u);
}

TEST(HttpTls, RequestBodiesStreamInAndResponsesStreamOut) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  auto source = std::make_shared<const std::string>(random_bytes(3 * 1024 * 1024 + 7, 11));
  TlsTestServer server(
      [source](Exchange& exchange) -> asio::awaitable<void> {
        if (exchange.request().method() == bhttp::verb::put) {
          // Read in small pieces: the body must arrive whole through a small buffer.
          std::string received;
          std::array<std::byte, 10000> buffer{};
          for (;;) {
            auto got = co_await exchange.read_body(buffer);
            if (!got) {
              co_await exchange.respond(make_response(bhttp::status::bad_request));
              co_return;
            }
            if (*got == 0) {
              break;
            }
            received.append(reinterpret_cast<const char*>(buffer.data()), *got);
          }
          co_await exchange.respond(make_response(bhttp::status::ok, std::move(received)));
          co_return;
        }
        ResponseHeader header;
        header.result(bhttp::status::ok);
        Exchange::ReadAt read_at = [source](std::uint64_t at,
                                            std::span<std::byte> out) -> IoResult<std::size_t> {
          const std::size_t n = std::min<std::size_t>(out.size(), source->size() - at);
          std::memcpy(out.data(), source->data() + at, n);
          return n;
        };
        co_await exchange.respond_stream(std::move(header), 0, source->size(), std::move(read_at));
      },
      tls_options(pki, warnings));
  HttpClient client("127.0.0.1", server.tls_port(), pki.client_options());
  const std::string upload = random_bytes(2 * 1024 * 1024 + 3, 12);
  std::size_t sent = 0;
  const auto echoed = client.request_stream(
      "PUT", "/", {},
      [&]() -> std::string {
        const std::size_t n = std::min<std::size_t>(100'000, upload.size() - sent);
        std::string piece = upload.substr(sent, n);
        sent += n;
        return piece;
      },
      std::nullopt);
  ASSERT_EQ(echoed.status, 200);
  EXPECT_TRUE(echoed.body == upload);

  const auto streamed = client.get("/");
  ASSERT_EQ(streamed.status, 200);
  EXPECT_TRUE(streamed.body == *source);
  EXPECT_EQ(client.connects(), 1u);
}

TEST(HttpTls, RespondFileIsEncryptedWholeAndInWindows) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  // Not a multiple of the read piece, so the last piece is short.
  const std::string content = random_bytes(5 * 1024 * 1024 + 17, 3);
  TempFile file(content);
  const std::string path = file.path();
  TlsTestServer server(
      [path, size = content.size()](Exchange& exchange) -> asio::awaitable<void> {
        const std::string_view target = exchange.request().target();
        const std::uint64_t offset = query_number(target, "offset");
        const std::uint64_t length = target.find("length=") != std::string_view::npos
                                         ? query_number(target, "length")
                                         : size - offset;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ResponseHeader header;
        header.result(bhttp::status::ok);
        co_await exchange.respond_file(std::move(header), fd, offset, length);
        ::close(fd);
      },
      tls_options(pki, warnings));
  HttpClient client("127.0.0.1", server.tls_port(), pki.client_options());
  const auto whole = client.get("/file");
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.header("Content-Length"), std::to_string(content.size()));
  EXPECT_TRUE(whole.body == content);

  const auto window = client.get("/file?offset=1000&length=500000");
  ASSERT_EQ(window.status, 200);
  EXPECT_TRUE(window.body == content.substr(1000, 500000));

  const auto tail = client.get("/file?offset=" + std::to_string(content.size() - 5));
  EXPECT_EQ(tail.body, content.substr(content.size() - 5));

  const auto head = client.head("/file");
  EXPECT_EQ(head.header("Content-Length"), std::to_string(content.size()));
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(client.connects(), 1u);

  // The same file over the plain listener (sendfile) gives the same bytes.
  HttpClient plain("127.0.0.1", server.port());
  EXPECT_TRUE(plain.get("/file?offset=1000&length=500000").body == window.body);

  const auto records = server.wait_for_records(5);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0], content.size());
  EXPECT_EQ(records[1], 500000u);
  EXPECT_EQ(records[3], 0u);
}

TEST(HttpTls, RespondFileToAReaderThatStopsIsCutOffAfterTheWriteTimeout) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  const std::string content = random_bytes(16 * 1024 * 1024, 6);
  TempFile file(content);
  const std::string path = file.path();
  ServerOptions options = tls_options(pki, warnings);
  options.write_timeout = 200ms;
  TlsTestServer server(
      [path, size = content.size()](Exchange& exchange) -> asio::awaitable<void> {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ResponseHeader header;
        header.result(bhttp::status::ok);
        co_await exchange.respond_file(std::move(header), fd, 0, size);
        ::close(fd);
      },
      options);
  RawConnection raw("127.0.0.1", server.tls_port(), pki.client_options(),
                    /*receive_buffer=*/16 * 1024);
  raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  // Read nothing until the server has given up on this request.
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_LT(records[0], content.size());
  const std::string received = raw.read_until_close(kPatience);
  EXPECT_LT(received.size(), content.size());
  for (int i = 0; i < 2000 && server.server().connection_count() != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server.server().connection_count(), 0u);
}

TEST(HttpTls, RespondFileShorterThanPromisedClosesTheTlsConnection) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  TempFile file("only this");
  const std::string path = file.path();
  TlsTestServer server(
      [path](Exchange& exchange) -> asio::awaitable<void> {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ResponseHeader header;
        header.result(bhttp::status::ok);
        co_await exchange.respond_file(std::move(header), fd, 0, 1000);
        ::close(fd);
      },
      tls_options(pki, warnings));
  HttpClient client("127.0.0.1", server.tls_port(), pki.client_options());
  EXPECT_THROW(client.get("/"), HttpClientError);
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], 9u);
}

TEST(HttpTls, LargeUnreadBodyIsAnsweredThenTheConnectionClosed) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  TlsTestServer server(
      [](Exchange& exchange) -> asio::awaitable<void> {
        co_await exchange.respond(make_response(bhttp::status::unauthorized, "no"));
      },
      tls_options(pki, warnings));
  HttpClient client("127.0.0.1", server.tls_port(), pki.client_options());
  const auto response = client.put("/x", std::string(1024 * 1024, 'x'));
  EXPECT_EQ(response.status, 401);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_EQ(client.get("/y").status, 401);
  EXPECT_EQ(client.connects(), 2u);
}

TEST(HttpTls, MalformedRequestOverTlsGets400AndClose) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  TlsTestServer server(describe, tls_options(pki, warnings));
  RawConnection raw("127.0.0.1", server.tls_port(), pki.client_options());
  raw.send("GARBAGE\r\n\r\n");
  const std::string answer = raw.read_until_close(kPatience);
  EXPECT_TRUE(raw.closed());
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << answer;
}

// ---------------------------------------------------------------------------- deadlines

TEST(HttpTls, StalledHandshakeIsDroppedAfterTheReadTimeout) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  ServerOptions options = tls_options(pki, warnings);
  options.read_timeout = 200ms;
  TlsTestServer server(describe, options);
  // TCP only: the server waits for a ClientHello that never comes.
  RawConnection raw("127.0.0.1", server.tls_port());
  const std::string answer = raw.read_until_close(kPatience);
  EXPECT_TRUE(raw.closed());
  EXPECT_EQ(answer, "");
  for (int i = 0; i < 2000 && server.server().connection_count() != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server.server().connection_count(), 0u);
  // Others are served meanwhile.
  HttpClient client("127.0.0.1", server.tls_port(), pki.client_options());
  EXPECT_EQ(client.get("/").status, 200);
}

TEST(HttpTls, IdleTlsConnectionIsClosedAfterTheIdleTimeoutWithCloseNotify) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  ServerOptions options = tls_options(pki, warnings);
  options.idle_timeout = 200ms;
  TlsTestServer server(describe, options);
  HttpClient client("127.0.0.1", server.tls_port(), pki.client_options());
  EXPECT_EQ(client.get("/").status, 200);
  for (int i = 0; i < 2000 && server.server().connection_count() != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(server.server().connection_count(), 0u);
  // The client notices the closed connection and makes a new one.
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_EQ(client.connects(), 2u);
}

// ---------------------------------------------------------------------------- reloading

TEST(HttpTls, ReplacedCertificateIsUsedByNewConnectionsWhileOldOnesKeepTheirs) {
  Pki pki;
  pki.install("first.berth.test", 0x1001);
  Warnings warnings;
  ServerOptions options = tls_options(pki, warnings);
  options.tls->reload_check = 20ms;
  TlsTestServer server(describe, options);

  HttpClient kept("127.0.0.1", server.tls_port(), pki.client_options());
  ASSERT_EQ(kept.get("/before").status, 200);
  EXPECT_EQ(kept.tls_session()->peer_serial, "1001");

  pki.install("second.berth.test", 0x2002);
  std::string serial;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    serial = serial_of_a_new_connection(pki, server.tls_port());
    if (serial != "1001") {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(serial, "2002");
  HttpClient fresh("127.0.0.1", server.tls_port(), pki.client_options());
  ASSERT_EQ(fresh.get("/").status, 200);
  EXPECT_NE(fresh.tls_session()->peer_subject.find("CN=second.berth.test"), std::string::npos);

  // The connection made before the swap goes on with the certificate it shook hands with.
  const auto after = kept.get("/after");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "https /after");
  EXPECT_EQ(kept.connects(), 1u);
  EXPECT_EQ(kept.tls_session()->peer_serial, "1001");
}

TEST(HttpTls, BrokenReplacementKeepsThePreviousCertificateAndWarns) {
  Pki pki;
  const Pair first = pki.install("first.berth.test", 0x1001);
  Warnings warnings;
  ServerOptions options = tls_options(pki, warnings);
  options.tls->reload_check = 20ms;
  TlsTestServer server(describe, options);
  ASSERT_EQ(serial_of_a_new_connection(pki, server.tls_port()), "1001");

  // A new certificate beside the old key: they do not match.
  const Pair second = pki.issue("second.berth.test", 0x2002);
  replace_file(pki.certificate_file(), second.certificate_pem);
  const auto messages = warnings.wait_for(1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("does not match"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find(pki.key_file().string()), std::string::npos) << messages[0];
  EXPECT_EQ(serial_of_a_new_connection(pki, server.tls_port()), "1001");

  // An unreadable key is no better.
  fs::remove(pki.key_file());
  const auto more = warnings.wait_for(2);
  ASSERT_EQ(more.size(), 2u);
  EXPECT_NE(more[1].find("cannot read key file"), std::string::npos) << more[1];
  EXPECT_EQ(serial_of_a_new_connection(pki, server.tls_port()), "1001");

  // Once the matching key arrives, the pair is taken.
  replace_file(pki.key_file(), second.key_pem);
  std::string serial;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    serial = serial_of_a_new_connection(pki, server.tls_port());
    if (serial != "1001") {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(serial, "2002");
  // Each broken state was reported once, not at every check.
  EXPECT_EQ(warnings.all().size(), 2u);
}

TEST(HttpTls, TlsContextSourceReloadsOnlyWhenAFileChanged) {
  Pki pki;
  pki.install("first.berth.test", 0x1001);
  Warnings warnings;
  auto source = TlsContextSource::load(pki.certificate_file(), pki.key_file(), warnings.hook());
  ASSERT_TRUE(source.has_value()) << source.error();
  const auto before = (*source)->current();
  EXPECT_FALSE((*source)->reload_if_changed());
  EXPECT_EQ((*source)->current(), before);
  pki.install("second.berth.test", 0x2002);
  EXPECT_TRUE((*source)->reload_if_changed());
  EXPECT_NE((*source)->current(), before);
  EXPECT_FALSE((*source)->reload_if_changed());
  EXPECT_TRUE(warnings.all().empty());
}

// ---------------------------------------------------------------------------- listen

TEST(HttpTls, ListenFailsClearlyWhenTheCertificateCannotBeLoaded) {
  Pki pki;
  const Pair pair = pki.issue("berth.test", 0x1001);
  const Pair other = pki.issue("other.berth.test", 0x1002);
  BlockingPool pool(1);
  struct Case {
    std::string name;
    std::string certificate;  // empty: no file
    std::string key;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"missing certificate", "", pair.key_pem, "cannot read certificate file"},
      {"missing key", pair.certificate_pem, "", "cannot read key file"},
      {"not pem", "hello", pair.key_pem, "cannot load certificate file"},
      {"mismatch", pair.certificate_pem, other.key_pem, "does not match"},
  };
  for (const auto& c : cases) {
    std::error_code ignored;
    fs::remove(pki.certificate_file(), ignored);
    fs::remove(pki.key_file(), ignored);
    if (!c.certificate.empty()) {
      replace_file(pki.certificate_file(), c.certificate);
    }
    if (!c.key.empty()) {
      replace_file(pki.key_file(), c.key);
    }
    Warnings warnings;
    ServerOptions options = tls_options(pki, warnings);
    Server server(options, describe, pool, nullptr);
    const auto endpoint = server.listen();
    ASSERT_FALSE(endpoint.has_value()) << c.name;
    EXPECT_EQ(endpoint.error().message(), "the TLS certificate and key could not be loaded");
    const auto messages = warnings.all();
    ASSERT_EQ(messages.size(), 1u) << c.name;
    EXPECT_NE(messages[0].find(c.expected), std::string::npos) << c.name << ": " << messages[0];
    EXPECT_FALSE(server.tls_endpoint().has_value());
  }
}

TEST(HttpTls, TlsOnlyServerReturnsTheTlsEndpoint) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  ServerOptions options = tls_options(pki, warnings);
  options.listen.clear();
  BlockingPool pool(1);
  Server server(options, describe, pool, nullptr);
  const auto endpoint = server.listen();
  ASSERT_TRUE(endpoint.has_value()) << endpoint.error().message();
  ASSERT_TRUE(server.tls_endpoint().has_value());
  EXPECT_EQ(*endpoint, *server.tls_endpoint());
  std::thread thread([&] { server.run(); });
  {
    HttpClient client("127.0.0.1", endpoint->port(), pki.client_options());
    EXPECT_EQ(client.get("/only").body, "https /only");
  }
  server.stop();
  thread.join();
  EXPECT_EQ(server.connection_count(), 0u);
}

TEST(HttpTls, ListenWithoutAnyListenerFails) {
  BlockingPool pool(1);
  ServerOptions options;
  options.listen.clear();
  options.io_threads = 1;
  Server server(options, describe, pool, nullptr);
  EXPECT_FALSE(server.listen().has_value());
}

// ---------------------------------------------------------------------------- shutdown

TEST(HttpTls, StopClosesIdleAndHandshakingTlsConnectionsAndLetsRequestsFinish) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  std::promise<void> entered;
  TlsTestServer server(
      [&](Exchange& exchange) -> asio::awaitable<void> {
        if (exchange.request().target() == "/idle") {
          co_await exchange.respond(make_response(bhttp::status::ok, "idle"));
          co_return;
        }
        entered.set_value();
        auto body = co_await exchange.read_body_string(100);
        const std::string text = body ? *body : "error";
        co_await exchange.respond(make_response(bhttp::status::ok, text));
      },
      tls_options(pki, warnings));
  RawConnection idle("127.0.0.1", server.tls_port(), pki.client_options());
  idle.send("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(idle.read_response(kPatience).body, "idle");
  // TCP connected, no ClientHello yet: only stop() or the read deadline ends it.
  RawConnection handshaking("127.0.0.1", server.tls_port());
  RawConnection busy("127.0.0.1", server.tls_port(), pki.client_options());
  busy.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);

  server.stop();
  EXPECT_TRUE(idle.wait_closed(kPatience));
  EXPECT_TRUE(handshaking.wait_closed(kPatience));
  busy.send("56789");
  const auto response = busy.read_response(kPatience);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "0123456789");
  EXPECT_EQ(response.header("Connection"), "close");
  EXPECT_TRUE(busy.wait_closed(kPatience));
  server.join();
  EXPECT_TRUE(server.run_returned());
  EXPECT_EQ(server.server().connection_count(), 0u);
}

TEST(HttpTls, StopCancelsTlsRequestsStillRunningAtTheDrainDeadline) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  ServerOptions options = tls_options(pki, warnings);
  options.drain_timeout = 200ms;
  std::promise<void> entered;
  auto error_seen = std::make_shared<std::string>();
  TlsTestServer server(
      [&, error_seen](Exchange& exchange) -> asio::awaitable<void> {
        entered.set_value();
        auto body = co_await exchange.read_body_string(100);
        *error_seen = body ? "none" : "error";
        co_await exchange.respond(make_response(bhttp::status::ok));
      },
      options);
  RawConnection raw("127.0.0.1", server.tls_port(), pki.client_options());
  raw.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);
  server.stop();
  EXPECT_TRUE(raw.wait_closed(kPatience));
  server.join();
  EXPECT_TRUE(server.run_returned());
  EXPECT_EQ(*error_seen, "error");
}

TEST(HttpTls, StopBeforeRunWithTlsMakesRunReturn) {
  Pki pki;
  pki.install("berth.test", 0x1001);
  Warnings warnings;
  BlockingPool pool(1);
  Server server(tls_options(pki, warnings), describe, pool, nullptr);
  ASSERT_TRUE(server.listen().has_value());
  server.stop();
  server.run();
  EXPECT_EQ(server.connection_count(), 0u);
}

}  // namespace
}  // namespace berth::http
