// Registry operations of the OCI distribution spec over one Connection, each one verified:
// a push must end in 201 with the digest we computed, a pull must return exactly the bytes
// whose digest and size we know. A server that cuts corners scores errors, not speed.
//
// Every operation returns an OpResult (counts for the statistics, and the first error) and
// never throws for anything the server does.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/blob_data.hpp"
#include "loadgen/http_connection.hpp"

namespace berth::bench {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";

struct OpResult {
  bool ok = true;
  std::string error;
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::uint32_t requests = 0;

  // Adds the counts; keeps the first error.
  OpResult& operator+=(const OpResult& other);
  void fail(std::string message);
};

// An image: config and layers, and its manifest's exact bytes and digest.
struct Image {
  std::string repository;
  std::string tag;
  Blob config;
  std::vector<Blob> layers;
  std::string manifest;
  std::string manifest_digest;

  std::uint64_t total_bytes() const;
};

// An OCI image manifest for these blobs. The config is a small JSON document made unique by
// `nonce`.
Image make_image(std::string repository, std::string tag, std::vector<Blob> layers,
                 std::string_view nonce);
// Another tag of the same manifest.
Image retag(const Image& image, std::string tag);

// How a pulled blob is checked: its SHA-256 against the digest, or each byte against the bytes
// we pushed (memcmp: as strict, and cheap enough that a fast server is not hidden behind the
// client's hashing). Manifests are always hashed.
enum class Verify { kSha256, kBytes };

class RegistryClient {
 public:
  explicit RegistryClient(Connection& connection, Verify verify = Verify::kSha256)
      : connection_(connection), verify_(verify) {}

  Connection& connection() { return connection_; }

  // GET /v2/.
  asio::awaitable<OpResult> ping();
  // POST /v2/<repo>/blobs/uploads/, then either one PUT with the whole body (chunk == 0) or
  // PATCHes of `chunk` bytes and a closing PUT without a body.
  asio::awaitable<OpResult> push_blob(std::string_view repository, const Blob& blob,
                                      std::uint64_t chunk = 0);
  // POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<repo>; must answer 201.
  asio::awaitable<OpResult> mount_blob(std::string_view repository, std::string_view from,
                                       const Blob& blob);
  asio::awaitable<OpResult> push_manifest(std::string_view repository, std::string_view reference,
                                          std::string_view manifest, std::string_view media_type);
  // DELETE /v2/<repo>/manifests/<digest>; must answer 202.
  asio::awaitable<OpResult> delete_manifest(std::string_view repository, std::string_view digest);
  // Config, layers, then the manifest under image.tag.
  asio::awaitable<OpResult> push_image(const Image& image);

  // GET (or HEAD) /v2/<repo>/manifests/<reference>, checking the digest and the size.
  asio::awaitable<OpResult> pull_manifest(std::string_view repository, std::string_view reference,
                                          std::string_view expected_digest,
                                          std::uint64_t expected_size, bool head);
  asio::awaitable<OpResult> pull_blob(std::string_view repository, const Blob& blob);
  // The manifest by tag, then the config and every layer, one after the other.
  asio::awaitable<OpResult> pull_image(const Image& image);
  // GET /v2/<repo>/tags/list; checks that it names `expected_tags` tags.
  asio::awaitable<OpResult> tags_list(std::string_view repository, std::size_t expected_tags);
  // Follows the catalog's Link headers with ?n=page_size to the end; checks that the names
  // come sorted without repeats and that there are at least `expected_at_least`.
  // `count` receives how many repositories were listed.
  asio::awaitable<OpResult> catalog_walk(std::size_t page_size, std::size_t expected_at_least,
                                         std::size_t* count = nullptr);

  // One request, counted; fails unless the answer has `expected_status` (for the operations
  // of other files, such as loadgen/auth_client.hpp's).
  asio::awaitable<OpResult> send(const Request& request, const ReadOptions& options,
                                 Response& response, unsigned expected_status);

 private:
  Connection& connection_;
  Verify verify_;
  std::string target_;
};

// Strips "http://host:port" from an absolute Location, so that it can be requested on our
// connection, and appends a query parameter with '?' or '&'.
std::string location_path(std::string_view location);
std::string with_query(std::string_view target, std::string_view parameter);

}  // namespace berth::bench
