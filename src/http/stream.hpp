// A TCP byte stream that is either plain or TLS, chosen when the connection is made, so that
// the HTTP code above it (parsing, bodies, deadlines) exists once for both listeners.
//
// The TLS stream sits on a beast::tcp_stream, so deadlines are set the same way for both
// (tcp().expires_after) and a TLS operation that runs out of time fails with
// beast::error::timeout like a plain one. It models Asio's AsyncReadStream and
// AsyncWriteStream, which is all that Beast's HTTP algorithms need.
//
// Not thread-safe, like the streams it wraps.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <utility>
#include <variant>

namespace berth::http {

class PlainOrTlsStream {
 public:
  using Tcp = boost::beast::tcp_stream;
  using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  using executor_type = Tcp::executor_type;

  // A plain stream; `arg` builds the tcp_stream (a connected socket, or an executor or
  // io_context to connect later).
  template <class Arg>
  explicit PlainOrTlsStream(Arg&& arg) : stream_(std::in_place_type<Tcp>, std::forward<Arg>(arg)) {}
  // A TLS stream that has not shaken hands yet. The SSL object made from `context` holds its
  // own reference to the OpenSSL context; the caller still keeps `context` alive as long as
  // this stream, since Asio's wrapper owns the callbacks installed on it.
  template <class Arg>
  PlainOrTlsStream(Arg&& arg, boost::asio::ssl::context& context)
      : stream_(std::in_place_type<Tls>, std::forward<Arg>(arg), context) {}

  bool is_tls() const { return std::holds_alternative<Tls>(stream_); }
  // The TLS layer, or nullptr on a plain stream.
  Tls* tls() { return std::get_if<Tls>(&stream_); }
  // The TCP layer: deadlines, the socket, cancel and close.
  Tcp& tcp() {
    if (Tls* tls_stream = tls()) {
      return tls_stream->next_layer();
    }
    return std::get<Tcp>(stream_);
  }

  executor_type get_executor() { return tcp().get_executor(); }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& out) {
          std::visit([&](auto& stream) { stream.async_read_some(out, std::move(handler)); },
                     stream_);
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& in) {
          std::visit([&](auto& stream) { stream.async_write_some(in, std::move(handler)); },
                     stream_);
        },
        token, buffers);
  }

 private:
  std::variant<Tcp, Tls> stream_;
};

}  // namespace berth::http
