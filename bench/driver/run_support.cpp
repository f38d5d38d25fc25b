// Helpers around the servers (run_support.hpp).
#include "driver/run_support.hpp"

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace berth::bench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

Verify verify_named(const std::string& name) {
  return name == "bytes" ? Verify::kBytes : Verify::kSha256;
}

std::string now_text() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return text;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

void progress(const std::string& line) {
  std::cerr << "[bench " << now_text() << "] " << line << std::endl;
}

asio::ip::tcp::endpoint loopback(unsigned short port) {
  return {asio::ip::make_address("127.0.0.1"), port};
}

std::string tail_of(const fs::path& log) {
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

void wait_until_ready(ServerUnderTest& server, const std::string& target, unsigned status) {
  const auto deadline = Clock::now() + 30s;
  for (;;) {
    if (!server.process->running()) {
      throw std::runtime_error(server.name + " exited during start; its log:\n" +
                               tail_of(server.process->log()));
    }
    asio::io_context io;
    Connection connection(io, server.endpoint, nullptr, std::chrono::seconds(5));
    Response response;
    bool ok = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const auto ec = co_await connection.round_trip(Request{.target = target}, {}, response);
          ok = !ec && response.status == status;
        },
        asio::detached);
    io.run();
    if (ok) {
      return;
    }
    if (Clock::now() > deadline) {
      throw std::runtime_error(server.name + " did not answer GET " + target + " with " +
                               std::to_string(status) + " within 30 s");
    }
    std::this_thread::sleep_for(100ms);
  }
}

bool selected(const std::string& only, const std::string& id) {
  if (only.empty()) {
    return true;
  }
  std::size_t start = 0;
  while (start <= only.size()) {
    const auto end = std::min(only.find(',', start), only.size());
    const auto item = only.substr(start, end - start);
    if (!item.empty() && id.starts_with(item)) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

void raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

unsigned short wait_for_port_file(const ServerProcess& process, const fs::path& port_file) {
  const auto deadline = Clock::now() + 30s;
  for (;;) {
    std::ifstream in(port_file);
    unsigned port = 0;
    if (in >> port && port > 0) {
      return static_cast<unsigned short>(port);
    }
    if (!process.running() || Clock::now() > deadline) {
      throw std::runtime_error(process.name() + " did not write its port; its log:\n" +
                               tail_of(process.log()));
    }
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace berth::bench
