#include "testing/scripted_http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

namespace berth::testing {

HttpAction http_answer(unsigned status, std::string body) {
  return {HttpAction::kAnswer, status, std::move(body)};
}
HttpAction s3_error(unsigned status, std::string_view code, std::string_view message) {
  return http_answer(status, "<?xml version=\"1.0\"?><Error><Code>" + std::string(code) +
                                 "</Code><Message>" + std::string(message) + "</Message></Error>");
}
HttpAction http_reset() { return {HttpAction::kReset, 0, {}}; }
HttpAction http_silence() { return {HttpAction::kSilence, 0, {}}; }

std::string HttpRequestHead::header(std::string_view name) const {
  std::size_t at = 0;
  while ((at = headers.find("\r\n", at)) != std::string::npos) {
    at += 2;
    const std::size_t colon = headers.find(':', at);
    const std::size_t end = headers.find("\r\n", at);
    if (colon == std::string::npos || (end != std::string::npos && colon > end)) {
      continue;
    }
    if (colon - at == name.size() &&
        ::strncasecmp(headers.data() + at, name.data(), name.size()) == 0) {
      std::string value =
          headers.substr(colon + 1, (end == std::string::npos ? headers.size() : end) - colon - 1);
      value.erase(0, value.find_first_not_of(' '));
      return value;
    }
  }
  return {};
}

ScriptedHttpServer::ScriptedHttpServer(std::vector<HttpAction> script)
    : ScriptedHttpServer(Responder()) {
  std::lock_guard lock(mutex_);
  script_.assign(script.begin(), script.end());
}

ScriptedHttpServer::ScriptedHttpServer(Responder responder) : responder_(std::move(responder)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::listen(listener_, 16);
  socklen_t length = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { serve(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  ::close(listener_);
  thread_.join();
  for (int fd : silent_) {
    ::close(fd);
  }
}

std::vector<std::string> ScriptedHttpServer::request_lines() {
  std::lock_guard lock(mutex_);
  return lines_;
}

void ScriptedHttpServer::serve() {
  while (!stopping_) {
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) {
      return;
    }
    if (!converse(fd)) {
      continue;
    }
    ::close(fd);
  }
}

// Answers requests on one connection; false when the fd was kept open for silence.
bool ScriptedHttpServer::converse(int fd) {
  std::string buffer;
  auto fill = [&](std::size_t at_least) {
    while (buffer.size() < at_least) {
      char chunk[4096];
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) {
        return false;
      }
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  };
  while (true) {
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(buffer.size() + 1)) {
        return true;
      }
    }
    HttpRequestHead head;
    const std::size_t line_end = buffer.find("\r\n");
    head.line = buffer.substr(0, line_end);
    head.headers = buffer.substr(line_end, end + 2 - line_end);
    const std::string length_text = head.header("content-length");
    const std::size_t length = length_text.empty() ? 0 : std::stoul(length_text);
    if (!fill(end + 4 + length)) {
      return true;
    }
    buffer.erase(0, end + 4 + length);
    ++requests_;
    HttpAction action;
    {
      std::lock_guard lock(mutex_);
      lines_.push_back(head.line);
      if (responder_) {
        action = responder_(head);
      } else {
        action = script_.front();
        if (script_.size() > 1) {
          script_.pop_front();
        }
      }
    }
    if (action.kind == HttpAction::kReset) {
      linger hard{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
      return true;
    }
    if (action.kind == HttpAction::kSilence) {
      silent_.push_back(fd);
      return false;
    }
    // A HEAD's answer has the length of the body it does not send.
    const bool no_body = head.line.starts_with("HEAD ");
    const std::string response = "HTTP/1.1 " + std::to_string(action.status) +
                                 " X\r\nContent-Length: " + std::to_string(action.body.size()) +
                                 "\r\n\r\n" + (no_body ? std::string() : action.body);
    if (::write(fd, response.data(), response.size()) < 0) {
      return true;
    }
  }
}

}  // namespace berth::testing
