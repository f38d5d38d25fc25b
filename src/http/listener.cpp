// Listening sockets (listener.hpp).
#include "http/listener.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/system/error_category.hpp>
#include <optional>

#include "http/listen_address.hpp"

namespace berth::http::detail {
namespace {

using tcp = asio::ip::tcp;

class ListenErrorCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "berth.http.listen"; }
  std::string message(int value) const override {
    switch (static_cast<ListenError>(value)) {
      case ListenError::kNoListener:
        return "no listener configured (neither plain HTTP nor TLS)";
      case ListenError::kTlsSetup:
        return "the TLS certificate and key could not be loaded";
    }
    return "unknown listen error";
  }
};

}  // namespace

ErrorCode make_error(ListenError error) {
  static const ListenErrorCategory category;
  return ErrorCode(static_cast<int>(error), category);
}

namespace {

// The addresses `host` stands for: itself when it is a literal, else what it resolves to.
IoResult<std::vector<tcp::endpoint>> resolve(asio::io_context& context,
                                             const ListenAddress& address) {
  std::vector<tcp::endpoint> endpoints;
  ErrorCode ec;
  const auto literal = asio::ip::make_address(address.host, ec);
  if (!ec) {
    endpoints.emplace_back(literal, address.port);
    return endpoints;
  }
  // A name ("localhost"): resolving may block, which is fine here, before run().
  tcp::resolver resolver(context);
  const auto results =
      resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::passive, ec);
  if (ec) {
    return std::unexpected(ec);
  }
  for (const auto& entry : results) {
    endpoints.push_back(entry.endpoint());
  }
  return endpoints;
}

// One listening acceptor on `endpoint`. `v6_only` keeps an IPv6 socket off the IPv4 addresses
// another acceptor of the same name listens on.
IoResult<std::unique_ptr<tcp::acceptor>> open_one(asio::io_context& context,
                                                  const tcp::endpoint& endpoint, bool v6_only) {
  auto acceptor = std::make_unique<tcp::acceptor>(context);
  ErrorCode step;
  acceptor->open(endpoint.protocol(), step);
  if (!step) {
    acceptor->set_option(asio::socket_base::reuse_address(true), step);
  }
  if (!step && v6_only) {
    acceptor->set_option(asio::ip::v6_only(true), step);
  }
  if (!step) {
    acceptor->bind(endpoint, step);
  }
  if (!step) {
    acceptor->listen(asio::socket_base::max_listen_connections, step);
  }
  if (step) {
    return std::unexpected(step);
  }
  return acceptor;
}

}  // namespace

IoResult<tcp::endpoint> open_acceptors(asio::io_context& context, const std::string& text, bool tls,
                                       std::vector<Acceptor>& out) {
  auto address = parse_listen_address(text);
  if (!address) {
    return std::unexpected(ErrorCode(asio::error::invalid_argument));
  }
  auto endpoints = resolve(context, *address);
  if (!endpoints) {
    return std::unexpected(endpoints.error());
  }
  std::optional<tcp::endpoint> bound;
  ErrorCode first_error;
  for (auto endpoint : *endpoints) {
    if (bound && endpoint.port() == 0) {
      // Port 0 on a name with several addresses: every listener shares the first's port.
      endpoint.port(bound->port());
    }
    ErrorCode step;
    auto acceptor =
        open_one(context, endpoint, endpoint.address().is_v6() && endpoints->size() > 1);
    tcp::endpoint local;
    if (acceptor) {
      local = (*acceptor)->local_endpoint(step);
    } else {
      step = acceptor.error();
    }
    if (step) {
      if (!first_error) {
        first_error = step;
      }
      continue;
    }
    if (!bound) {
      bound = local;
    }
    out.push_back(Acceptor{.acceptor = std::move(*acceptor), .tls = tls});
  }
  if (!bound) {
    if (!first_error) {
      first_error =
          boost::system::errc::make_error_code(boost::system::errc::address_not_available);
    }
    return std::unexpected(first_error);
  }
  return *bound;
}

}  // namespace berth::http::detail
