// Listening sockets: turning a "host:port" text into open, bound, listening acceptors (one per
// address the host resolves to), and the errors listen() reports beyond what a system error
// code can say. The accept loop that feeds connections lives with the server core, which owns
// the io_contexts connections are spread over.
// Internal to the server (server.hpp is the interface).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "http/server.hpp"

namespace berth::http::detail {

// Why listen() failed, beyond what a system error code can say.
enum class ListenError {
  kNoListener = 1,
  kTlsSetup,
};

ErrorCode make_error(ListenError error);

struct Acceptor {
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
  bool tls = false;
};

// Opens, binds and listens on every address of `text` ("host:port"; a name may give several),
// appending the acceptors to `out`; nothing is accepted yet. Returns the first bound endpoint.
// Resolving a name may block: call it before the server runs.
[[nodiscard]] IoResult<asio::ip::tcp::endpoint> open_acceptors(asio::io_context& context,
                                                               const std::string& text, bool tls,
                                                               std::vector<Acceptor>& out);

}  // namespace berth::http::detail
