// A registry (or nginx) the bench drives: its process, where it listens, where its data is.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "driver/server_process.hpp"

namespace berth::bench {

struct ServerUnderTest {
  std::string name;  // "Berth", "Distribution", "nginx"
  std::unique_ptr<ServerProcess> process = {};
  boost::asio::ip::tcp::endpoint endpoint = {};
  std::filesystem::path data = {};
};

}  // namespace berth::bench
