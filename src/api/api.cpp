#include "api/api.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "api/conditional.hpp"
#include "api/errors.hpp"
#include "api/headers.hpp"
#include "api/route.hpp"
#include "core/range.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;
using core::Result;

namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Parses the `n` of a paginated list. Absent: nullopt. Not a number: PAGINATION_NUMBER_INVALID.
Result<std::optional<std::size_t>> parse_page_size(const Route& route) {
  auto text = route.param("n");
  if (!text || text->empty()) {
    return std::optional<std::size_t>();
  }
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size()) {
    return core::fail(ErrorCode::kPaginationInvalid, "n must be a non-negative integer");
  }
  return std::optional<std::size_t>(n);
}

std::string upload_range(std::uint64_t size) {
  // As Distribution does, an empty upload reports "0-0".
  return "0-" + std::to_string(size == 0 ? 0 : size - 1);
}

}  // namespace

// The state of one request while its handler runs.
class Api::Request {
 public:
  Request(Api& api, http::Exchange& exchange, Route route)
      : api_(api), ex_(exchange), route_(std::move(route)) {}

  asio::awaitable<void> dispatch() {
    switch (route_.endpoint) {
      case Endpoint::kHealth:
        co_return co_await respond_text(bhttp::status::ok, "ok\n");
      case Endpoint::kReady: {
        bool ready = co_await blocking([this] { return api_.ready_(); });
        const auto status = ready ? bhttp::status::ok : bhttp::status::service_unavailable;
        std::string body = ready ? "ready\n" : "not ready\n";
        co_return co_await respond_text(status, std::move(body));
      }
      case Endpoint::kNotFound:
        co_return co_await fail(ErrorCode::kNotFound, "no such endpoint");
      case Endpoint::kBase:
        if (!is(bhttp::verb::get) && !is(bhttp::verb::head)) {
          co_return co_await method_not_allowed();
        }
        co_return co_await respond_json(bhttp::status::ok, "{}");
      case Endpoint::kCatalog:
        if (!is(bhttp::verb::get)) {
          co_return co_await method_not_allowed();
        }
        co_return co_await catalog();
      default:
        break;
    }
    auto repo = core::RepositoryName::parse(route_.name);
    if (!repo) {
      co_return co_await fail(repo.error());
    }
    repo_.emplace(std::move(*repo));
    switch (route_.endpoint) {
      case Endpoint::kTags:
        if (!is(bhttp::verb::get)) {
          co_return co_await method_not_allowed();
        }
        co_return co_await tags();
      case Endpoint::kManifest:
        co_return co_await manifest();
      case Endpoint::kReferrers:
        if (!is(bhttp::verb::get)) {
          co_return co_await method_not_allowed();
        }
        co_return co_await referrers();
      case Endpoint::kBlob:
        co_return co_await blob();
      case Endpoint::kUploads:
        if (!is(bhttp::verb::post)) {
          co_return co_await method_not_allowed();
        }
        co_return co_await start_upload();
      case Endpoint::kUpload:
        co_return co_await upload();
      default:
        co_return co_await fail(ErrorCode::kNotFound, "no such endpoint");
    }
  }

 private:
  // ---- plumbing

  bool is(bhttp::verb verb) const { return ex_.request().method() == verb; }

  // Whether the client wants the connection kept open (HTTP/1.1 default, 1.0 on request).
  bool keep_alive() const {
    const auto& req = ex_.request();
    bhttp::token_list connection(req[bhttp::field::connection]);
    auto has = [&](std::string_view token) {
      for (auto item : connection) {
        if (boost::beast::iequals(item, token)) {
          return true;
        }
      }
      return false;
    };
    return req.version() >= 11 ? !has("close") : has("keep-alive");
  }

  template <class Fn>
  asio::awaitable<std::invoke_result_t<Fn>> blocking(Fn fn) {
    co_return co_await http::offload(api_.pool_, std::move(fn));
  }

  http::Response response(bhttp::status status) const {
    http::Response res{status, ex_.request().version()};
    res.keep_alive(keep_alive());
    res.set(kApiVersionHeader, kApiVersion);
    return res;
  }

  asio::awaitable<void> send(http::Response res) { co_await ex_.respond(std::move(res)); }

  asio::awaitable<void> respond_text(bhttp::status status, std::string body) {
    auto res = response(status);
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    co_await send(std::move(res));
  }

  asio::awaitable<void> respond_json(bhttp::status status, std::string body) {
    auto res = response(status);
    res.set(bhttp::field::content_type, kJsonContentType);
    res.body() = std::move(body);
    co_await send(std::move(res));
  }

  asio::awaitable<void> fail(const core::Error& error) {
    if (error.code == ErrorCode::kInternal || error.code == ErrorCode::kUnavailable) {
      // Failures of the machine carry server paths and details for the operator: they go to
      // the log; the client gets the request id to quote.
      spdlog::error("request {} {} {}: {}", ex_.request_id(), ex_.request().method_string(),
                    ex_.request().target(), error.message);
      core::Error shown{error.code,
                        std::string(error.code == ErrorCode::kUnavailable
                                        ? "the registry cannot store data right now"
                                        : "internal error") +
                            "; the server log has details under request id " +
                            std::string(ex_.request_id()),
                        {}};
      co_return co_await ex_.respond(error_response(shown, ex_.request().version(), keep_alive()));
    }
    co_await ex_.respond(error_response(error, ex_.request().version(), keep_alive()));
  }

  asio::awaitable<void> fail(ErrorCode code, std::string message) {
    // A named local, not a braced temporary in the co_await: GCC 12 frees such a temporary's
    // string from inside the coroutine frame (ASan: bad-free; BaseTest.UnknownPaths...).
    const core::Error error{code, std::move(message), {}};
    co_await fail(error);
  }

  asio::awaitable<void> method_not_allowed() {
    co_await fail(ErrorCode::kMethodNotAllowed,
                  std::string(ex_.request().method_string()) + " is not allowed here");
  }

  std::string blob_location(const core::Digest& digest) const {
    return "/v2/" + repo_->str() + "/blobs/" + digest.str();
  }

  std::string upload_location(const core::UploadId& id) const {
    return "/v2/" + repo_->str() + "/blobs/uploads/" + id.str();
  }

  // Streams the request body into the upload. Returns the bytes received.
  asio::awaitable<Result<std::uint64_t>> receive_into(registry::UploadLease& lease) {
    ex_.set_body_limit(std::nullopt);
    std::vector<std::byte> buffer(api_.options_.upload_buffer_bytes);
    std::uint64_t received = 0;
    while (true) {
      auto n = co_await ex_.read_body(buffer);
      if (!n) {
        co_return core::fail(ErrorCode::kBlobUploadInvalid,
                             "reading the request body failed: " + n.error().message());
      }
      if (*n == 0) {
        break;
      }
      auto chunk = std::span<const std::byte>(buffer.data(), *n);
      auto appended = co_await blocking([&lease, chunk] { return lease.append(chunk); });
      if (!appended) {
        co_return std::unexpected(appended.error());
      }
      received += *n;
    }
    co_return received;
  }

  // Checks a Content-Range against the upload's current size. 416 when it does not start
  // where the upload ends.
  Result<void> check_content_range(std::uint64_t upload_size) const {
    auto header = ex_.request()[bhttp::field::content_range];
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
    auto length = ex_.content_length();
    if (length && *length != range->length()) {
      return core::fail(ErrorCode::kSizeInvalid,
                        "Content-Range length does not match Content-Length");
    }
    return {};
  }

  asio::awaitable<void> fail_upload_range(const core::Error& error, const core::UploadId& id,
                                          std::uint64_t size) {
    auto res = error_response(error, ex_.request().version(), keep_alive());
    res.set(bhttp::field::location, upload_location(id));
    res.set(bhttp::field::range, upload_range(size));
    res.set(kUploadUuidHeader, id.str());
    co_await ex_.respond(std::move(res));
  }

  // ---- /v2/_catalog

  asio::awaitable<void> catalog() {
    auto n = parse_page_size(route_);
    if (!n) {
      co_return co_await fail(n.error());
    }
    auto last = route_.param("last").value_or("");
    auto page = co_await blocking([&] { return api_.registry_.catalog(*n, last); });
    if (!page) {
      co_return co_await fail(page.error());
    }
    boost::json::array names;
    for (auto& name : page->names) {
      names.emplace_back(name);
    }
    boost::json::object body;
    body["repositories"] = std::move(names);
    auto res = response(bhttp::status::ok);
    res.set(bhttp::field::content_type, kJsonContentType);
    if (page->next_last) {
      res.set(bhttp::field::link, "</v2/_catalog?n=" + std::to_string(page->names.size()) +
                                      "&last=" + encode_query_value(*page->next_last) +
                                      ">; rel=\"next\"");
    }
    res.body() = boost::json::serialize(body);
    co_await send(std::move(res));
  }

  // ---- /v2/<name>/tags/list

  asio::awaitable<void> tags() {
    auto n = parse_page_size(route_);
    if (!n) {
      co_return co_await fail(n.error());
    }
    auto last = route_.param("last").value_or("");
    auto page = co_await blocking([&] { return api_.registry_.list_tags(*repo_, *n, last); });
    if (!page) {
      co_return co_await fail(page.error());
    }
    boost::json::array names;
    for (auto& name : page->names) {
      names.emplace_back(name);
    }
    boost::json::object body;
    body["name"] = repo_->str();
    body["tags"] = std::move(names);
    auto res = response(bhttp::status::ok);
    res.set(bhttp::field::content_type, kJsonContentType);
    if (page->next_last) {
      res.set(bhttp::field::link,
              "</v2/" + repo_->str() + "/tags/list?n=" + std::to_string(page->names.size()) +
                  "&last=" + encode_query_value(*page->next_last) + ">; rel=\"next\"");
    }
    res.body() = boost::json::serialize(body);
    co_await send(std::move(res));
  }

  // ---- /v2/<name>/referrers/<digest>

  asio::awaitable<void> referrers() {
    auto subject = core::Digest::parse(route_.argument);
    if (!subject) {
      co_return co_await fail(subject.error());
    }
    auto artifact_type = route_.param("artifactType");
    if (artifact_type && artifact_type->empty()) {
      artifact_type.reset();
    }
    auto index = co_await blocking(
        [&] { return api_.registry_.referrers(*repo_, *subject, artifact_type); });
    if (!index) {
      co_return co_await fail(index.error());
    }
    auto res = response(bhttp::status::ok);
    res.set(bhttp::field::content_type, core_index_type());
    if (index->filtered) {
      res.set(kFiltersAppliedHeader, "artifactType");
    }
    res.body() = std::move(index->json);
    co_await send(std::move(res));
  }

  static std::string_view core_index_type() { return "application/vnd.oci.image.index.v1+json"; }

  // ---- /v2/<name>/manifests/<reference>

  asio::awaitable<void> manifest() {
    auto reference = core::Reference::parse(route_.argument);
    if (!reference) {
      co_return co_await fail(reference.error());
    }
    switch (ex_.request().method()) {
      case bhttp::verb::get:
      case bhttp::verb::head:
        co_return co_await get_manifest(*reference);
      case bhttp::verb::put:
        co_return co_await put_manifest(*reference);
      case bhttp::verb::delete_:
        co_return co_await delete_manifest(*reference);
      default:
        co_return co_await method_not_allowed();
    }
  }

  asio::awaitable<void> get_manifest(const core::Reference& reference) {
    const bool head = is(bhttp::verb::head);
    auto res = response(bhttp::status::ok);
    std::optional<meta::ManifestRecord> record;
    if (head) {
      auto stat =
          co_await blocking([&] { return api_.registry_.stat_manifest(*repo_, reference); });
      if (!stat) {
        co_return co_await fail(stat.error());
      }
      record = std::move(*stat);
      res.content_length(record->size);
    } else {
      auto content =
          co_await blocking([&] { return api_.registry_.get_manifest(*repo_, reference); });
      if (!content) {
        co_return co_await fail(content.error());
      }
      record = std::move(content->record);
      res.body() = *content->bytes;
    }
    const auto digest = record->digest.str();
    res.set(bhttp::field::content_type, record->media_type);
    res.set(kContentDigestHeader, digest);
    res.set(bhttp::field::etag, quoted(digest));
    if (if_none_match(ex_.request()[bhttp::field::if_none_match], quoted(digest))) {
      auto not_modified = response(bhttp::status::not_modified);
      not_modified.set(kContentDigestHeader, digest);
      not_modified.set(bhttp::field::etag, quoted(digest));
      co_return co_await send(std::move(not_modified));
    }
    co_await send(std::move(res));
  }

  asio::awaitable<void> put_manifest(const core::Reference& reference) {
    std::vector<core::Tag> extra_tags;
    for (const auto& text : route_.params("tag")) {
      auto tag = core::Tag::parse(text);
      if (!tag) {
        co_return co_await fail(tag.error());
      }
      extra_tags.push_back(std::move(*tag));
    }
    const auto limit = api_.options_.max_manifest_bytes;
    auto declared = ex_.content_length();
    if (declared && *declared > limit) {
      co_return co_await fail(ErrorCode::kTooLarge,
                              "manifest is larger than " + std::to_string(limit) + " bytes");
    }
    ex_.set_body_limit(limit);
    auto body = co_await ex_.read_body_string(limit);
    if (!body) {
      if (body.error() == bhttp::error::body_limit) {
        co_return co_await fail(ErrorCode::kTooLarge,
                                "manifest is larger than " + std::to_string(limit) + " bytes");
      }
      co_return co_await fail(ErrorCode::kManifestInvalid,
                              "reading the manifest failed: " + body.error().message());
    }
    std::string content_type(ex_.request()[bhttp::field::content_type]);
    auto put = co_await blocking([&] {
      return api_.registry_.put_manifest(*repo_, reference, std::move(*body), content_type,
                                         extra_tags);
    });
    if (!put) {
      co_return co_await fail(put.error());
    }
    auto res = response(bhttp::status::created);
    res.set(bhttp::field::location, "/v2/" + repo_->str() + "/manifests/" + put->digest.str());
    res.set(kContentDigestHeader, put->digest.str());
    if (put->subject) {
      res.set(kSubjectHeader, put->subject->str());
    }
    co_await send(std::move(res));
  }

  asio::awaitable<void> delete_manifest(const core::Reference& reference) {
    auto deleted =
        co_await blocking([&] { return api_.registry_.delete_manifest(*repo_, reference); });
    if (!deleted) {
      co_return co_await fail(deleted.error());
    }
    co_await send(response(bhttp::status::accepted));
  }

  // ---- /v2/<name>/blobs/<digest>

  asio::awaitable<void> blob() {
    auto digest = core::Digest::parse(route_.argument);
    if (!digest) {
      co_return co_await fail(digest.error());
    }
    switch (ex_.request().method()) {
      case bhttp::verb::get:
      case bhttp::verb::head:
        co_return co_await get_blob(*digest);
      case bhttp::verb::delete_: {
        auto deleted =
            co_await blocking([&] { return api_.registry_.delete_blob(*repo_, *digest); });
        if (!deleted) {
          co_return co_await fail(deleted.error());
        }
        co_return co_await send(response(bhttp::status::accepted));
      }
      default:
        co_return co_await method_not_allowed();
    }
  }

  asio::awaitable<void> get_blob(const core::Digest& digest) {
    http::ResponseHeader header;
    header.version(ex_.request().version());
    if (!keep_alive()) {
      header.set(bhttp::field::connection, "close");
    }
    header.set(kApiVersionHeader, kApiVersion);
    header.set(kContentDigestHeader, digest.str());
    header.set(bhttp::field::etag, quoted(digest.str()));
    header.set(bhttp::field::accept_ranges, "bytes");
    header.set(bhttp::field::content_type, kOctetStream);
    // Content addressed: the bytes behind this URL never change.
    header.set(bhttp::field::cache_control, "max-age=31536000");

    if (if_none_match(ex_.request()[bhttp::field::if_none_match], quoted(digest.str()))) {
      auto stat = co_await blocking([&] { return api_.registry_.stat_blob(*repo_, digest); });
      if (!stat) {
        co_return co_await fail(stat.error());
      }
      auto not_modified = response(bhttp::status::not_modified);
      not_modified.set(kContentDigestHeader, digest.str());
      not_modified.set(bhttp::field::etag, quoted(digest.str()));
      co_return co_await send(std::move(not_modified));
    }
    if (is(bhttp::verb::head)) {
      auto stat = co_await blocking([&] { return api_.registry_.stat_blob(*repo_, digest); });
      if (!stat) {
        co_return co_await fail(stat.error());
      }
      header.result(bhttp::status::ok);
      co_return co_await ex_.respond_file(std::move(header), -1, 0, stat->size);
    }
    auto reader = co_await blocking([&] { return api_.registry_.open_blob(*repo_, digest); });
    if (!reader) {
      co_return co_await fail(reader.error());
    }
    std::shared_ptr<storage::BlobReader> source(std::move(*reader));
    const std::uint64_t size = source->size();
    auto range = core::parse_range(ex_.request()[bhttp::field::range], size);
    if (!range) {
      auto res = error_response(range.error(), ex_.request().version(), keep_alive());
      res.set(bhttp::field::content_range, "bytes */" + std::to_string(size));
      co_return co_await ex_.respond(std::move(res));
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
      co_return co_await ex_.respond_file(std::move(header), fd, offset, length);
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
    co_await ex_.respond_stream(std::move(header), offset, length, std::move(read_at));
  }

  // ---- /v2/<name>/blobs/uploads/

  asio::awaitable<void> start_upload() {
    auto mount = route_.param("mount");
    auto from = route_.param("from");
    if (mount) {
      auto digest = core::Digest::parse(*mount);
      if (!digest) {
        co_return co_await fail(digest.error());
      }
      auto source = from ? core::RepositoryName::parse(*from)
                         : core::Result<core::RepositoryName>(std::unexpected(core::Error{}));
      if (source) {
        auto mounted =
            co_await blocking([&] { return api_.registry_.mount_blob(*repo_, *digest, *source); });
        if (!mounted) {
          co_return co_await fail(mounted.error());
        }
        if (*mounted) {
          auto res = response(bhttp::status::created);
          res.set(bhttp::field::location, blob_location((*mounted)->digest));
          res.set(kContentDigestHeader, (*mounted)->digest.str());
          co_return co_await send(std::move(res));
        }
      }
      // Not mountable: fall through to an ordinary upload, as the spec allows (202).
    }
    if (auto claimed = route_.param("digest")) {
      co_return co_await single_request_upload(*claimed);
    }
    auto id = co_await blocking([&] { return api_.registry_.start_upload(*repo_); });
    if (!id) {
      co_return co_await fail(id.error());
    }
    auto res = response(bhttp::status::accepted);
    res.set(bhttp::field::location, upload_location(*id));
    res.set(bhttp::field::range, upload_range(0));
    res.set(kUploadUuidHeader, id->str());
    co_await send(std::move(res));
  }

  asio::awaitable<void> single_request_upload(const std::string& claimed_text) {
    auto claimed = core::Digest::parse(claimed_text);
    if (!claimed) {
      co_return co_await fail(claimed.error());
    }
    auto lease =
        co_await blocking([&] { return api_.registry_.start_single_request_upload(*repo_); });
    if (!lease) {
      co_return co_await fail(lease.error());
    }
    auto received = co_await receive_into(*lease);
    if (!received) {
      co_await blocking([&] { api_.registry_.abandon_upload(std::move(*lease)); });
      co_return co_await fail(received.error());
    }
    co_await finish(std::move(*lease), *claimed);
  }

  asio::awaitable<void> finish(registry::UploadLease lease, const core::Digest& claimed) {
    auto blob =
        co_await blocking([&] { return api_.registry_.finish_upload(std::move(lease), claimed); });
    if (!blob) {
      co_return co_await fail(blob.error());
    }
    auto res = response(bhttp::status::created);
    res.set(bhttp::field::location, blob_location(blob->digest));
    res.set(kContentDigestHeader, blob->digest.str());
    co_await send(std::move(res));
  }

  // ---- /v2/<name>/blobs/uploads/<id>

  asio::awaitable<void> upload() {
    auto id = core::UploadId::parse(route_.argument);
    if (!id) {
      co_return co_await fail(id.error());
    }
    switch (ex_.request().method()) {
      case bhttp::verb::get: {
        auto size = co_await blocking([&] { return api_.registry_.upload_size(*repo_, *id); });
        if (!size) {
          co_return co_await fail(size.error());
        }
        auto res = response(bhttp::status::no_content);
        res.set(bhttp::field::location, upload_location(*id));
        res.set(bhttp::field::range, upload_range(*size));
        res.set(kUploadUuidHeader, id->str());
        co_return co_await send(std::move(res));
      }
      case bhttp::verb::delete_: {
        auto cancelled =
            co_await blocking([&] { return api_.registry_.cancel_upload(*repo_, *id); });
        if (!cancelled) {
          co_return co_await fail(cancelled.error());
        }
        co_return co_await send(response(bhttp::status::no_content));
      }
      case bhttp::verb::patch:
        co_return co_await patch_upload(*id);
      case bhttp::verb::put:
        co_return co_await put_upload(*id);
      default:
        co_return co_await method_not_allowed();
    }
  }

  asio::awaitable<void> patch_upload(const core::UploadId& id) {
    auto lease = co_await blocking([&] { return api_.registry_.open_upload(*repo_, id); });
    if (!lease) {
      co_return co_await fail(lease.error());
    }
    if (auto in_order = check_content_range(lease->size()); !in_order) {
      const auto size = lease->size();
      lease->release();
      co_return co_await fail_upload_range(in_order.error(), id, size);
    }
    auto received = co_await receive_into(*lease);
    // Whatever arrived stays: a client cut off mid-chunk can ask for the status and resume.
    auto saved = co_await blocking([&] { return api_.registry_.save_upload(*lease); });
    const auto size = lease->size();
    lease->release();
    if (!received) {
      co_return co_await fail(received.error());
    }
    if (!saved) {
      co_return co_await fail(saved.error());
    }
    auto res = response(bhttp::status::accepted);
    res.set(bhttp::field::location, upload_location(id));
    res.set(bhttp::field::range, upload_range(size));
    res.set(kUploadUuidHeader, id.str());
    co_await send(std::move(res));
  }

  asio::awaitable<void> put_upload(const core::UploadId& id) {
    auto claimed_text = route_.param("digest");
    if (!claimed_text) {
      co_return co_await fail(ErrorCode::kDigestInvalid,
                              "the closing PUT needs the blob's digest as ?digest=");
    }
    auto claimed = core::Digest::parse(*claimed_text);
    if (!claimed) {
      co_return co_await fail(claimed.error());
    }
    auto lease = co_await blocking([&] { return api_.registry_.open_upload(*repo_, id); });
    if (!lease) {
      co_return co_await fail(lease.error());
    }
    if (ex_.has_body()) {
      if (auto in_order = check_content_range(lease->size()); !in_order) {
        const auto size = lease->size();
        lease->release();
        co_return co_await fail_upload_range(in_order.error(), id, size);
      }
      auto received = co_await receive_into(*lease);
      if (!received) {
        (void)co_await blocking([&] { return api_.registry_.save_upload(*lease); });
        lease->release();
        co_return co_await fail(received.error());
      }
    }
    co_await finish(std::move(*lease), *claimed);
  }

  Api& api_;
  http::Exchange& ex_;
  Route route_;
  std::optional<core::RepositoryName> repo_;
};

Api::Api(registry::Registry& registry, http::BlockingPool& pool, ApiOptions options,
         std::function<bool()> ready)
    : registry_(registry), pool_(pool), options_(options), ready_(std::move(ready)) {}

asio::awaitable<void> Api::handle(http::Exchange& exchange) {
  Request request(*this, exchange, route(exchange.request().target()));
  std::string failure;
  try {
    co_await request.dispatch();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  // A bug or a failure of the machine: log it with the request id, answer 500 if still
  // possible. (co_await is not allowed inside a catch block.)
  if (!failure.empty()) {
    spdlog::error("request {} {} {} failed: {}", exchange.request_id(),
                  exchange.request().method_string(), exchange.request().target(), failure);
    if (!exchange.responded()) {
      core::Error error{ErrorCode::kInternal,
                        "internal error; the server log has details under request id " +
                            std::string(exchange.request_id()),
                        {}};
      auto response = error_response(error, exchange.request().version(), false);
      co_await exchange.respond(std::move(response));
    }
  }
}

}  // namespace berth::api
