// The HTTP face of Berth: routes every request to its handler. /v2/... goes to the registry
// (the OCI Distribution endpoints), /healthz and /readyz answer probes.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/context.hpp"
#include "http/server.hpp"

namespace berth::api {

class Api {
 public:
  explicit Api(ApiServices services) : services_(std::move(services)) {}

  // The http::Handler.
  boost::asio::awaitable<void> handle(http::Exchange& exchange);

 private:
  boost::asio::awaitable<void> dispatch(RequestContext& ctx);
  ApiServices services_;
};

}  // namespace berth::api
