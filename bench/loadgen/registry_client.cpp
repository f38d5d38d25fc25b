// The registry operations, request by request, with the checks each response must pass.
#include "loadgen/registry_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace berth::bench {
namespace {

namespace http = beast::http;

constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

std::string descriptor(std::string_view media_type, const Blob& blob) {
  return "{\"mediaType\":\"" + std::string(media_type) + "\",\"digest\":\"" + blob.digest +
         "\",\"size\":" + std::to_string(blob.size()) + "}";
}

std::string describe(const Request& request) {
  return std::string(http::to_string(request.method)) + " " + std::string(request.target);
}

// The target of a Link header: "<...>; rel=\"next\"".
std::optional<std::string> link_target(std::string_view link) {
  const auto open = link.find('<');
  const auto close = link.find('>');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  return location_path(link.substr(open + 1, close - open - 1));
}

}  // namespace

OpResult& OpResult::operator+=(const OpResult& other) {
  if (ok && !other.ok) {
    ok = false;
    error = other.error;
  }
  bytes_up += other.bytes_up;
  bytes_down += other.bytes_down;
  requests += other.requests;
  return *this;
}

void OpResult::fail(std::string message) {
  if (ok) {
    ok = false;
    error = std::move(message);
  }
}

std::uint64_t Image::total_bytes() const {
  std::uint64_t total = manifest.size() + config.size();
  for (const auto& layer : layers) {
    total += layer.size();
  }
  return total;
}

Image make_image(std::string repository, std::string tag, std::vector<Blob> layers,
                 std::string_view nonce) {
  std::string diff_ids;
  for (const auto& layer : layers) {
    diff_ids += (diff_ids.empty() ? "\"" : ",\"") + layer.digest + "\"";
  }
  std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{" +
                       std::string("\"type\":\"layers\",\"diff_ids\":[") + diff_ids +
                       "]},\"comment\":\"berth-bench " + std::string(nonce) + "\"}";
  Image image;
  image.repository = std::move(repository);
  image.tag = std::move(tag);
  image.config = text_blob(std::move(config));
  image.layers = std::move(layers);
  std::string manifest = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kOciManifest) +
                         "\",\"config\":" + descriptor(kOciConfig, image.config) + ",\"layers\":[";
  for (std::size_t i = 0; i < image.layers.size(); ++i) {
    manifest += (i == 0 ? "" : ",") + descriptor(kOciLayer, image.layers[i]);
  }
  manifest += "]}";
  image.manifest_digest = Sha256::digest_of(manifest);
  image.manifest = std::move(manifest);
  return image;
}

Image retag(const Image& image, std::string tag) {
  Image copy = image;
  copy.tag = std::move(tag);
  return copy;
}

std::string location_path(std::string_view location) {
  if (location.starts_with("http://") || location.starts_with("https://")) {
    const auto scheme_end = location.find("//") + 2;
    const auto path = location.find('/', scheme_end);
    return path == std::string_view::npos ? std::string("/") : std::string(location.substr(path));
  }
  return std::string(location);
}

std::string with_query(std::string_view target, std::string_view parameter) {
  std::string out(target);
  out += target.find('?') == std::string_view::npos ? '?' : '&';
  out += parameter;
  return out;
}

asio::awaitable<OpResult> RegistryClient::send(const Request& request, const ReadOptions& options,
                                               Response& response, unsigned expected_status) {
  OpResult result;
  result.requests = 1;
  for (const auto& buffer : request.body) {
    result.bytes_up += buffer.size();
  }
  auto ec = co_await connection_.round_trip(request, options, response);
  result.bytes_down = response.body_bytes;
  if (ec) {
    result.fail(describe(request) + ": " + ec.message());
  } else if (response.status != expected_status) {
    result.fail(describe(request) + ": status " + std::to_string(response.status) + ", wanted " +
                std::to_string(expected_status) + ": " + response.body.substr(0, 300));
  }
  co_return result;
}

asio::awaitable<OpResult> RegistryClient::ping() {
  Response response;
  co_return co_await send(Request{.target = "/v2/"}, ReadOptions{}, response, 200);
}

asio::awaitable<OpResult> RegistryClient::push_blob(std::string_view repository, const Blob& blob,
                                                    std::uint64_t chunk) {
  static constexpr HeaderField kOctets[] = {{"Content-Type", "application/octet-stream"}};
  Response response;
  target_ = "/v2/" + std::string(repository) + "/blobs/uploads/";
  auto result = co_await send(
      Request{.method = http::verb::post, .target = target_, .send_empty_length = true},
      ReadOptions{}, response, 202);
  if (!result.ok) {
    co_return result;
  }
  if (response.location.empty()) {
    result.fail("POST " + target_ + ": 202 without a Location");
    co_return result;
  }
  std::string location = location_path(response.location);
  const auto size = blob.size();
  if (chunk > 0) {
    for (std::uint64_t offset = 0; offset < size;) {
      const auto n = std::min(chunk, size - offset);
      const auto body = blob_buffers<asio::const_buffer>(blob, offset, n);
      const std::string range = std::to_string(offset) + "-" + std::to_string(offset + n - 1);
      const HeaderField headers[] = {kOctets[0], {"Content-Range", range}};
      result += co_await send(
          Request{
              .method = http::verb::patch, .target = location, .headers = headers, .body = body},
          ReadOptions{}, response, 202);
      if (!result.ok) {
        co_return result;
      }
      if (response.location.empty()) {
        result.fail("PATCH: 202 without a Location");
        co_return result;
      }
      location = location_path(response.location);
      offset += n;
    }
    target_ = with_query(location, "digest=" + blob.digest);
    result += co_await send(
        Request{.method = http::verb::put, .target = target_, .send_empty_length = true},
        ReadOptions{}, response, 201);
  } else {
    const auto body = blob_buffers<asio::const_buffer>(blob, 0, size);
    target_ = with_query(location, "digest=" + blob.digest);
    result += co_await send(
        Request{.method = http::verb::put, .target = target_, .headers = kOctets, .body = body},
        ReadOptions{}, response, 201);
  }
  if (result.ok && !response.docker_content_digest.empty() &&
      response.docker_content_digest != blob.digest) {
    result.fail("PUT: Docker-Content-Digest " + response.docker_content_digest + ", pushed " +
                blob.digest);
  }
  co_return result;
}

asio::awaitable<OpResult> RegistryClient::mount_blob(std::string_view repository,
                                                     std::string_view from, const Blob& blob) {
  Response response;
  target_ = "/v2/" + std::string(repository) + "/blobs/uploads/?mount=" + blob.digest +
            "&from=" + std::string(from);
  co_return co_await send(
      Request{.method = http::verb::post, .target = target_, .send_empty_length = true},
      ReadOptions{}, response, 201);
}

asio::awaitable<OpResult> RegistryClient::push_manifest(std::string_view repository,
                                                        std::string_view reference,
                                                        std::string_view manifest,
                                                        std::string_view media_type) {
  const HeaderField headers[] = {{"Content-Type", media_type}};
  const asio::const_buffer body[] = {asio::buffer(manifest.data(), manifest.size())};
  Response response;
  target_ = "/v2/" + std::string(repository) + "/manifests/" + std::string(reference);
  auto result = co_await send(
      Request{.method = http::verb::put, .target = target_, .headers = headers, .body = body},
      ReadOptions{}, response, 201);
  if (result.ok && !response.docker_content_digest.empty() &&
      response.docker_content_digest != Sha256::digest_of(manifest)) {
    result.fail("PUT manifest: Docker-Content-Digest " + response.docker_content_digest +
                " is not the digest of the bytes sent");
  }
  co_return result;
}

asio::awaitable<OpResult> RegistryClient::delete_manifest(std::string_view repository,
                                                          std::string_view digest) {
  Response response;
  target_ = "/v2/" + std::string(repository) + "/manifests/" + std::string(digest);
  co_return co_await send(Request{.method = http::verb::delete_, .target = target_}, ReadOptions{},
                          response, 202);
}

asio::awaitable<OpResult> RegistryClient::push_image(const Image& image) {
  auto result = co_await push_blob(image.repository, image.config);
  for (const auto& layer : image.layers) {
    if (!result.ok) {
      co_return result;
    }
    result += co_await push_blob(image.repository, layer);
  }
  if (result.ok) {
    result += co_await push_manifest(image.repository, image.tag, image.manifest, kOciManifest);
  }
  co_return result;
}

asio::awaitable<OpResult> RegistryClient::pull_manifest(std::string_view repository,
                                                        std::string_view reference,
                                                        std::string_view expected_digest,
                                                        std::uint64_t expected_size, bool head) {
  static constexpr HeaderField kAccept[] = {{"Accept", kManifestAccept}};
  Response response;
  target_ = "/v2/" + std::string(repository) + "/manifests/" + std::string(reference);
  auto result = co_await send(Request{.method = head ? http::verb::head : http::verb::get,
                                      .target = target_,
                                      .headers = kAccept},
                              ReadOptions{.hash = !head}, response, 200);
  if (!result.ok) {
    co_return result;
  }
  if (head) {
    if (response.docker_content_digest != expected_digest) {
      result.fail("HEAD " + target_ + ": Docker-Content-Digest '" + response.docker_content_digest +
                  "', wanted " + std::string(expected_digest));
    } else if (response.content_length != expected_size) {
      result.fail("HEAD " + target_ + ": wrong Content-Length");
    }
  } else if (response.digest != expected_digest || response.body_bytes != expected_size) {
    result.fail("GET " + target_ + ": got " + std::to_string(response.body_bytes) +
                " bytes with digest " + response.digest + ", wanted " +
                std::to_string(expected_size) + " with " + std::string(expected_digest));
  }
  co_return result;
}

asio::awaitable<OpResult> RegistryClient::pull_blob(std::string_view repository, const Blob& blob) {
  Response response;
  target_ = "/v2/" + std::string(repository) + "/blobs/" + blob.digest;
  const bool hash = verify_ == Verify::kSha256;
  auto result =
      co_await send(Request{.target = target_},
                    ReadOptions{.hash = hash, .expect = hash ? nullptr : &blob}, response, 200);
  const bool same = hash ? response.digest == blob.digest : !response.mismatch;
  if (result.ok && (!same || response.body_bytes != blob.size())) {
    result.fail("GET " + target_ + ": got " + std::to_string(response.body_bytes) + " bytes " +
                (hash ? "with digest " + response.digest : std::string("that differ")) +
                ", wanted " + std::to_string(blob.size()) + " bytes of " + blob.digest);
  }
  co_return result;
}

asio::awaitable<OpResult> RegistryClient::pull_image(const Image& image) {
  auto result = co_await pull_manifest(image.repository, image.tag, image.manifest_digest,
                                       image.manifest.size(), false);
  if (result.ok) {
    result += co_await pull_blob(image.repository, image.config);
  }
  for (const auto& layer : image.layers) {
    if (!result.ok) {
      break;
    }
    result += co_await pull_blob(image.repository, layer);
  }
  co_return result;
}

asio::awaitable<OpResult> RegistryClient::tags_list(std::string_view repository,
                                                    std::size_t expected_tags) {
  Response response;
  target_ = "/v2/" + std::string(repository) + "/tags/list";
  auto result =
      co_await send(Request{.target = target_}, ReadOptions{.capture = true}, response, 200);
  if (!result.ok) {
    co_return result;
  }
  boost::system::error_code ec;
  const auto json = boost::json::parse(response.body, ec);
  const auto* tags = ec || !json.is_object() ? nullptr : json.as_object().if_contains("tags");
  if (tags == nullptr || !tags->is_array() || tags->as_array().size() != expected_tags) {
    result.fail("GET " + target_ + ": wanted " + std::to_string(expected_tags) +
                " tags, got: " + response.body.substr(0, 200));
  }
  co_return result;
}

asio::awaitable<OpResult> RegistryClient::catalog_walk(std::size_t page_size,
                                                       std::size_t expected_at_least,
                                                       std::size_t* count) {
  OpResult result;
  std::string previous;
  std::size_t seen = 0;
  std::string target = "/v2/_catalog?n=" + std::to_string(page_size);
  for (;;) {
    Response response;
    result += co_await send(Request{.target = target}, ReadOptions{.capture = true}, response, 200);
    if (!result.ok) {
      co_return result;
    }
    boost::system::error_code ec;
    const auto json = boost::json::parse(response.body, ec);
    const auto* names =
        ec || !json.is_object() ? nullptr : json.as_object().if_contains("repositories");
    if (names == nullptr || !names->is_array()) {
      result.fail("GET " + target + ": not a catalog: " + response.body.substr(0, 200));
      co_return result;
    }
    if (names->as_array().size() > page_size) {
      result.fail("GET " + target + ": more than n names");
      co_return result;
    }
    for (const auto& name : names->as_array()) {
      if (!name.is_string()) {
        result.fail("GET " + target + ": a repository name is not a string");
        co_return result;
      }
      std::string text(name.as_string());
      if (seen > 0 && text <= previous) {
        result.fail("GET " + target + ": '" + text + "' after '" + previous +
                    "': not sorted, or repeated");
        co_return result;
      }
      previous = std::move(text);
      ++seen;
    }
    auto next = link_target(response.link);
    if (response.link.empty() || !next) {
      break;
    }
    target = std::move(*next);
  }
  if (count != nullptr) {
    *count = seen;
  }
  if (seen < expected_at_least) {
    result.fail("catalog: " + std::to_string(seen) + " repositories, wanted at least " +
                std::to_string(expected_at_least));
  }
  co_return result;
}

}  // namespace berth::bench
