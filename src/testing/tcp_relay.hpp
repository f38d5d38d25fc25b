// A TCP relay on 127.0.0.1 between a server under test and a service it depends on (an S3
// server, PostgreSQL), which a test can cut and restore to play an outage without stopping
// the service, which other tests share. Cut, it closes every relayed connection and closes
// each new one as soon as it is accepted (the caller sees a reset or an early end of stream,
// as when a service dies); the listening port stays, so restoring needs no reconfiguration.
//
// Runs its own thread. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace berth::testing {

class TcpRelay {
 public:
  // Relays connections made to port() to target_host:target_port.
  TcpRelay(std::string target_host, std::uint16_t target_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  std::uint16_t port() const;
  // Connections accepted since construction, relayed or refused.
  std::size_t accepted() const;

  void cut();
  void restore();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace berth::testing
