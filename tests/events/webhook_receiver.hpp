// A webhook receiver for black-box tests: a real HTTP/1.1 server (Boost.Beast) on 127.0.0.1 and
// a port the kernel picks, that records every request (headers and body) and answers with the
// status the test sets (200 by default; a 5xx plays a receiver that is down). It answers
// Connection: close, so one thread serves every connection in turn.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::testing {

struct ReceivedRequest {
  std::string target;
  // Lower-case names.
  std::map<std::string, std::string> headers;
  std::string body;
  unsigned answered = 0;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void answer_with(unsigned status) { status_ = status; }
  std::vector<ReceivedRequest> received();

 private:
  void serve();

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<unsigned> status_{200};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // guards received_
  std::vector<ReceivedRequest> received_;
  std::thread thread_;
};

// "sha256=" and the hex HMAC-SHA256 of `body` keyed with `secret`, computed here with OpenSSL:
// the oracle the server's signatures are checked against.
std::string expected_signature(const std::string& secret, const std::string& body);

}  // namespace berth::testing
