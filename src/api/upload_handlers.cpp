// Blob uploads: POST (start, monolithic, mount), PATCH, PUT, GET status, DELETE.
#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
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

// What fill_buffer read: `size` bytes, and the error that ended the body early, if any (the
// bytes before it still count: they go to the upload so that the client can resume after
// them).
struct Filled {
  std::size_t size = 0;
  http::ErrorCode error;
};

// Reads body bytes into `out`: waits for the first, then goes on while more have already
// arrived, until `out` is full or the body ends (size 0: it had ended). One socket read
// brings what the kernel has, often a few KiB: gathering what is there first means one trip
// to the blocking pool per buffer rather than per read, and a client that pauses still has
// what it sent written at once.
asio::awaitable<Filled> fill_buffer(RequestContext& ctx, std::span<std::byte> out) {
  Filled filled;
  while (filled.size < out.size()) {
    if (filled.size > 0 && ctx.ex.body_bytes_ready() == 0) {
      break;
    }
    auto n = co_await ctx.ex.read_body(out.subspan(filled.size));
    if (!n) {
      filled.error = n.error();
      break;
    }
    if (*n == 0) {
      break;
    }
    filled.size += *n;
  }
  co_return filled;
}

asio::awaitable<Result<void>> append_on_pool(RequestContext& ctx, registry::UploadLease& lease,
                                             std::span<const std::byte> chunk) {
  co_return co_await ctx.blocking([&lease, chunk] { return lease.append(chunk); });
}

// Whether an upload error is final for the upload: it would pass uploads.max_size or the
// project's quota, so no request can finish it. The caller discards the upload.
bool past_bounds(const core::Error& error) {
  return error.code == ErrorCode::kTooLarge || error.is(core::ErrorReason::kQuotaExceeded);
}

asio::awaitable<void> discard(RequestContext& ctx, registry::UploadLease& lease) {
  co_await ctx.blocking([&] { ctx.registry().abandon_upload(std::move(lease)); });
}

// A write failed (disk full, I/O error): the upload gives back what this request wrote, at
// once, rather than holding it until it is purged. A refusal past its bounds wrote nothing.
asio::awaitable<Result<std::uint64_t>> write_failed(RequestContext& ctx,
                                                    registry::UploadLease& lease,
                                                    core::Error error) {
  if (!past_bounds(error)) {
    auto rolled_back = co_await ctx.blocking([&lease] { return lease.roll_back(); });
    if (!rolled_back) {
      spdlog::warn("request {}: cutting upload {} back after a failed write failed too: {}",
                   ctx.ex.request_id(), lease.id().str(), rolled_back.error().message);
    }
  }
  co_return std::unexpected(std::move(error));
}

// Streams the request body into the upload. Returns the bytes received. Two buffers: while
// the blocking pool writes and hashes one, the next is read from the network, so the socket,
// the disk and the hash work at the same time.
asio::awaitable<Result<std::uint64_t>> receive_into(RequestContext& ctx,
                                                    registry::UploadLease& lease) {
  using namespace boost::asio::experimental::awaitable_operators;
  ctx.ex.set_body_limit(std::nullopt);
  const std::size_t piece = ctx.options().upload_buffer_bytes;
  std::vector<std::byte> buffers[2] = {std::vector<std::byte>(piece),
                                       std::vector<std::byte>(piece)};
  std::uint64_t received = 0;
  std::size_t current = 0;
  Filled ready = co_await fill_buffer(ctx, buffers[0]);
  while (ready.size > 0) {
    const auto chunk = std::span<const std::byte>(buffers[current].data(), ready.size);
    if (ready.error) {
      // The body broke off: keep what arrived, then report.
      auto appended = co_await append_on_pool(ctx, lease, chunk);
      if (!appended) {
        co_return co_await write_failed(ctx, lease, appended.error());
      }
      received += ready.size;
      break;
    }
    auto [appended, next] =
        co_await (append_on_pool(ctx, lease, chunk) && fill_buffer(ctx, buffers[1 - current]));
    if (!appended) {
      co_return co_await write_failed(ctx, lease, appended.error());
    }
    received += ready.size;
    current = 1 - current;
    ready = next;
  }
  if (ready.error) {
    co_return core::fail(ErrorCode::kBlobUploadInvalid,
                         "reading the request body failed: " + ready.error.message());
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
  auto blob = co_await ctx.blocking_while_collected(
      [&] { return ctx.registry().try_finish_upload(lease, claimed); });
  if (lease.held()) {
    // Still refused when the wait ran out: the published upload goes, the client pushes again.
    co_await ctx.blocking([&] { ctx.registry().abandon_upload(std::move(lease)); });
  }
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
  // With the size announced, a push too large, over quota or onto a full disk is refused
  // before any byte is read.
  if (auto length = ctx.ex.content_length()) {
    auto admitted = co_await ctx.blocking(
        [&] { return ctx.registry().admit_upload(*ctx.repo, *claimed, *length); });
    if (!admitted) {
      co_return co_await ctx.fail(admitted.error());
    }
  }
  auto lease = co_await ctx.blocking(
      [&] { return ctx.registry().start_single_request_upload(*ctx.repo, *claimed); });
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

// Checks a chunk's Content-Range and, when its length is announced, that the upload may grow
// by it; answers and returns false if not (an upload past its bounds is discarded).
asio::awaitable<bool> chunk_admitted(RequestContext& ctx, registry::UploadLease& lease,
                                     const core::UploadId& id) {
  if (auto in_order = check_content_range(ctx, lease.size()); !in_order) {
    const auto size = lease.size();
    lease.release();
    co_await fail_upload_range(ctx, in_order.error(), id, size);
    co_return false;
  }
  if (auto length = ctx.ex.content_length()) {
    if (auto admitted = lease.admit(*length); !admitted) {
      co_await discard(ctx, lease);
      co_await ctx.fail(admitted.error());
      co_return false;
    }
  }
  co_return true;
}

// Takes the upload for this request. Its hash state comes from its record, wherever the last
// request went; the log says when stored bytes had to be read back instead (a request cut off
// before its progress was recorded, or a state saved in a format this build does not read).
asio::awaitable<Result<registry::UploadLease>> open_upload(RequestContext& ctx,
                                                           const core::UploadId& id) {
  auto lease = co_await ctx.blocking([&] { return ctx.registry().open_upload(*ctx.repo, id); });
  if (lease && lease->rehashed_bytes() != 0) {
    spdlog::info("request {}: upload {}: read back {} stored bytes to resume its hash",
                 ctx.ex.request_id(), id.str(), lease->rehashed_bytes());
  }
  co_return lease;
}

asio::awaitable<void> patch_upload(RequestContext& ctx, const core::UploadId& id) {
  auto lease = co_await open_upload(ctx, id);
  if (!lease) {
    co_return co_await ctx.fail(lease.error());
  }
  if (!co_await chunk_admitted(ctx, *lease, id)) {
    co_return;
  }
  auto received = co_await receive_into(ctx, *lease);
  if (!received && past_bounds(received.error())) {
    co_await discard(ctx, *lease);
    co_return co_await ctx.fail(received.error());
  }
  // Whatever arrived stays (a client cut off mid-chunk can ask for the status and resume);
  // what a failed write left was rolled back to what the client was told.
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
  auto lease = co_await open_upload(ctx, id);
  if (!lease) {
    co_return co_await ctx.fail(lease.error());
  }
  if (ctx.ex.has_body()) {
    if (!co_await chunk_admitted(ctx, *lease, id)) {
      co_return;
    }
    auto received = co_await receive_into(ctx, *lease);
    if (!received && past_bounds(received.error())) {
      co_await discard(ctx, *lease);
      co_return co_await ctx.fail(received.error());
    }
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
      // Named before the co_await, as in get_manifest (GCC 12's double destruction).
      auto mount = [&] {
        return ctx.registry().mount_blob(*ctx.repo, *digest, *source,
                                         [&ctx] { return ctx.event_origin(); });
      };
      auto mounted = co_await ctx.blocking(std::move(mount));
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
