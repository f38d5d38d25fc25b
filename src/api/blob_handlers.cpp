// /v2/<name>/blobs/<digest>: GET (whole or a Range, with sendfile), HEAD, DELETE.
#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "api/conditional.hpp"
#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/headers.hpp"
#include "api/v2_handlers.hpp"
#include "core/range.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;
using core::Result;

namespace {

std::string quoted_etag(std::string_view s) { return "\"" + std::string(s) + "\""; }

asio::awaitable<void> get_blob(RequestContext& ctx, const core::Digest& digest) {
  http::ResponseHeader header;
  header.version(ctx.ex.request().version());
  if (!ctx.keep_alive()) {
    header.set(bhttp::field::connection, "close");
  }
  header.set(kApiVersionHeader, kApiVersion);
  header.set(kContentDigestHeader, digest.str());
  header.set(bhttp::field::etag, quoted_etag(digest.str()));
  header.set(bhttp::field::accept_ranges, "bytes");
  header.set(bhttp::field::content_type, kOctetStream);
  // Content addressed: the bytes behind this URL never change.
  header.set(bhttp::field::cache_control, "max-age=31536000");

  if (if_none_match(ctx.ex.request()[bhttp::field::if_none_match], quoted_etag(digest.str()))) {
    auto stat = co_await ctx.blocking([&] { return ctx.registry().stat_blob(*ctx.repo, digest); });
    if (!stat) {
      co_return co_await ctx.fail(stat.error());
    }
    auto not_modified = ctx.response(bhttp::status::not_modified);
    not_modified.set(kContentDigestHeader, digest.str());
    not_modified.set(bhttp::field::etag, quoted_etag(digest.str()));
    co_return co_await ctx.send(std::move(not_modified));
  }
  if (ctx.is(bhttp::verb::head)) {
    auto stat = co_await ctx.blocking([&] { return ctx.registry().stat_blob(*ctx.repo, digest); });
    if (!stat) {
      co_return co_await ctx.fail(stat.error());
    }
    header.result(bhttp::status::ok);
    co_return co_await ctx.ex.respond_file(std::move(header), -1, 0, stat->size);
  }
  // storage.s3.redirect: the bytes come from S3 itself, through a presigned URL.
  auto url = co_await ctx.blocking([&] { return ctx.registry().blob_url(*ctx.repo, digest); });
  if (!url) {
    co_return co_await ctx.fail(url.error());
  }
  if (*url) {
    auto redirect = ctx.response(bhttp::status::temporary_redirect);
    redirect.set(bhttp::field::location, **url);
    redirect.set(kContentDigestHeader, digest.str());
    co_return co_await ctx.send(std::move(redirect));
  }
  auto reader = co_await ctx.blocking([&] { return ctx.registry().open_blob(*ctx.repo, digest); });
  if (!reader) {
    co_return co_await ctx.fail(reader.error());
  }
  std::shared_ptr<storage::BlobReader> source(std::move(*reader));
  const std::uint64_t size = source->size();
  auto range = core::parse_range(ctx.ex.request()[bhttp::field::range], size);
  if (!range) {
    auto res = error_response(range.error(), ctx.ex.request().version(), ctx.keep_alive());
    res.set(bhttp::field::content_range, "bytes */" + std::to_string(size));
    co_return co_await ctx.ex.respond(std::move(res));
  }
  std::uint64_t offset = 0;
  std::uint64_t length = size;
  if (range->range) {
    offset = range->range->first;
    length = range->range->length();
    header.result(bhttp::status::partial_content);
    header.set(bhttp::field::content_range, "bytes " + std::to_string(range->range->first) + "-" +
                                                std::to_string(range->range->last) + "/" +
                                                std::to_string(size));
  } else {
    header.result(bhttp::status::ok);
  }
  if (int fd = source->native_fd(); fd >= 0) {
    co_return co_await ctx.ex.respond_file(std::move(header), fd, offset, length);
  }
  http::Exchange::ReadAt read_at =
      [source](std::uint64_t at, std::span<std::byte> out) -> http::IoResult<std::size_t> {
    auto n = source->read_at(at, out);
    if (!n) {
      return std::unexpected(make_error_code(boost::system::errc::io_error));
    }
    return *n;
  };
  // Named first: GCC 12 destroys the captures of a lambda written inside a co_await
  // expression twice.
  co_await ctx.ex.respond_stream(std::move(header), offset, length, std::move(read_at));
}

}  // namespace

asio::awaitable<void> serve_blob(RequestContext& ctx) {
  auto digest = core::Digest::parse(ctx.route.argument);
  if (!digest) {
    co_return co_await ctx.fail(digest.error());
  }
  switch (ctx.ex.request().method()) {
    case bhttp::verb::get:
    case bhttp::verb::head:
      co_return co_await get_blob(ctx, *digest);
    case bhttp::verb::delete_: {
      auto deleted =
          co_await ctx.blocking([&] { return ctx.registry().delete_blob(*ctx.repo, *digest); });
      if (!deleted) {
        co_return co_await ctx.fail(deleted.error());
      }
      co_return co_await ctx.send(ctx.response(bhttp::status::accepted));
    }
    default:
      co_return co_await ctx.method_not_allowed();
  }
}

}  // namespace berth::api
