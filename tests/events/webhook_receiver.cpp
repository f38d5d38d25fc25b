#include "webhook_receiver.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace berth::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

WebhookReceiver::WebhookReceiver()
    : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] { serve(); });
}

WebhookReceiver::~WebhookReceiver() {
  stopping_ = true;
  // Wakes the blocking accept.
  try {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  } catch (const std::exception&) {
  }
  thread_.join();
}

std::vector<ReceivedRequest> WebhookReceiver::received() {
  std::lock_guard lock(mutex_);
  return received_;
}

void WebhookReceiver::serve() {
  while (!stopping_) {
    tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    if (ec || stopping_) {
      continue;
    }
    beast::flat_buffer buffer;
    bhttp::request<bhttp::string_body> request;
    bhttp::read(socket, buffer, request, ec);
    if (ec) {
      continue;
    }
    ReceivedRequest seen;
    seen.target = std::string(request.target());
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (auto& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      seen.headers[name] = std::string(field.value());
    }
    seen.body = request.body();
    seen.answered = status_.load();
    {
      std::lock_guard lock(mutex_);
      received_.push_back(seen);
    }
    bhttp::response<bhttp::string_body> response(static_cast<bhttp::status>(seen.answered), 11);
    response.keep_alive(false);
    response.body() = "ok";
    response.prepare_payload();
    bhttp::write(socket, response, ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
}

std::string expected_signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &size);
  std::string hex = "sha256=";
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[mac[i] >> 4];
    hex += kHex[mac[i] & 0xf];
  }
  return hex;
}

}  // namespace berth::testing
