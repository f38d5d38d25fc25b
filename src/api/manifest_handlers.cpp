// /v2/<name>/manifests/<reference>: GET, HEAD, PUT, DELETE.
#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "api/conditional.hpp"
#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/headers.hpp"
#include "api/manifest_delete.hpp"
#include "api/v2_handlers.hpp"
#include "core/range.hpp"
#include "meta/policy_store.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;
using core::Result;

namespace {

std::string quoted_etag(std::string_view s) { return "\"" + std::string(s) + "\""; }

asio::awaitable<void> get_manifest(RequestContext& ctx, const core::Reference& reference) {
  const bool head = ctx.is(bhttp::verb::head);
  auto res = ctx.response(bhttp::status::ok);
  std::optional<meta::ManifestRecord> record;
  if (head) {
    auto stat =
        co_await ctx.lookup([&] { return ctx.registry().stat_manifest(*ctx.repo, reference); });
    if (!stat) {
      co_return co_await ctx.fail(stat.error());
    }
    record = std::move(*stat);
    res.content_length(record->size);
  } else {
    // Named before the co_await: GCC 12 destroys a closure with a string in it twice when it
    // is a temporary inside the co_await expression (see http/blocking_pool.hpp). The origin
    // is built only if anyone wants the pull's event (on the pool thread; the request waits).
    const registry::EventOriginFn origin = [&ctx] { return ctx.event_origin(); };
    // Bytes in the manifest cache are answered from the lookup pool, like a HEAD; the others
    // come from the blob store, an S3 GET in a scale-out deployment, which must not hold a
    // lookup thread, so they are read on the request pool.
    auto cached_fetch = [&] {
      return ctx.registry().get_cached_manifest(*ctx.repo, reference, origin);
    };
    auto cached = co_await ctx.lookup(std::move(cached_fetch));
    if (!cached) {
      co_return co_await ctx.fail(cached.error());
    }
    if (!*cached) {
      auto fetch = [&] { return ctx.registry().get_manifest(*ctx.repo, reference, origin); };
      auto content = co_await ctx.blocking(std::move(fetch));
      if (!content) {
        co_return co_await ctx.fail(content.error());
      }
      cached->emplace(*std::move(content));
    }
    record = std::move((*cached)->record);
    res.body() = *(*cached)->bytes;
  }
  const auto digest = record->digest.str();
  res.set(bhttp::field::content_type, record->media_type);
  res.set(kContentDigestHeader, digest);
  res.set(bhttp::field::etag, quoted_etag(digest));
  if (if_none_match(ctx.ex.request()[bhttp::field::if_none_match], quoted_etag(digest))) {
    auto not_modified = ctx.response(bhttp::status::not_modified);
    not_modified.set(kContentDigestHeader, digest);
    not_modified.set(bhttp::field::etag, quoted_etag(digest));
    co_return co_await ctx.send(std::move(not_modified));
  }
  co_await ctx.send(std::move(res));
}

asio::awaitable<void> put_manifest(RequestContext& ctx, const core::Reference& reference) {
  std::vector<core::Tag> extra_tags;
  for (const auto& text : ctx.route.params("tag")) {
    auto tag = core::Tag::parse(text);
    if (!tag) {
      co_return co_await ctx.fail(tag.error());
    }
    extra_tags.push_back(std::move(*tag));
  }
  const auto limit = ctx.options().max_manifest_bytes;
  auto declared = ctx.ex.content_length();
  if (declared && *declared > limit) {
    co_return co_await ctx.fail(ErrorCode::kTooLarge,
                                "manifest is larger than " + std::to_string(limit) + " bytes");
  }
  ctx.ex.set_body_limit(limit);
  auto body = co_await ctx.ex.read_body_string(limit);
  if (!body) {
    if (body.error() == bhttp::error::body_limit) {
      co_return co_await ctx.fail(ErrorCode::kTooLarge,
                                  "manifest is larger than " + std::to_string(limit) + " bytes");
    }
    co_return co_await ctx.fail(ErrorCode::kManifestInvalid,
                                "reading the manifest failed: " + body.error().message());
  }
  std::string content_type(ctx.ex.request()[bhttp::field::content_type]);
  // Built only if anyone wants the push's events.
  const registry::EventOriginFn origin = [&ctx] { return ctx.event_origin(); };
  auto put = co_await ctx.blocking_while_collected([&] {
    return ctx.registry().put_manifest(*ctx.repo, reference, *body, content_type, extra_tags,
                                       origin);
  });
  if (!put) {
    co_return co_await ctx.fail(put.error());
  }
  if (reference.is_tag()) {
    ctx.pushed_tags.push_back(reference.tag());
  }
  ctx.pushed_tags.insert(ctx.pushed_tags.end(), extra_tags.begin(), extra_tags.end());
  auto res = ctx.response(bhttp::status::created);
  res.set(bhttp::field::location, "/v2/" + ctx.repo->str() + "/manifests/" + put->digest.str());
  res.set(kContentDigestHeader, put->digest.str());
  if (put->subject) {
    res.set(kSubjectHeader, put->subject->str());
  }
  co_await ctx.send(std::move(res));
}

asio::awaitable<void> delete_manifest(RequestContext& ctx, const core::Reference& reference) {
  auto deleted =
      co_await ctx.blocking([&] { return delete_manifest_checked(ctx, *ctx.repo, reference); });
  if (!deleted) {
    co_return co_await ctx.fail(deleted.error());
  }
  co_await ctx.send(ctx.response(bhttp::status::accepted));
}

}  // namespace

core::Result<core::Reference> manifest_reference(const RequestContext& ctx) {
  auto reference = core::Reference::parse(ctx.route.argument);
  if (!reference && reference.error().code == ErrorCode::kTagInvalid && !ctx.is(bhttp::verb::put)) {
    return core::fail(ErrorCode::kManifestUnknown,
                      "manifest unknown: no manifest can be named by an invalid tag",
                      boost::json::serialize(boost::json::value(ctx.route.argument)));
  }
  return reference;
}

asio::awaitable<void> serve_manifest(RequestContext& ctx) {
  auto reference = manifest_reference(ctx);
  if (!reference) {
    co_return co_await ctx.fail(reference.error());
  }
  switch (ctx.ex.request().method()) {
    case bhttp::verb::get:
    case bhttp::verb::head:
      co_return co_await get_manifest(ctx, *reference);
    case bhttp::verb::put:
      co_return co_await put_manifest(ctx, *reference);
    case bhttp::verb::delete_:
      co_return co_await delete_manifest(ctx, *reference);
    default:
      co_return co_await ctx.method_not_allowed();
  }
}

}  // namespace berth::api
