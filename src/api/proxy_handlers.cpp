// /v2/<project>/<name>/manifests/<reference> and /blobs/<digest> of proxy projects: answered
// from the pull-through cache (proxy/proxy.hpp), which fetches from the upstream on a miss.
// Every answer from the cache says how it was served in Berth-Cache: hit, miss or stale; a
// stale one also carries the HTTP "Warning: 110" header. A tag pushed into an overlay project
// is not the cache's and says nothing.
#include <spdlog/spdlog.h>

#include <string>

#include "api/conditional.hpp"
#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/headers.hpp"
#include "api/v2_handlers.hpp"
#include "proxy/proxy.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;

namespace {

constexpr std::string_view kCacheHeader = "Berth-Cache";

std::string etag_of(std::string_view digest) { return "\"" + std::string(digest) + "\""; }

// The upstream's troubles are not secrets of this machine: the client sees them (which
// upstream, what went wrong), unlike ctx.fail's hidden UNAVAILABLE details.
asio::awaitable<void> fail_upstream(RequestContext& ctx, const core::Error& error) {
  if (error.code != ErrorCode::kUnavailable) {
    co_return co_await ctx.fail(error);
  }
  spdlog::warn("request {} {} {}: {}", ctx.ex.request_id(), ctx.ex.request().method_string(),
               ctx.ex.request().target(), error.message);
  co_await ctx.ex.respond(error_response(error, ctx.ex.request().version(), ctx.keep_alive()));
}

}  // namespace

asio::awaitable<void> serve_proxy_manifest(RequestContext& ctx, proxy::ProxyProject& proxy) {
  auto reference = manifest_reference(ctx);
  if (!reference) {
    co_return co_await ctx.fail(reference.error());
  }
  const bool head = ctx.is(bhttp::verb::head);
  auto answer = co_await proxy.manifest(*ctx.repo, *reference, head);
  if (!answer) {
    co_return co_await fail_upstream(ctx, answer.error());
  }
  const std::string digest = answer->record.digest.str();
  const std::string_view cache = answer->stale ? "stale" : (answer->fetched ? "miss" : "hit");
  if (answer->stale) {
    spdlog::warn("request {}: served {}@{} stale from the cache of proxy project '{}'",
                 ctx.ex.request_id(), ctx.repo->str(), reference->str(), proxy.options().project);
  }
  if (if_none_match(ctx.ex.request()[bhttp::field::if_none_match], etag_of(digest))) {
    auto not_modified = ctx.response(bhttp::status::not_modified);
    not_modified.set(kContentDigestHeader, digest);
    not_modified.set(bhttp::field::etag, etag_of(digest));
    if (!answer->local) {
      not_modified.set(kCacheHeader, cache);
    }
    co_return co_await ctx.send(std::move(not_modified));
  }
  auto res = ctx.response(bhttp::status::ok);
  res.set(bhttp::field::content_type, answer->record.media_type);
  res.set(kContentDigestHeader, digest);
  res.set(bhttp::field::etag, etag_of(digest));
  if (!answer->local) {
    res.set(kCacheHeader, cache);
  }
  if (answer->stale) {
    res.set(bhttp::field::warning, "110 berth \"Response is Stale\"");
  }
  if (ctx.is(bhttp::verb::head)) {
    res.content_length(answer->record.size);
  } else {
    res.body() = *answer->bytes;
  }
  co_await ctx.send(std::move(res));
}

asio::awaitable<void> serve_proxy_blob(RequestContext& ctx, proxy::ProxyProject& proxy) {
  auto digest = core::Digest::parse(ctx.route.argument);
  if (!digest) {
    co_return co_await ctx.fail(digest.error());
  }
  if (!ctx.is(bhttp::verb::get) && !ctx.is(bhttp::verb::head)) {
    co_return co_await serve_blob(ctx);
  }
  const bool head = ctx.is(bhttp::verb::head);
  auto answer = co_await proxy.blob(*ctx.repo, *digest, head);
  if (!answer) {
    co_return co_await fail_upstream(ctx, answer.error());
  }
  if (!answer->stream && !answer->head_size) {
    // In the repository now: the ordinary path (ranges, sendfile, conditional requests).
    co_return co_await serve_blob(ctx);
  }
  http::ResponseHeader header;
  header.result(bhttp::status::ok);
  header.version(ctx.ex.request().version());
  if (!ctx.keep_alive()) {
    header.set(bhttp::field::connection, "close");
  }
  header.set(kApiVersionHeader, kApiVersion);
  header.set(kContentDigestHeader, digest->str());
  header.set(bhttp::field::etag, etag_of(digest->str()));
  header.set(bhttp::field::content_type, kOctetStream);
  header.set(kCacheHeader, "miss");
  if (answer->head_size) {
    co_return co_await ctx.ex.respond_file(std::move(header), -1, 0, *answer->head_size);
  }
  std::shared_ptr<proxy::BlobStream> stream = answer->stream;
  http::Exchange::NextPiece next = [stream](std::span<std::byte> out) { return stream->next(out); };
  const std::uint64_t size = stream->size();
  co_await ctx.ex.respond_async(std::move(header), size, std::move(next));
  // The fetch goes on without its clients; a draining server waits for it here.
  co_await stream->finish();
}

}  // namespace berth::api
