// Proxy projects: pull-through caches of other registries, served beside hosted projects on
// the same port. A proxy project "hub" bound to https://registry-1.docker.io answers
// /v2/hub/library/alpine/manifests/3.20 with docker.io's library/alpine:3.20 and keeps what it
// fetched as ordinary repositories of the project (hub/library/alpine), in the same blob and
// metadata stores as pushed images, so access control, garbage collection, retention and
// quotas treat cached content like any other.
//
// What is cached, and for how long:
//  - manifests by digest: forever (a digest names its bytes);
//  - manifests by tag: served without asking the upstream for manifest_ttl after the last
//    check; then a HEAD asks whether the tag moved (Docker Hub does not count HEADs against its
//    pull limit) and only a changed tag is fetched again;
//  - blobs: fetched once per project, into an upload, written and hashed by the registry's
//    normal upload path. The fetch runs at the upstream's pace on its own (reading the next
//    batch while the last is appended); clients read the upload as it grows. The digest is
//    checked before any client gets the last piece, so a body that is truncated or corrupt is
//    never cached and the clients see their connections cut short rather than bad bytes. A blob
//    that another repository of the project holds already (cached there, or pushed into an
//    overlay project) is linked, not fetched: a cross-repository mount within the project,
//    which the registry's mount rules allow since rights are the project's;
//  - quotas: a blob whose Content-Length the project's quota cannot hold is refused before its
//    body is read, and a fetch stops once the quota no longer holds it (others filled it).
//
// Overlay projects (ProxyOptions::overlay): a hosted project with the upstream behind it.
// Pushes land locally as in any project; a pull looks locally first and falls back to the
// upstream. A tag is the cache's while it names the digest the cache stored for it
// (meta::ProxyStore); any other local tag was pushed and is served as it is, never checked
// upstream. note_push() logs when a pushed tag shadows one the upstream has.
//
// Single flight: concurrent misses of the same manifest, or of the same blob in any repository
// of the project, share one upstream request. With replicas on one database a blob is fetched
// by one replica at a time in the whole cluster (fetch_lease.hpp): the others wait for it to
// be stored and serve it from there. (Manifests are small: each replica fetches its own.)
// For a manifest, the first request fetches; the others wait for the fetch to end and are
// served from the cache, or get its error. For a blob, every request that joins before the
// fetch ends streams the bytes as they arrive (BlobStream), like the one that started it.
//
// Stale-if-error: when the check of a tag fails (the upstream unreachable, 5xx, 429), the
// cached manifest is served for up to max_staleness after its last good check, marked stale
// (ManifestAnswer::stale) and logged. Blobs and manifests by digest never go stale.
//
// Cached manifests whose blobs have not been fetched yet are stored with the references that
// are present (Registry::cache_manifest) and stored again as blobs arrive, so the relations
// fill in. The list of such manifests, like each cached tag's last check, is kept in the
// meta::ProxyStore, so a restart loses neither.
//
// Thread-safe: one ProxyProject serves every I/O thread.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "client/registry_client.hpp"
#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "meta/metadata_store.hpp"
#include "meta/proxy_store.hpp"
#include "proxy/fetch_lease.hpp"
#include "proxy/notifier.hpp"
#include "registry/registry.hpp"
#include "storage/blob_store.hpp"

namespace berth::proxy {

using core::Result;

struct ProxyOptions {
  // The project's name: the first component of its repositories.
  std::string project;
  client::ClientOptions upstream;
  // Upstream requests (manifest checks, blob fetches) in flight at once.
  std::size_t concurrency = 16;
  std::chrono::milliseconds manifest_ttl{std::chrono::minutes(5)};
  // Zero: never serve stale.
  std::chrono::milliseconds max_staleness{std::chrono::hours(24 * 7)};
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  // Serves docker.io for mirror requests (`registry-mirrors`, containerd's ?ns=docker.io).
  bool mirror = false;
  // A hosted project with the upstream behind it (see the top); otherwise a pure cache, into
  // which nothing may be pushed.
  bool overlay = false;
  // How many bytes a blob fetch appends between checks that the project's quota still holds
  // the blob (it was checked against the Content-Length before the fetch began).
  std::uint64_t quota_recheck_bytes = 16 * 1024 * 1024;
  // Single flight across replicas on one database (fetch_lease.hpp); off without a store.
  FetchLeaseOptions fetch_leases{};
};

struct ManifestAnswer {
  meta::ManifestRecord record;
  std::shared_ptr<const std::string> bytes;
  // Served from the cache because the upstream could not be asked.
  bool stale = false;
  // Fetched from the upstream by this request (or the flight it joined).
  bool fetched = false;
  // Pushed into an overlay project: not the cache's.
  bool local = false;
};

struct Flight;
class BlobFetch;

// One client's copy of a blob being fetched from the upstream: the request that started the
// fetch and every request that joined it (single flight) get one each. Made by
// ProxyProject::blob. Not thread-safe: used by one request's coroutine.
//
// The fetch runs by itself, at the pace of the upstream and the disk, whether or not anyone
// reads (see BlobFetch in proxy.cpp); a stream reads the upload's bytes as they are appended.
// The stream's last byte waits until all of the blob is appended and verified (its digest,
// the project's quota), so a client never gets the whole of a blob that is not what its digest
// says: when the fetch fails (upstream gone, digest mismatch, disk error), next() fails and
// the client's connection is cut. It need not wait for the publication (an fsync of the whole
// blob, then the link): if that fails, the clients that are done got the right bytes, and
// nothing is cached.
class BlobStream {
 public:
  BlobStream(class ProxyProject& project, core::RepositoryName repo, core::Digest digest,
             std::shared_ptr<Flight> flight, std::uint64_t size);
  ~BlobStream();
  BlobStream(const BlobStream&) = delete;
  BlobStream& operator=(const BlobStream&) = delete;

  std::uint64_t size() const { return size_; }
  const core::Digest& digest() const { return digest_; }
  // The next piece for the client (http::Exchange::NextPiece): waits for bytes past what this
  // stream has handed out, then reads them from the upload (or, once published, the blob).
  boost::asio::awaitable<http::IoResult<std::size_t>> next(std::span<std::byte> out);
  // After the response (complete, or the client gone): waits until the fetch has ended, so
  // that a draining server waits for it too.
  boost::asio::awaitable<void> finish();
  // Whether the fetch ended with the blob verified, stored and linked into this stream's
  // repository (known after finish()).
  bool stored() const { return stored_; }

 private:
  ProxyProject& project_;
  core::RepositoryName repo_;
  core::Digest digest_;
  std::shared_ptr<Flight> flight_;
  std::uint64_t size_;
  // Handed out so far.
  std::uint64_t offset_ = 0;
  // A snapshot of the upload (its size fixed when opened), or the published blob.
  std::unique_ptr<storage::BlobReader> reader_;
  // The upload could not be opened: it is being published; wait for the outcome.
  bool upload_gone_ = false;
  bool stored_ = false;
};

struct BlobAnswer {
  // Set: a miss, fetched by this request or one it joined; stream it with respond_async,
  // then call finish(). Null: the blob is in the repository now (a hit, or another request
  // fetched it); serve it as any stored blob.
  std::shared_ptr<BlobStream> stream;
  // A HEAD that missed: the upstream's size (nothing is fetched for a HEAD).
  std::optional<std::uint64_t> head_size;
};

struct ProxyStats {
  std::uint64_t manifest_hits = 0;
  std::uint64_t manifest_fetches = 0;
  std::uint64_t stale_serves = 0;
  std::uint64_t blob_fetches = 0;
  // Bytes of blob bodies read from the upstream.
  std::uint64_t blob_bytes_fetched = 0;
  // Blobs linked from another repository of the project instead of fetched.
  std::uint64_t blob_links = 0;
  // Upstream requests that failed or were refused (unreachable, an error status, bytes that
  // did not match their digest): what an operator watches to see an upstream in trouble.
  std::uint64_t upstream_errors = 0;
};

class ProxyProject {
 public:
  // Fails for a bad upstream URL or CA file.
  [[nodiscard]] static Result<std::unique_ptr<ProxyProject>> make(ProxyOptions options,
                                                                  registry::Registry& registry,
                                                                  meta::ProxyStore& state,
                                                                  http::BlockingPool& pool,
                                                                  const core::Clock& clock);
  ~ProxyProject();

  const ProxyOptions& options() const { return options_; }
  // The repository's name on the upstream: the name without the project, with Docker Hub's
  // "library/" for one-component names ("hub/alpine" -> "library/alpine").
  std::string upstream_name(const core::RepositoryName& repo) const;

  // GET or HEAD of a manifest. Errors: MANIFEST_UNKNOWN when the upstream has none,
  // UNAVAILABLE when the upstream cannot be asked and nothing (fresh enough) is cached. A GET
  // answered counts as one pull in the pull statistics (retention's not_pulled_days), as in
  // any project; a HEAD does not.
  [[nodiscard]] boost::asio::awaitable<Result<ManifestAnswer>> manifest(
      const core::RepositoryName& repo, const core::Reference& reference, bool head);
  // GET or HEAD of a blob; see BlobAnswer.
  [[nodiscard]] boost::asio::awaitable<Result<BlobAnswer>> blob(const core::RepositoryName& repo,
                                                                const core::Digest& digest,
                                                                bool head);

  // After a push of `tags` into an overlay project: they are the pusher's now, not the
  // cache's. Logs each that shadows a tag the upstream has (asked with a HEAD) and returns
  // those; an upstream that cannot be asked shadows nothing.
  [[nodiscard]] boost::asio::awaitable<std::vector<core::Tag>> note_push(
      const core::RepositoryName& repo, std::vector<core::Tag> tags);

  ProxyStats stats();
  // Counts one failed upstream request (ProxyStats::upstream_errors).
  void count_upstream_error() { upstream_errors_.fetch_add(1, std::memory_order_relaxed); }

 private:
  friend class BlobFetch;
  friend class BlobStream;
  ProxyProject(ProxyOptions options, std::unique_ptr<client::RegistryClient> client,
               registry::Registry& registry, meta::ProxyStore& state, http::BlockingPool& pool,
               const core::Clock& clock);

  // What the repository holds for a reference: the manifest, and for a tag what the cache
  // recorded of it. One trip to the blocking pool.
  struct Local {
    std::optional<ManifestAnswer> manifest;
    std::optional<meta::CachedTag> cached_tag;
  };

  // manifest() without counting the pull.
  boost::asio::awaitable<Result<ManifestAnswer>> find_manifest(const core::RepositoryName& repo,
                                                               const core::Reference& reference);
  boost::asio::awaitable<Result<ManifestAnswer>> refresh_tag(const core::RepositoryName& repo,
                                                             const core::Reference& reference,
                                                             std::optional<ManifestAnswer> cached,
                                                             core::TimePoint checked);
  boost::asio::awaitable<Result<ManifestAnswer>> fetch_manifest(const core::RepositoryName& repo,
                                                                const core::Reference& reference,
                                                                std::string upstream_reference);
  // GET or HEAD of a blob upstream: a 200 with a Content-Length, or the error to answer.
  boost::asio::awaitable<Result<std::unique_ptr<client::Response>>> request_blob(
      const core::RepositoryName& repo, const core::Digest& digest, bool head);
  boost::asio::awaitable<Result<BlobAnswer>> start_blob(const core::RepositoryName& repo,
                                                        const core::Digest& digest,
                                                        std::shared_ptr<Flight> flight);
  boost::asio::awaitable<Result<Local>> look_up(const core::RepositoryName& repo,
                                                const core::Reference& reference);
  // Whether `local` answers the request without asking the upstream: by digest always, a
  // pushed tag of an overlay project always, a cached tag within its TTL. Sets answer flags.
  bool fresh(Local& local, const core::Reference& reference);
  // NAME_UNKNOWN for the project's own name, which names no upstream repository.
  std::optional<core::Error> check_name(const core::RepositoryName& repo) const;
  client::Request upstream_request(const core::RepositoryName& repo, std::string_view kind,
                                   const std::string& argument, bool head) const;

  // Whether repo links digest now, linking it from another repository of the project that
  // does (the first found); errors of the mount (a quota) are returned. Blocking.
  Result<bool> ensure_linked(const core::RepositoryName& repo, const core::Digest& digest);
  // The single-flight key of a blob: one per project, not per repository.
  std::string blob_key(const core::Digest& digest) const;

  // Single flight: the flight for key, and whether the caller leads it.
  std::pair<std::shared_ptr<Flight>, bool> join(const std::string& key);
  void land(const std::string& key, const std::shared_ptr<Flight>& flight);

  // The upstream confirmed that the tag names digest. Blocking.
  void mark_checked(const core::RepositoryName& repo, const core::Tag& tag,
                    const core::Digest& digest);
  // Stores again the manifests of repo cached with missing references, now that a blob or
  // child arrived. Blocking.
  void fill_references(const core::RepositoryName& repo);
  void remember_partial(const core::RepositoryName& repo, const core::Digest& manifest);

  ProxyOptions options_;
  std::unique_ptr<client::RegistryClient> client_;
  registry::Registry& registry_;
  meta::ProxyStore& state_;
  http::BlockingPool& pool_;
  const core::Clock& clock_;
  Limiter limiter_;

  std::mutex mutex_;
  // Guarded by mutex_.
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  ProxyStats stats_;
  // Apart from stats_: counted where the failure is turned into an error, without the mutex.
  std::atomic<std::uint64_t> upstream_errors_{0};
};

// Every proxy project, by name.
class Proxies {
 public:
  void add(std::unique_ptr<ProxyProject> project);
  // nullptr when the project is not a proxy.
  ProxyProject* find(std::string_view project) const;
  // Every proxy project, by name.
  std::vector<ProxyProject*> all() const;
  // The proxy serving mirror requests, or nullptr.
  ProxyProject* mirror() const { return mirror_; }
  // The proxy of the registry a mirror request names in ?ns= ("docker.io" for a Docker Hub
  // upstream, else the upstream's host[:port]): the mirror if it is that registry's, else
  // the first proxy (by name) of it; nullptr if none is.
  ProxyProject* mirror_for(std::string_view ns) const;
  bool empty() const { return projects_.empty(); }

 private:
  std::map<std::string, std::unique_ptr<ProxyProject>, std::less<>> projects_;
  ProxyProject* mirror_ = nullptr;
};

}  // namespace berth::proxy
