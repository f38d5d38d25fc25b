// What the HTTP server's tests share: answers, test data, a file on disk and a warning sink.
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.hpp"

namespace berth::http::test_support {

// Long enough never to matter on a loaded machine; reaching it means the test failed.
inline constexpr auto kPatience = std::chrono::seconds(20);

inline Response make_response(boost::beast::http::status status, std::string body = {}) {
  Response response{status, 11};
  response.set(boost::beast::http::field::content_type, "text/plain");
  response.body() = std::move(body);
  return response;
}

// `size` bytes of a fixed pseudo-random sequence per seed.
inline std::string random_bytes(std::size_t size, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) {
    c = static_cast<char>(rng() & 0xff);
  }
  return out;
}

// The number after "key=" in a request target, 0 when it is not there.
inline std::uint64_t query_number(std::string_view target, std::string_view key) {
  const std::string needle = std::string(key) + "=";
  const auto at = target.find(needle);
  if (at == std::string_view::npos) {
    return 0;
  }
  return std::stoull(std::string(target.substr(at + needle.size())));
}

// A file holding `content` under the system's temporary directory, removed with the object.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-http-XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) {
      throw std::runtime_error("mkstemp failed");
    }
    ::close(fd);
    path_ = pattern;
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Collects the server's warnings (ServerOptions::warn).
class Warnings {
 public:
  std::function<void(std::string)> hook() {
    return [this](std::string message) {
      std::lock_guard lock(mutex_);
      messages_.push_back(std::move(message));
      changed_.notify_all();
    };
  }
  // The warnings once there are `count` of them, or those there are after kPatience.
  std::vector<std::string> wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, kPatience, [&] { return messages_.size() >= count; });
    return messages_;
  }
  std::vector<std::string> all() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> messages_;
};

}  // namespace berth::http::test_support
