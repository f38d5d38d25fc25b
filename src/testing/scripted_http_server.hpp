// A loopback HTTP/1.1 server for tests of clients: it answers each request as a responder
// says (a status and a body, a reset connection, or silence), or plays a script of answers one
// request at a time, repeating the last. It records each request's first line. Just enough HTTP
// to be predictable: requests with Content-Length bodies, answers with Content-Length.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace berth::testing {

// What the server does with one request.
struct HttpAction {
  enum Kind { kAnswer, kReset, kSilence } kind = kAnswer;
  unsigned status = 200;
  std::string body;
};

HttpAction http_answer(unsigned status, std::string body = {});
// An S3-style <Error> body with that code and message.
HttpAction s3_error(unsigned status, std::string_view code, std::string_view message = {});
// The connection is reset (RST) instead of answered.
HttpAction http_reset();
// The request is never answered; the connection stays open until the server goes.
HttpAction http_silence();

// The request as the responder sees it: "GET /path HTTP/1.1" and the header block.
struct HttpRequestHead {
  std::string line;
  std::string headers;
  // The value of a header (case-insensitive name), empty if absent.
  std::string header(std::string_view name) const;
};

class ScriptedHttpServer {
 public:
  using Responder = std::function<HttpAction(const HttpRequestHead&)>;
  // Answers by script (never empty), repeating its last action.
  explicit ScriptedHttpServer(std::vector<HttpAction> script);
  explicit ScriptedHttpServer(Responder responder);
  ~ScriptedHttpServer();
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }
  std::vector<std::string> request_lines();

 private:
  void serve();
  bool converse(int fd);

  Responder responder_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::mutex mutex_;  // guards script_ and lines_
  std::deque<HttpAction> script_;
  std::vector<std::string> lines_;
  std::vector<int> silent_;  // touched by the server thread, then by the destructor
};

}  // namespace berth::testing
