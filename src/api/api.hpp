// The HTTP face of Berth: routes every request to its handler. /v2/... goes to the registry
// (the OCI Distribution endpoints), /healthz and /readyz answer probes. Later: /token and
// /api/v1.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "registry/registry.hpp"

namespace berth::api {

struct ApiOptions {
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  // Size of each read of a blob upload body; one such buffer per uploading request.
  std::size_t upload_buffer_bytes = 256 * 1024;
};

class Api {
 public:
  // `ready` answers /readyz (e.g. "the database answers"); it runs on the blocking pool.
  Api(registry::Registry& registry, http::BlockingPool& pool, ApiOptions options,
      std::function<bool()> ready);

  // The http::Handler.
  boost::asio::awaitable<void> handle(http::Exchange& exchange);

 private:
  class Request;
  registry::Registry& registry_;
  http::BlockingPool& pool_;
  ApiOptions options_;
  std::function<bool()> ready_;
};

}  // namespace berth::api
