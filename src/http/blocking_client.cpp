// The blocking client of blocking_client.hpp: each connection owns an io_context, and every step
// is an async operation under a tcp_stream deadline that the calling thread runs to completion.
#include "http/blocking_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <deque>
#include <mutex>

#include "http/stream.hpp"

namespace berth::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Headers of an S3 answer are small; this bounds a misbehaving server.
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kReadBufferBytes = 256 * 1024;

std::unexpected<TransportError> transport_error(std::string_view step, const ClientTarget& target,
                                                const error_code& code) {
  std::string message(step);
  message.append(" ").append(target.host).append(":").append(target.port).append(": ");
  message.append(code == beast::error::timeout ? std::string("timed out") : code.message());
  return std::unexpected(TransportError{code, std::move(message)});
}

bool closed_by_peer(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

// One connection and the io_context its operations run on.
class ClientConnection {
 public:
  explicit ClientConnection(asio::ssl::context* tls)
      : stream_(tls != nullptr ? PlainOrTlsStream(io_.get_executor(), *tls)
                               : PlainOrTlsStream(io_.get_executor())) {
    // Beast reads as much as the buffer has room for: without this, 512 bytes a system call.
    buffer_.reserve(kReadBufferBytes);
  }

  // Runs one async operation to completion on this thread, under a deadline. `start` gets the
  // completion handler; the handler's error is returned.
  template <class Start>
  error_code run(std::chrono::milliseconds timeout, Start&& start) {
    error_code result = asio::error::would_block;
    stream_.tcp().expires_after(timeout);
    start([&result](error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    stream_.tcp().expires_never();
    return result;
  }

  PlainOrTlsStream& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buffer_; }
  Clock::time_point idle_since;
  bool reused = false;

 private:
  asio::io_context io_{1};
  PlainOrTlsStream stream_;
  beast::flat_buffer buffer_;
};

struct BlockingClient::Impl {
  ClientTarget target;
  BlockingClientOptions options;
  std::shared_ptr<asio::ssl::context> tls;

  std::mutex mutex;  // guards idle
  std::deque<std::unique_ptr<ClientConnection>> idle;

  std::unique_ptr<ClientConnection> take_idle() {
    std::lock_guard lock(mutex);
    const auto now = Clock::now();
    while (!idle.empty()) {
      auto connection = std::move(idle.back());
      idle.pop_back();
      if (now - connection->idle_since < options.idle_ttl) {
        connection->reused = true;
        return connection;
      }
    }
    return nullptr;
  }

  void give_back(std::unique_ptr<ClientConnection> connection) {
    connection->idle_since = Clock::now();
    std::lock_guard lock(mutex);
    if (idle.size() < options.max_idle) {
      idle.push_back(std::move(connection));
    }
  }

  ClientResult<std::unique_ptr<ClientConnection>> connect() {
    auto connection = std::make_unique<ClientConnection>(tls.get());
    error_code ec;
    tcp::resolver resolver(connection->stream().get_executor());
    auto endpoints = resolver.resolve(target.host, target.port, ec);
    if (ec) {
      return transport_error("resolve", target, ec);
    }
    ec = connection->run(options.connect_timeout, [&](auto handler) {
      connection->stream().tcp().async_connect(
          endpoints,
          [handler = std::move(handler)](error_code e, const auto&) mutable { handler(e); });
    });
    if (ec) {
      return transport_error("connect", target, ec);
    }
    connection->stream().tcp().socket().set_option(tcp::no_delay(true), ec);
    if (auto* tls_stream = connection->stream().tls()) {
      if (SSL_set_tlsext_host_name(tls_stream->native_handle(), target.host.c_str()) != 1) {
        return transport_error("TLS to", target, asio::error::invalid_argument);
      }
      tls_stream->set_verify_callback(asio::ssl::host_name_verification(target.host));
      ec = connection->run(options.connect_timeout, [&](auto handler) {
        tls_stream->async_handshake(asio::ssl::stream_base::client, std::move(handler));
      });
      if (ec) {
        return transport_error("TLS handshake with", target, ec);
      }
    }
    return connection;
  }
};

struct ClientResponse::State {
  std::shared_ptr<BlockingClient::Impl> client;
  std::unique_ptr<ClientConnection> connection;
  bhttp::response_parser<bhttp::buffer_body> parser;
  bool failed = false;
};

ClientResponse::ClientResponse(std::unique_ptr<State> state) : state_(std::move(state)) {}
ClientResponse::ClientResponse(ClientResponse&&) noexcept = default;
ClientResponse& ClientResponse::operator=(ClientResponse&&) noexcept = default;

ClientResponse::~ClientResponse() {
  if (state_ && state_->connection && !state_->failed && state_->parser.is_done() &&
      state_->parser.keep_alive()) {
    state_->client->give_back(std::move(state_->connection));
  }
}

unsigned ClientResponse::status() const { return state_->parser.get().result_int(); }

std::string_view ClientResponse::header(std::string_view name) const {
  const auto& fields = state_->parser.get();
  auto it = fields.find(name);
  if (it == fields.end()) {
    return {};
  }
  return std::string_view(it->value().data(), it->value().size());
}

std::optional<std::uint64_t> ClientResponse::content_length() const {
  auto length = state_->parser.content_length();
  if (!length) {
    return std::nullopt;
  }
  return *length;
}

ClientResult<std::size_t> ClientResponse::read(std::span<std::byte> out) {
  State& s = *state_;
  if (s.parser.is_done() || out.empty()) {
    return 0;
  }
  if (s.failed) {
    return std::unexpected(TransportError{asio::error::broken_pipe, "response already failed"});
  }
  auto& body = s.parser.get().body();
  body.data = out.data();
  body.size = out.size();
  error_code ec = s.connection->run(s.client->options.io_timeout, [&](auto handler) {
    bhttp::async_read(s.connection->stream(), s.connection->buffer(), s.parser, std::move(handler));
  });
  // need_buffer: `out` is full and the body goes on.
  if (ec && ec != bhttp::error::need_buffer) {
    s.failed = true;
    return transport_error("read from", s.client->target, ec);
  }
  return out.size() - body.size;
}

ClientResult<std::string> ClientResponse::read_all(std::size_t limit) {
  std::string out;
  std::byte buffer[16 * 1024];
  while (true) {
    auto n = read(buffer);
    if (!n) {
      return std::unexpected(n.error());
    }
    if (*n == 0) {
      return out;
    }
    if (out.size() + *n > limit) {
      state_->failed = true;
      return std::unexpected(TransportError{bhttp::error::body_limit,
                                            "response body above " + std::to_string(limit) +
                                                " bytes from " + state_->client->target.host});
    }
    out.append(reinterpret_cast<const char*>(buffer), *n);
  }
}

BlockingClient::BlockingClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlockingClient::~BlockingClient() = default;

const ClientTarget& BlockingClient::target() const { return impl_->target; }

std::expected<std::shared_ptr<BlockingClient>, std::string> BlockingClient::create(
    ClientTarget target, BlockingClientOptions options) {
  auto impl = std::make_shared<Impl>();
  impl->target = std::move(target);
  impl->options = std::move(options);
  if (impl->target.tls) {
    auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    tls->set_verify_mode(asio::ssl::verify_peer);
    error_code ec;
    if (impl->options.ca_file.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->load_verify_file(impl->options.ca_file.string(), ec);
    }
    if (ec) {
      return std::unexpected("cannot load the CAs " +
                             (impl->options.ca_file.empty() ? std::string("of the system")
                                                            : impl->options.ca_file.string()) +
                             ": " + ec.message());
    }
    impl->tls = std::move(tls);
  }
  return std::shared_ptr<BlockingClient>(new BlockingClient(std::move(impl)));
}

ClientResult<ClientResponse> BlockingClient::send(const ClientRequest& request) {
  Impl& impl = *impl_;
  for (int attempt = 0;; ++attempt) {
    auto connection = attempt == 0 ? impl.take_idle() : nullptr;
    if (!connection) {
      auto fresh = impl.connect();
      if (!fresh) {
        return std::unexpected(fresh.error());
      }
      connection = std::move(*fresh);
    }
    const bool reused = connection->reused;

    bhttp::request<bhttp::empty_body> header{request.method, request.target, 11};
    header.set(bhttp::field::host, impl.target.host + ":" + impl.target.port);
    for (const auto& [name, value] : request.headers) {
      header.set(name, value);
    }
    std::uint64_t length = 0;
    std::vector<asio::const_buffer> body;
    for (auto piece : request.body) {
      length += piece.size();
      body.emplace_back(piece.data(), piece.size());
    }
    if (length > 0 || request.method == bhttp::verb::put || request.method == bhttp::verb::post) {
      header.content_length(length);
    }
    header.keep_alive(true);
    bhttp::request_serializer<bhttp::empty_body> serializer(header);
    error_code ec = connection->run(impl.options.io_timeout, [&](auto handler) {
      bhttp::async_write_header(connection->stream(), serializer, std::move(handler));
    });
    if (!ec && length > 0) {
      ec = connection->run(impl.options.io_timeout, [&](auto handler) {
        asio::async_write(connection->stream(), body, std::move(handler));
      });
    }
    auto state = std::make_unique<ClientResponse::State>();
    state->client = impl_;
    state->parser.header_limit(kMaxHeaderBytes);
    state->parser.body_limit(boost::none);
    if (request.method == bhttp::verb::head) {
      state->parser.skip(true);
    }
    if (!ec) {
      ec = connection->run(impl.options.io_timeout, [&](auto handler) {
        bhttp::async_read_header(connection->stream(), connection->buffer(), state->parser,
                                 std::move(handler));
      });
    }
    if (ec) {
      // A reused connection the server closed meanwhile: it never saw this request.
      if (reused && attempt == 0 && closed_by_peer(ec) && connection->buffer().size() == 0) {
        continue;
      }
      return transport_error("request to", impl.target, ec);
    }
    state->connection = std::move(connection);
    return ClientResponse(std::move(state));
  }
}

}  // namespace berth::http
