// Blob uploads: POST (start, monolithic, mount), PATCH, PUT, GET status, DELETE.
#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "api/auth_gate.hpp"
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

std::string upload_range(std::uint64_t size) {
  // As Distribution does, an empty upload reports "0-0".
  return "0-" + std::to_string(size == 0 ? 0 : size - 1);
}

std::string blob_location(RequestContext& ctx, const core::Digest& digest) {
  return "/v2/" + ctx.repo->str() + "/blobs/" + digest.str();
}

std::string upload_location(RequestContext& ctx, const core::UploadId& id) {
  return "/v2/" + ctx.repo->str() + "/blobs/uploads/" + id.str();
}

// Streams the request body into the upload. Returns the bytes received.
asio::awaitable<Result<std::uint64_t>> receive_into(RequestContext& ctx,
                                                    registry::UploadLease& lease) {
  ctx.ex.set_body_limit(std::nullopt);
  std::vector<std::byte> buffer(ctx.options().upload_buffer_bytes);
  std::uint64_t received = 0;
  while (true) {
    auto n = co_await ctx.ex.read_body(buffer);
    if (!n) {
      co_return core::fail(ErrorCode::kBlobUploadInvalid,
                           "reading the request body failed: " + n.error().message());
    }
    if (*n == 0) {
      break;
    }
    auto chunk = std::span<const std::byte>(buffer.data(), *n);
    auto appended = co_await ctx.blocking([&lease, chunk] { return lease.append(chunk); });
    if (!appended) {
      co_return std::unexpected(appended.error());
    }
    received += *n;
  }
  co_return received;
}

// Checks a Content-Range against the upload's current size. 416 when it does not start
// where the upload ends.
Result<void> check_content_range(RequestContext& ctx, std::uint64_t upload_size) {
  auto header = ctx.ex.request()[bhttp::field::content_range];
  if (header.empty()) {
    return {};
  }
  auto range = core::parse_content_range(header);
  if (!range) {
    return std::unexpected(range.error());
  }
  if (range->first != upload_size) {
    return core::fail(ErrorCode::kUploadOutOfOrder,
                      "chunk starts at " + std::to_string(range->first) + " but the upload has " +
                          std::to_string(upload_size) + " bytes");
  }
  auto length = ctx.ex.content_length();
  if (length && *length != range->length()) {
    return core::fail(ErrorCode::kSizeInvalid,
                      "Content-Range length does not match Content-Length");
  }
  return {};
}

asio::awaitable<void> fail_upload_range(RequestContext& ctx, const core::Error& error,
                                        const core::UploadId& id, std::uint64_t size) {
  auto res = error_response(error, ctx.ex.request().version(), ctx.keep_alive());
  res.set(bhttp::field::location, upload_location(ctx, id));
  res.set(bhttp::field::range, upload_range(size));
  res.set(kUploadUuidHeader, id.str());
  co_await ctx.ex.respond(std::move(res));
}

asio::awaitable<void> finish(RequestContext& ctx, registry::UploadLease lease,
                             const core::Digest& claimed) {
  auto blob = co_await ctx.blocking(
      [&] { return ctx.registry().finish_upload(std::move(lease), claimed); });
  if (!blob) {
    co_return co_await ctx.fail(blob.error());
  }
  auto res = ctx.response(bhttp::status::created);
  res.set(bhttp::field::location, blob_location(ctx, blob->digest));
  res.set(kContentDigestHeader, blob->digest.str());
  co_await ctx.send(std::move(res));
}

asio::awaitable<void> single_request_upload(RequestContext& ctx, const std::string& claimed_text) {
  auto claimed = core::Digest::parse(claimed_text);
  if (!claimed) {
    co_return co_await ctx.fail(claimed.error());
  }
  // With the size announced, a push over quota is refused before any byte is read.
  if (auto length = ctx.ex.content_length()) {
    auto admitted = co_await ctx.blocking(
        [&] { return ctx.registry().admit_blob(*ctx.repo, *claimed, *length); });
    if (!admitted) {
      co_return co_await ctx.fail(admitted.error());
    }
  }
  auto lease =
      co_await ctx.blocking([&] { return ctx.registry().start_single_request_upload(*ctx.repo); });
  if (!lease) {
    co_return co_await ctx.fail(lease.error());
  }
  auto received = co_await receive_into(ctx, *lease);
  if (!received) {
    co_await ctx.blocking([&] { ctx.registry().abandon_upload(std::move(*lease)); });
    co_return co_await ctx.fail(received.error());
  }
  co_await finish(ctx, std::move(*lease), *claimed);
}

asio::awaitable<void> patch_upload(RequestContext& ctx, const core::UploadId& id) {
  auto lease = co_await ctx.blocking([&] { return ctx.registry().open_upload(*ctx.repo, id); });
  if (!lease) {
    co_return co_await ctx.fail(lease.error());
  }
  if (auto in_order = check_content_range(ctx, lease->size()); !in_order) {
    const auto size = lease->size();
    lease->release();
    co_return co_await fail_upload_range(ctx, in_order.error(), id, size);
  }
  auto received = co_await receive_into(ctx, *lease);
  // Whatever arrived stays: a client cut off mid-chunk can ask for the status and resume.
  auto saved = co_await ctx.blocking([&] { return ctx.registry().save_upload(*lease); });
  const auto size = lease->size();
  lease->release();
  if (!received) {
    co_return co_await ctx.fail(received.error());
  }
  if (!saved) {
    co_return co_await ctx.fail(saved.error());
  }
  auto res = ctx.response(bhttp::status::accepted);
  res.set(bhttp::field::location, upload_location(ctx, id));
  res.set(bhttp::field::range, upload_range(size));
  res.set(kUploadUuidHeader, id.str());
  co_await ctx.send(std::move(res));
}

asio::awaitable<void> put_upload(RequestContext& ctx, const core::UploadId& id) {
  auto claimed_text = ctx.route.param("digest");
  if (!claimed_text) {
    co_return co_await ctx.fail(ErrorCode::kDigestInvalid,
                                "the closing PUT needs the blob's digest as ?digest=");
  }
  auto claimed = core::Digest::parse(*claimed_text);
  if (!claimed) {
    co_return co_await ctx.fail(claimed.error());
  }
  auto lease = co_await ctx.blocking([&] { return ctx.registry().open_upload(*ctx.repo, id); });
  if (!lease) {
    co_return co_await ctx.fail(lease.error());
  }
  if (ctx.ex.has_body()) {
    if (auto in_order = check_content_range(ctx, lease->size()); !in_order) {
      const auto size = lease->size();
      lease->release();
      co_return co_await fail_upload_range(ctx, in_order.error(), id, size);
    }
    auto received = co_await receive_into(ctx, *lease);
    if (!received) {
      (void)co_await ctx.blocking([&] { return ctx.registry().save_upload(*lease); });
      lease->release();
      co_return co_await ctx.fail(received.error());
    }
  }
  co_await finish(ctx, std::move(*lease), *claimed);
}

}  // namespace

asio::awaitable<void> serve_uploads(RequestContext& ctx) {
  auto mount = ctx.route.param("mount");
  auto from = ctx.route.param("from");
  if (mount) {
    auto digest = core::Digest::parse(*mount);
    if (!digest) {
      co_return co_await ctx.fail(digest.error());
    }
    auto source = from ? core::RepositoryName::parse(*from)
                       : core::Result<core::RepositoryName>(std::unexpected(core::Error{}));
    // Mounting reads the source repository: without pull there, the blob is as good as
    // unknown (no error, so the answer does not tell whether it exists).
    if (source && co_await permitted(ctx, source->str(), auth::Action::kPull)) {
      auto mounted = co_await ctx.blocking(
          [&] { return ctx.registry().mount_blob(*ctx.repo, *digest, *source); });
      if (!mounted) {
        co_return co_await ctx.fail(mounted.error());
      }
      if (*mounted) {
        auto res = ctx.response(bhttp::status::created);
        res.set(bhttp::field::location, blob_location(ctx, (*mounted)->digest));
        res.set(kContentDigestHeader, (*mounted)->digest.str());
        co_return co_await ctx.send(std::move(res));
      }
    }
    // Not mountable: fall through to an ordinary upload, as the spec allows (202).
  }
  if (auto claimed = ctx.route.param("digest")) {
    co_return co_await single_request_upload(ctx, *claimed);
  }
  auto id = co_await ctx.blocking([&] { return ctx.registry().start_upload(*ctx.repo); });
  if (!id) {
    co_return co_await ctx.fail(id.error());
  }
  auto res = ctx.response(bhttp::status::accepted);
  res.set(bhttp::field::location, upload_location(ctx, *id));
  res.set(bhttp::field::range, upload_range(0));
  res.set(kUploadUuidHeader, id->str());
  co_await ctx.send(std::move(res));
}

asio::awaitable<void> serve_upload(RequestContext& ctx) {
  auto id = core::UploadId::parse(ctx.route.argument);
  if (!id) {
    co_return co_await ctx.fail(id.error());
  }
  switch (ctx.ex.request().method()) {
    case bhttp::verb::get: {
      auto size = co_await ctx.blocking([&] { return ctx.registry().upload_size(*ctx.repo, *id); });
      if (!size) {
        co_return co_await ctx.fail(size.error());
      }
      auto res = ctx.response(bhttp::status::no_content);
      res.set(bhttp::field::location, upload_location(ctx, *id));
      res.set(bhttp::field::range, upload_range(*size));
      res.set(kUploadUuidHeader, id->str());
      co_return co_await ctx.send(std::move(res));
    }
    case bhttp::verb::delete_: {
      auto cancelled =
          co_await ctx.blocking([&] { return ctx.registry().cancel_upload(*ctx.repo, *id); });
      if (!cancelled) {
        co_return co_await ctx.fail(cancelled.error());
      }
      co_return co_await ctx.send(ctx.response(bhttp::status::no_content));
    }
    case bhttp::verb::patch:
      co_return co_await patch_upload(ctx, *id);
    case bhttp::verb::put:
      co_return co_await put_upload(ctx, *id);
    default:
      co_return co_await ctx.method_not_allowed();
  }
}

}  // namespace berth::api
