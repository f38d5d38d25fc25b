#include "proxy/proxy.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/system/errc.hpp>
#include <deque>
#include <functional>

#include "client/upstream_trust.hpp"
#include "core/media_type.hpp"

namespace berth::proxy {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using core::ErrorCode;

namespace {

// Cached manifests still missing references are stored again for this long after they were
// cached, as their blobs arrive (see the file comment of proxy.hpp).
constexpr auto kPartialWindow = std::chrono::hours(1);
// Bytes read from the upstream and appended to the upload in one trip to the blocking pool;
// each trip costs two posts and a wake-up.
constexpr std::size_t kAppendBatch = 1024 * 1024;
// Batches read but not yet appended, at most: what a fetch holds in memory while the disk is
// slower than the upstream.
constexpr std::size_t kAppendsInFlight = 4;

const std::string& manifest_accept() {
  static const std::string accept = std::string(core::media_type::kOciIndex) + ", " +
                                    std::string(core::media_type::kOciManifest) + ", " +
                                    std::string(core::media_type::kDockerManifestList) + ", " +
                                    std::string(core::media_type::kDockerManifest);
  return accept;
}

std::unexpected<core::Error> upstream_unavailable(ProxyProject& project, std::string what) {
  project.count_upstream_error();
  return core::fail(ErrorCode::kUnavailable, "proxy project '" + project.options().project +
                                                 "': upstream " + project.options().upstream.url +
                                                 " " + std::move(what));
}

// The client's errors mean "the upstream" here: a 401 from our credentials must not look to
// the caller like a problem with theirs.
core::Error as_upstream_error(ProxyProject& project, const core::Error& error) {
  if (error.code == ErrorCode::kUnavailable) {
    project.count_upstream_error();
    return core::Error{ErrorCode::kUnavailable,
                       "proxy project '" + project.options().project + "': " + error.message,
                       {}};
  }
  return upstream_unavailable(project, "refused: " + error.message).error();
}

// Holds one slot of the upstream's concurrency limit.
class Slot {
 public:
  explicit Slot(Limiter& limiter) : limiter_(&limiter) {}
  Slot(Slot&& other) noexcept : limiter_(std::exchange(other.limiter_, nullptr)) {}
  Slot& operator=(Slot&&) = delete;
  ~Slot() { release(); }
  void release() {
    if (limiter_ != nullptr) {
      std::exchange(limiter_, nullptr)->release();
    }
  }
  // Hands the slot to someone who releases it later.
  void dismiss() { limiter_ = nullptr; }

 private:
  Limiter* limiter_;
};

}  // namespace

// How far a blob flight's fetch got, for the streams reading it.
struct BlobProgress {
  // Set when the fetch starts: the upload its bytes go to.
  std::optional<core::UploadId> upload;
  std::uint64_t size = 0;
  // Bytes appended to the upload (written and hashed).
  std::uint64_t durable = 0;
  // All appended, with the digest asked for, within the project's quota: the streams may hand
  // out the last byte while the blob is published.
  bool verified = false;
  // Verified and published.
  bool stored = false;
  // The flight landed; with `stored` false the fetch failed (or never started).
  bool ended = false;
};

// One upstream request shared by concurrent misses. The leader fills in the outcome, then
// sets `done` (and `blob.ended`); followers read it after.
struct Flight {
  std::string key;
  Event done;
  std::optional<Result<ManifestAnswer>> manifest;
  std::optional<core::Error> error;
  bool landed = false;  // touched by the leader only
  // landed, for whoever else must know (the keeper of the fetch's cluster lease).
  std::atomic<bool> finished{false};
  // Blob flights: wakes the streams when `blob` changes. `blob` is guarded by its mutex.
  Notifier progress;
  BlobProgress blob;
};

// A batch being appended to a fetch's upload on the blocking pool. The pool thread writes
// `result`, then sets `done`; the fetch reads `result` and takes `bytes` back after `done`.
struct PendingAppend {
  std::vector<std::byte> bytes;
  Result<void> result;
  Event done;
};

// The upload of a fetch and whether an append to it failed; touched by the appends, which run
// one at a time on the fetch's strand, and by the fetch when none is pending (`broken` at any
// time). Shared with the appends: the fetch's coroutine may be destroyed unfinished (shutdown)
// while one runs.
struct AppendChain {
  std::optional<registry::UploadLease> lease;
  std::atomic<bool> broken{false};
  // Whether the project's quota still holds the whole blob; asked every `recheck` bytes.
  std::function<Result<void>()> admit;
  std::uint64_t recheck = 0;
  std::uint64_t unchecked = 0;
};

// The fetch of one blob from the upstream into an upload, for a flight. It runs as a coroutine
// of its own (run), so it goes at the pace of the upstream and the disk rather than that of a
// client, and a client that goes away does not stop it. It reads the body in batches; each is
// appended (written and hashed) on the blocking pool while the next ones are read, in order
// through a strand, with at most kAppendsInFlight waiting. Each append publishes its progress
// on the flight for the streams. At the end it verifies the bytes (which lets the streams hand
// out their last byte), publishes the blob and lands the flight; on any failure it lands the
// flight with the error and abandons the upload.
class BlobFetch {
 public:
  BlobFetch(ProxyProject& project, core::RepositoryName repo, core::Digest digest,
            std::uint64_t size, std::unique_ptr<client::Response> response,
            registry::UploadLease lease, std::shared_ptr<Flight> flight);
  ~BlobFetch();
  BlobFetch(const BlobFetch&) = delete;
  BlobFetch& operator=(const BlobFetch&) = delete;

  // Fetches to the end; holds `self` until then.
  static asio::awaitable<void> run(std::shared_ptr<BlobFetch> self);

 private:
  asio::awaitable<void> pump();
  // Lands the flight with `error` and gives the upload up, after the appends in flight.
  asio::awaitable<void> fail(core::Error error);
  void start_append(std::vector<std::byte> bytes);
  // Awaits the oldest append in flight: its error, or nothing.
  asio::awaitable<std::optional<core::Error>> await_oldest();

  ProxyProject& project_;
  core::RepositoryName repo_;
  core::Digest digest_;
  std::uint64_t size_;
  std::unique_ptr<client::Response> response_;
  std::shared_ptr<AppendChain> chain_;
  std::shared_ptr<Flight> flight_;
  asio::strand<asio::thread_pool::executor_type> strand_;
  std::deque<std::shared_ptr<PendingAppend>> pending_;
  // Buffers of finished appends, for the next batches.
  std::vector<std::vector<std::byte>> spares_;
  std::uint64_t received_ = 0;
  bool stored_ = false;
};

// ---------------------------------------------------------------------------- ProxyProject

Result<std::unique_ptr<ProxyProject>> ProxyProject::make(ProxyOptions options,
                                                         registry::Registry& registry,
                                                         meta::ProxyStore& state,
                                                         http::BlockingPool& pool,
                                                         const core::Clock& clock) {
  auto client = client::RegistryClient::make(options.upstream, clock);
  if (!client) {
    return std::unexpected(client.error());
  }
  return std::unique_ptr<ProxyProject>(
      new ProxyProject(std::move(options), std::move(*client), registry, state, pool, clock));
}

ProxyProject::ProxyProject(ProxyOptions options, std::unique_ptr<client::RegistryClient> client,
                           registry::Registry& registry, meta::ProxyStore& state,
                           http::BlockingPool& pool, const core::Clock& clock)
    : options_(std::move(options)),
      client_(std::move(client)),
      registry_(registry),
      state_(state),
      pool_(pool),
      clock_(clock),
      limiter_(std::max<std::size_t>(1, options_.concurrency)) {}

ProxyProject::~ProxyProject() = default;

ProxyStats ProxyProject::stats() {
  std::lock_guard lock(mutex_);
  ProxyStats out = stats_;
  out.upstream_errors = upstream_errors_.load(std::memory_order_relaxed);
  return out;
}

std::string ProxyProject::upstream_name(const core::RepositoryName& repo) const {
  const std::string& name = repo.str();
  if (name.size() <= options_.project.size() + 1) {
    return {};
  }
  std::string rest = name.substr(options_.project.size() + 1);
  if (rest.find('/') == std::string::npos && client::is_docker_hub(client_->base().host)) {
    rest = "library/" + rest;
  }
  return rest;
}

std::optional<core::Error> ProxyProject::check_name(const core::RepositoryName& repo) const {
  if (!upstream_name(repo).empty()) {
    return std::nullopt;
  }
  return core::Error{ErrorCode::kNameUnknown,
                     "proxy project '" + options_.project +
                         "' caches repositories below it, like " + options_.project +
                         "/library/alpine",
                     {}};
}

client::Request ProxyProject::upstream_request(const core::RepositoryName& repo,
                                               std::string_view kind, const std::string& argument,
                                               bool head) const {
  const std::string name = upstream_name(repo);
  client::Request request;
  request.method = head ? bhttp::verb::head : bhttp::verb::get;
  request.target = "/v2/" + name + "/" + std::string(kind) + "/" + argument;
  request.scope = "repository:" + name + ":pull";
  if (kind == "manifests") {
    request.accept = manifest_accept();
  }
  return request;
}

std::pair<std::shared_ptr<Flight>, bool> ProxyProject::join(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = flights_.try_emplace(key);
  if (inserted) {
    it->second = std::make_shared<Flight>();
    it->second->key = key;
  }
  return {it->second, inserted};
}

void ProxyProject::land(const std::string& key, const std::shared_ptr<Flight>& flight) {
  if (flight->landed) {
    return;
  }
  flight->landed = true;
  {
    std::lock_guard lock(mutex_);
    auto it = flights_.find(key);
    if (it != flights_.end() && it->second == flight) {
      flights_.erase(it);
    }
  }
  flight->finished = true;
  flight->progress.notify([&flight] { flight->blob.ended = true; });
  flight->done.set();
}

void ProxyProject::mark_checked(const core::RepositoryName& repo, const core::Tag& tag,
                                const core::Digest& digest) {
  // Losing this record costs one HEAD upstream on the next pull, nothing more.
  if (auto recorded = state_.put_cached_tag(repo, tag, meta::CachedTag{digest, clock_.now()});
      !recorded) {
    spdlog::warn("proxy project '{}': cannot record the check of {}:{}: {}", options_.project,
                 repo.str(), tag.str(), recorded.error().message);
  }
}

void ProxyProject::remember_partial(const core::RepositoryName& repo,
                                    const core::Digest& manifest) {
  if (auto recorded = state_.put_partial_manifest(repo, manifest, clock_.now()); !recorded) {
    // Then its references fill in only when it is pulled again by digest or tag.
    spdlog::warn("proxy project '{}': cannot record partially cached {}@{}: {}", options_.project,
                 repo.str(), manifest.str(), recorded.error().message);
  }
}

void ProxyProject::fill_references(const core::RepositoryName& repo) {
  auto pending = state_.partial_manifests(repo, clock_.now() - kPartialWindow);
  if (!pending) {
    spdlog::warn("proxy project '{}': cannot list the partially cached manifests of {}: {}",
                 options_.project, repo.str(), pending.error().message);
    return;
  }
  for (const auto& digest : *pending) {
    // Idempotent: records the references that have arrived since.
    auto refilled = registry_.refill_manifest(repo, digest);
    if (!refilled && refilled.error().code != ErrorCode::kManifestUnknown) {
      continue;
    }
    if (!refilled || refilled->missing_references == 0) {
      (void)state_.forget_partial_manifest(repo, digest);
    }
  }
}

Result<bool> ProxyProject::ensure_linked(const core::RepositoryName& repo,
                                         const core::Digest& digest) {
  auto stat = registry_.stat_blob(repo, digest);
  if (stat) {
    return true;
  }
  if (stat.error().code != ErrorCode::kBlobUnknown) {
    return std::unexpected(stat.error());
  }
  auto holder = state_.repository_linking(options_.project, digest);
  if (!holder) {
    return std::unexpected(holder.error());
  }
  if (!*holder) {
    return false;
  }
  // The registry's mount: linked only while the holder still links it, within the quota.
  auto mounted = registry_.mount_blob(repo, digest, **holder);
  if (!mounted) {
    return std::unexpected(mounted.error());
  }
  if (!*mounted) {
    return false;
  }
  fill_references(repo);
  {
    std::lock_guard lock(mutex_);
    ++stats_.blob_links;
  }
  spdlog::info("proxy project '{}': linked blob {} into {} from {}", options_.project, digest.str(),
               repo.str(), holder->value().str());
  return true;
}

std::string ProxyProject::blob_key(const core::Digest& digest) const {
  return "blob " + options_.project + "@" + digest.str();
}

asio::awaitable<Result<ProxyProject::Local>> ProxyProject::look_up(
    const core::RepositoryName& repo, const core::Reference& reference) {
  auto read = [&]() -> Result<Local> {
    Local local;
    auto content = registry_.read_manifest(repo, reference);
    if (content) {
      local.manifest =
          ManifestAnswer{std::move(content->record), std::move(content->bytes), false, false};
    } else if (content.error().code != ErrorCode::kManifestUnknown) {
      return std::unexpected(content.error());
    }
    if (local.manifest && reference.is_tag()) {
      auto cached = state_.cached_tag(repo, reference.tag());
      if (!cached) {
        return std::unexpected(cached.error());
      }
      local.cached_tag = std::move(*cached);
    }
    return local;
  };
  co_return co_await http::offload(pool_, std::move(read));
}

bool ProxyProject::fresh(Local& local, const core::Reference& reference) {
  if (!local.manifest) {
    return false;
  }
  if (reference.is_digest()) {
    return true;
  }
  const bool cached_here =
      local.cached_tag && local.cached_tag->digest == local.manifest->record.digest;
  if (!cached_here && options_.overlay) {
    local.manifest->local = true;
    return true;
  }
  return cached_here && clock_.now() - local.cached_tag->checked < options_.manifest_ttl;
}

asio::awaitable<Result<ManifestAnswer>> ProxyProject::manifest(const core::RepositoryName& repo,
                                                               const core::Reference& reference,
                                                               bool head) {
  auto answered = co_await find_manifest(repo, reference);
  if (answered && !head) {
    registry_.record_pull(repo, answered->record.digest,
                          reference.is_tag() ? std::optional(reference.tag()) : std::nullopt);
  }
  co_return answered;
}

asio::awaitable<Result<ManifestAnswer>> ProxyProject::find_manifest(
    const core::RepositoryName& repo, const core::Reference& reference) {
  if (auto unnamed = check_name(repo)) {
    co_return std::unexpected(*unnamed);
  }
  auto local = co_await look_up(repo, reference);
  if (!local) {
    co_return std::unexpected(local.error());
  }
  if (fresh(*local, reference)) {
    std::lock_guard lock(mutex_);
    ++stats_.manifest_hits;
    co_return std::move(*local->manifest);
  }
  const std::string key = "manifest " + repo.str() + ":" + reference.str();
  auto [flight, leader] = join(key);
  if (!leader) {
    co_await flight->done.wait();
    co_return *flight->manifest;
  }
  // A flight may have landed between our look at the cache and our join: look again, or N
  // clients arriving together could each lead a flight of their own, one after the other.
  local = co_await look_up(repo, reference);
  if (local && fresh(*local, reference)) {
    flight->manifest = std::move(*local->manifest);
    land(key, flight);
    co_return *flight->manifest;
  }
  Result<ManifestAnswer> result = core::fail(ErrorCode::kInternal, "proxy: no result");
  try {
    if (!local) {
      result = std::unexpected(local.error());
    } else if (reference.is_digest()) {
      result = co_await fetch_manifest(repo, reference, reference.str());
    } else {
      // Staleness counts from the last check; for a tag cached before checks were recorded,
      // from when it was cached.
      core::TimePoint since;
      if (local->cached_tag) {
        since = local->cached_tag->checked;
      } else if (local->manifest) {
        since = local->manifest->record.created;
      }
      result = co_await refresh_tag(repo, reference, std::move(local->manifest), since);
    }
  } catch (const std::exception& e) {
    result = core::fail(ErrorCode::kInternal, std::string("proxy: ") + e.what());
  }
  flight->manifest = result;
  land(key, flight);
  co_return result;
}

asio::awaitable<Result<ManifestAnswer>> ProxyProject::refresh_tag(
    const core::RepositoryName& repo, const core::Reference& reference,
    std::optional<ManifestAnswer> cached, core::TimePoint checked) {
  const std::string tag_key = repo.str() + ":" + reference.str();
  Result<ManifestAnswer> result = core::fail(ErrorCode::kInternal, "proxy: no result");
  {
    co_await limiter_.acquire();
    Slot slot(limiter_);
    auto head_request = upstream_request(repo, "manifests", reference.str(), true);
    auto head = co_await client_->send(std::move(head_request));
    slot.release();
    if (!head) {
      result = std::unexpected(as_upstream_error(*this, head.error()));
    } else if ((*head)->status() == 404) {
      co_return core::fail(
          ErrorCode::kManifestUnknown,
          "manifest unknown upstream: " + upstream_name(repo) + ":" + reference.str(),
          "\"" + reference.str() + "\"");
    } else if ((*head)->status() != 200) {
      result =
          upstream_unavailable(*this, "answered " + std::to_string((*head)->status()) + " for " +
                                          upstream_name(repo) + ":" + reference.str());
    } else {
      const std::string upstream_digest((*head)->header()["Docker-Content-Digest"]);
      if (cached && !upstream_digest.empty() && upstream_digest == cached->record.digest.str()) {
        auto mark = [&] { mark_checked(repo, reference.tag(), cached->record.digest); };
        co_await http::offload(pool_, std::move(mark));
        std::lock_guard lock(mutex_);
        ++stats_.manifest_hits;
        co_return std::move(*cached);
      }
      // Fetch by digest when the upstream named one: what we store is then what it named.
      std::string upstream_reference = reference.str();
      if (auto parsed = core::Digest::parse(upstream_digest); parsed) {
        upstream_reference = parsed->str();
      }
      result = co_await fetch_manifest(repo, reference, upstream_reference);
    }
  }
  if (result || result.error().code != ErrorCode::kUnavailable) {
    co_return result;
  }
  // Stale-if-error.
  const auto age = clock_.now() - checked;
  if (cached && options_.max_staleness.count() > 0 && age <= options_.max_staleness) {
    spdlog::warn("proxy project '{}': serving {} stale (last checked {} s ago): {}",
                 options_.project, tag_key,
                 std::chrono::duration_cast<std::chrono::seconds>(age).count(),
                 result.error().message);
    {
      std::lock_guard lock(mutex_);
      ++stats_.stale_serves;
    }
    cached->stale = true;
    co_return std::move(*cached);
  }
  if (cached) {
    result.error().message +=
        "; the cached copy is older than the project's max_staleness, so it is not served";
  }
  co_return result;
}

asio::awaitable<Result<ManifestAnswer>> ProxyProject::fetch_manifest(
    const core::RepositoryName& repo, const core::Reference& reference,
    std::string upstream_reference) {
  const std::string what = upstream_name(repo) +
                           (upstream_reference.find(':') == std::string::npos ? ":" : "@") +
                           upstream_reference;
  std::string bytes;
  std::string content_type;
  std::string claimed_digest;
  {
    co_await limiter_.acquire();
    Slot slot(limiter_);
    auto response_request = upstream_request(repo, "manifests", upstream_reference, false);
    auto response = co_await client_->send(std::move(response_request));
    if (!response) {
      co_return std::unexpected(as_upstream_error(*this, response.error()));
    }
    auto& upstream = **response;
    if (upstream.status() == 404) {
      co_return core::fail(ErrorCode::kManifestUnknown, "manifest unknown upstream: " + what,
                           "\"" + reference.str() + "\"");
    }
    if (upstream.status() != 200) {
      co_return upstream_unavailable(
          *this, "answered " + std::to_string(upstream.status()) + " for " + what);
    }
    auto body = co_await upstream.read_all(options_.max_manifest_bytes);
    if (!body) {
      co_return std::unexpected(as_upstream_error(*this, body.error()));
    }
    bytes = std::move(*body);
    content_type = std::string(upstream.header()[bhttp::field::content_type]);
    claimed_digest = std::string(upstream.header()["Docker-Content-Digest"]);
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.manifest_fetches;
  }
  if (auto claimed = core::Digest::parse(claimed_digest); claimed) {
    auto actual = core::Digest::of(bytes, claimed->algorithm());
    if (actual != *claimed) {
      co_return upstream_unavailable(*this, "sent manifest " + what + " whose bytes hash to " +
                                                actual.str() + ", not " + claimed->str());
    }
  }
  auto store = [&] { return registry_.cache_manifest(repo, reference, bytes, content_type); };
  auto stored = co_await http::offload(pool_, std::move(store));
  if (!stored) {
    // DIGEST_INVALID (bytes not matching the digest asked for), MANIFEST_INVALID (schema 1):
    // not ours to serve.
    spdlog::warn("proxy project '{}': not caching {}: {}", options_.project, what,
                 stored.error().message);
    co_return std::unexpected(stored.error());
  }
  const core::Digest digest = stored->digest;
  const bool partial = stored->missing_references > 0;
  auto read_back = [this, &repo, &reference, &digest, partial] {
    if (reference.is_tag()) {
      mark_checked(repo, reference.tag(), digest);
    }
    // An index cached now may name children cached before: record those too.
    fill_references(repo);
    if (partial) {
      remember_partial(repo, digest);
    }
    return registry_.read_manifest(repo, core::Reference(digest));
  };
  auto content = co_await http::offload(pool_, std::move(read_back));
  if (!content) {
    co_return std::unexpected(content.error());
  }
  spdlog::info("proxy project '{}': cached manifest {} as {}@{}", options_.project, what,
               repo.str(), digest.str());
  ManifestAnswer answer{std::move(content->record), std::move(content->bytes), false, true};
  co_return answer;
}

asio::awaitable<std::vector<core::Tag>> ProxyProject::note_push(const core::RepositoryName& repo,
                                                                std::vector<core::Tag> tags) {
  std::vector<core::Tag> shadowed;
  if (check_name(repo)) {
    co_return shadowed;
  }
  for (const auto& tag : tags) {
    auto forget = [&] { return state_.forget_cached_tag(repo, tag); };
    if (auto forgotten = co_await http::offload(pool_, std::move(forget)); !forgotten) {
      spdlog::warn("overlay project '{}': cannot record that {}:{} was pushed: {}",
                   options_.project, repo.str(), tag.str(), forgotten.error().message);
    }
    co_await limiter_.acquire();
    Slot slot(limiter_);
    auto request = upstream_request(repo, "manifests", tag.str(), true);
    auto head = co_await client_->send(std::move(request));
    slot.release();
    if (!head || (*head)->status() != 200) {
      continue;
    }
    const std::string upstream_digest((*head)->header()["Docker-Content-Digest"]);
    spdlog::warn(
        "overlay project '{}': the push of {}:{} shadows {}:{} of {} ({}); pulls of the tag get "
        "the pushed manifest",
        options_.project, repo.str(), tag.str(), upstream_name(repo), tag.str(),
        options_.upstream.url, upstream_digest.empty() ? "digest not given" : upstream_digest);
    shadowed.push_back(tag);
  }
  co_return shadowed;
}

asio::awaitable<Result<std::unique_ptr<client::Response>>> ProxyProject::request_blob(
    const core::RepositoryName& repo, const core::Digest& digest, bool head) {
  const std::string what = upstream_name(repo) + "@" + digest.str();
  auto request = upstream_request(repo, "blobs", digest.str(), head);
  auto response = co_await client_->send(std::move(request));
  if (!response) {
    co_return std::unexpected(as_upstream_error(*this, response.error()));
  }
  const unsigned status = (*response)->status();
  if (status == 404) {
    co_return core::fail(ErrorCode::kBlobUnknown, "blob unknown upstream: " + what,
                         "\"" + digest.str() + "\"");
  }
  if (status != 200) {
    co_return upstream_unavailable(*this, "answered " + std::to_string(status) + " for " + what);
  }
  if (!(*response)->content_length()) {
    co_return upstream_unavailable(*this, "sent " + what + " without a Content-Length");
  }
  co_return std::move(*response);
}

asio::awaitable<Result<BlobAnswer>> ProxyProject::blob(const core::RepositoryName& repo,
                                                       const core::Digest& digest, bool head) {
  if (auto unnamed = check_name(repo)) {
    co_return std::unexpected(*unnamed);
  }
  auto linked = co_await http::offload(pool_, [&] { return ensure_linked(repo, digest); });
  if (!linked) {
    co_return std::unexpected(linked.error());
  }
  if (*linked) {
    co_return BlobAnswer{};
  }
  if (head) {
    co_await limiter_.acquire();
    Slot slot(limiter_);
    auto response = co_await request_blob(repo, digest, true);
    if (!response) {
      co_return std::unexpected(response.error());
    }
    BlobAnswer answer;
    answer.head_size = *(*response)->content_length();
    co_return answer;
  }
  const std::string key = blob_key(digest);
  auto [flight, leader] = join(key);
  if (!leader) {
    // Stream along once the fetch has started; if the flight ends first, it has the answer.
    std::optional<std::uint64_t> size;
    bool ended = false;
    Flight* joined = flight.get();
    std::function<bool()> started = [joined, &size, &ended] {
      if (joined->blob.upload) {
        size = joined->blob.size;
      }
      ended = joined->blob.ended;
      return size || ended;
    };
    co_await flight->progress.wait(std::move(started));
    if (size && !ended) {
      BlobAnswer answer;
      answer.stream = std::make_shared<BlobStream>(*this, repo, digest, flight, *size);
      co_return answer;
    }
    if (flight->error) {
      co_return std::unexpected(*flight->error);
    }
    // Stored, perhaps by a request for another repository of the project.
    auto adopted = co_await http::offload(pool_, [&] { return ensure_linked(repo, digest); });
    if (!adopted) {
      co_return std::unexpected(adopted.error());
    }
    if (!*adopted) {
      co_return core::fail(ErrorCode::kUnavailable, "proxy project '" + options_.project +
                                                        "': blob " + digest.str() +
                                                        " was fetched and is gone again; retry");
    }
    co_return BlobAnswer{};
  }
  Result<BlobAnswer> started = core::fail(ErrorCode::kInternal, "proxy: no result");
  try {
    started = co_await start_blob(repo, digest, flight);
  } catch (const std::exception& e) {
    started = core::fail(ErrorCode::kInternal, std::string("proxy: ") + e.what());
  }
  if (!started) {
    flight->error = started.error();
    land(key, flight);
  } else if (!started->stream) {
    land(key, flight);
  }
  co_return started;
}

asio::awaitable<Result<BlobAnswer>> ProxyProject::start_blob(const core::RepositoryName& repo,
                                                             const core::Digest& digest,
                                                             std::shared_ptr<Flight> flight) {
  // A flight that landed between our miss and our join stored it already.
  auto linked = co_await http::offload(pool_, [&] { return ensure_linked(repo, digest); });
  if (!linked) {
    co_return std::unexpected(linked.error());
  }
  if (*linked) {
    co_return BlobAnswer{};
  }
  if (const auto& leases = options_.fetch_leases; leases.store != nullptr) {
    const std::string lease = fetch_lease_name(options_.project, digest);
    // Named, not a temporary in the co_await: GCC 12 destroys such temporaries wrongly.
    std::function<Result<bool>()> stored = [this, repo, digest] {
      return ensure_linked(repo, digest);
    };
    auto claimed = co_await claim_fetch_lease(leases, pool_, clock_, lease, std::move(stored));
    if (!claimed) {
      co_return std::unexpected(claimed.error());
    }
    if (!*claimed) {
      co_return BlobAnswer{};  // another replica stored it
    }
    // From here the flight lands whatever happens (blob()), and the lease goes with it.
    auto executor = co_await asio::this_coro::executor;
    std::function<bool()> finished = [flight] { return flight->finished.load(); };
    asio::co_spawn(executor, keep_fetch_lease(leases, pool_, clock_, lease, std::move(finished)),
                   asio::detached);
  }
  co_await limiter_.acquire();
  Slot slot(limiter_);
  auto response = co_await request_blob(repo, digest, false);
  if (!response) {
    co_return std::unexpected(response.error());
  }
  const std::uint64_t length = *(*response)->content_length();
  // Before the body: a blob the quota cannot hold is not worth a byte of it (the response,
  // unread, closes its connection).
  auto admit = [&] { return registry_.admit_blob(repo, digest, length); };
  if (auto admitted = co_await http::offload(pool_, std::move(admit)); !admitted) {
    core::Error refused = admitted.error();
    refused.message = "proxy project '" + options_.project + "': not fetching " +
                      upstream_name(repo) + "@" + digest.str() + ": " + refused.message;
    co_return std::unexpected(std::move(refused));
  }
  auto start = [&] { return registry_.start_single_request_upload(repo); };
  auto lease = co_await http::offload(pool_, std::move(start));
  if (!lease) {
    co_return std::unexpected(lease.error());
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.blob_fetches;
  }
  spdlog::info("proxy project '{}': fetching {}@{} ({} bytes)", options_.project,
               upstream_name(repo), digest.str(), length);
  const core::UploadId upload = lease->id();
  flight->progress.notify([&flight, &upload, length] {
    flight->blob.upload = upload;
    flight->blob.size = length;
  });
  auto fetch = std::make_shared<BlobFetch>(*this, repo, digest, length, std::move(*response),
                                           std::move(*lease), flight);
  // The slot goes with the fetch: it is released when the fetch ends.
  slot.dismiss();
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, BlobFetch::run(std::move(fetch)), asio::detached);
  BlobAnswer answer;
  answer.stream = std::make_shared<BlobStream>(*this, repo, digest, std::move(flight), length);
  co_return answer;
}

// ---------------------------------------------------------------------------- BlobFetch

BlobFetch::BlobFetch(ProxyProject& project, core::RepositoryName repo, core::Digest digest,
                     std::uint64_t size, std::unique_ptr<client::Response> response,
                     registry::UploadLease lease, std::shared_ptr<Flight> flight)
    : project_(project),
      repo_(std::move(repo)),
      digest_(std::move(digest)),
      size_(size),
      response_(std::move(response)),
      chain_(std::make_shared<AppendChain>()),
      flight_(std::move(flight)),
      strand_(asio::make_strand(project.pool_.executor())) {
  chain_->lease.emplace(std::move(lease));
  chain_->recheck = std::max<std::uint64_t>(1, project.options_.quota_recheck_bytes);
  chain_->admit = [&registry = project.registry_, repo = repo_, digest = digest_, size] {
    return registry.admit_blob(repo, digest, size);
  };
}

BlobFetch::~BlobFetch() {
  if (!flight_->landed) {
    if (!stored_ && !flight_->error) {
      flight_->error = core::Error{
          ErrorCode::kUnavailable, "proxy: the fetch of " + digest_.str() + " was abandoned", {}};
    }
    project_.land(flight_->key, flight_);
  }
  project_.limiter_.release();
}

asio::awaitable<void> BlobFetch::run(std::shared_ptr<BlobFetch> self) {
  std::optional<core::Error> crashed;
  try {
    co_await self->pump();
  } catch (const std::exception& e) {
    crashed = core::Error{ErrorCode::kInternal, std::string("proxy: ") + e.what(), {}};
  }
  if (crashed && !self->flight_->landed) {
    co_await self->fail(std::move(*crashed));
  }
}

void BlobFetch::start_append(std::vector<std::byte> bytes) {
  auto pending = std::make_shared<PendingAppend>();
  pending->bytes = std::move(bytes);
  pending_.push_back(pending);
  // Holds what it touches: the fetch may be gone when it ends (see AppendChain).
  asio::post(strand_, [pending, chain = chain_, flight = flight_] {
    if (chain->broken || !chain->lease) {
      pending->result = core::fail(ErrorCode::kInternal, "proxy: an earlier append failed");
    } else {
      try {
        pending->result = chain->lease->append(pending->bytes);
        chain->unchecked += pending->bytes.size();
        if (pending->result && chain->unchecked >= chain->recheck) {
          // Others may have filled the quota since the fetch began: stop within `recheck`.
          chain->unchecked = 0;
          pending->result = chain->admit();
        }
      } catch (const std::exception& e) {
        pending->result =
            core::fail(ErrorCode::kInternal, std::string("proxy: append: ") + e.what());
      }
      chain->broken = !pending->result;
    }
    if (pending->result) {
      const std::uint64_t appended = pending->bytes.size();
      flight->progress.notify([&flight, appended] { flight->blob.durable += appended; });
    }
    pending->done.set();
  });
}

asio::awaitable<std::optional<core::Error>> BlobFetch::await_oldest() {
  std::shared_ptr<PendingAppend> oldest = pending_.front();
  co_await oldest->done.wait();
  pending_.pop_front();
  // The pool thread is done with the bytes once `done` is set.
  spares_.push_back(std::move(oldest->bytes));
  if (!oldest->result) {
    co_return oldest->result.error();
  }
  co_return std::nullopt;
}

asio::awaitable<void> BlobFetch::fail(core::Error error) {
  spdlog::warn("proxy project '{}': fetching {}@{} failed after {} of {} bytes; nothing cached: {}",
               project_.options_.project, repo_.str(), digest_.str(), received_, size_,
               error.message);
  flight_->error = std::move(error);
  project_.land(flight_->key, flight_);
  // The appends in flight write to the upload: give it up after them.
  while (!pending_.empty()) {
    (void)co_await await_oldest();
  }
  if (chain_->lease) {
    AppendChain* chain = chain_.get();
    auto abandon = [this, chain] {
      project_.registry_.abandon_upload(std::move(*chain->lease));
      chain->lease.reset();
    };
    co_await http::offload(project_.pool_, std::move(abandon));
  }
}

asio::awaitable<void> BlobFetch::pump() {
  while (received_ < size_) {
    // A failed append stops the fetch at the next batch: nothing more is worth reading.
    while (!pending_.empty() && (pending_.size() >= kAppendsInFlight || chain_->broken)) {
      auto oldest = co_await await_oldest();
      if (oldest) {
        co_return co_await fail(std::move(*oldest));
      }
    }
    std::vector<std::byte> batch;
    if (!spares_.empty()) {
      batch = std::move(spares_.back());
      spares_.pop_back();
    }
    batch.resize(
        static_cast<std::size_t>(std::min<std::uint64_t>(kAppendBatch, size_ - received_)));
    std::size_t got = 0;
    std::optional<core::Error> problem;
    while (got < batch.size()) {
      const std::span<std::byte> rest = std::span(batch).subspan(got);
      auto more = co_await response_->read(rest);
      if (!more) {
        problem = as_upstream_error(project_, more.error());
        break;
      }
      if (*more == 0) {
        problem = upstream_unavailable(
                      project_, "closed the connection after " + std::to_string(received_ + got) +
                                    " of " + std::to_string(size_) + " bytes of " + digest_.str())
                      .error();
        break;
      }
      got += *more;
    }
    if (problem) {
      co_return co_await fail(std::move(*problem));
    }
    received_ += got;
    {
      std::lock_guard lock(project_.mutex_);
      project_.stats_.blob_bytes_fetched += got;
    }
    start_append(std::move(batch));
  }
  while (!pending_.empty()) {
    auto oldest = co_await await_oldest();
    if (oldest) {
      co_return co_await fail(std::move(*oldest));
    }
  }
  AppendChain* chain = chain_.get();
  // The publication makes the upload durable (an fsync of the whole blob) before it links it:
  // the streams need not wait for that, only for the bytes being right. Anything unusual
  // (another algorithm, a mismatch, over quota) is finish_upload's to report.
  auto check = [this, chain] {
    return chain->lease->digest() == digest_ &&
           project_.registry_.admit_blob(repo_, digest_, size_).has_value();
  };
  const bool verified = co_await http::offload(project_.pool_, std::move(check));
  if (verified) {
    flight_->progress.notify([this] { flight_->blob.verified = true; });
  }
  auto publish = [this, chain]() -> Result<registry::BlobStat> {
    auto finished = project_.registry_.finish_upload(std::move(*chain->lease), digest_);
    chain->lease.reset();
    if (finished) {
      project_.fill_references(repo_);
    }
    return finished;
  };
  auto published = co_await http::offload(project_.pool_, std::move(publish));
  if (!published) {
    core::Error error = published.error();
    co_return co_await fail(std::move(error));
  }
  stored_ = true;
  spdlog::info("proxy project '{}': cached blob {}@{} ({} bytes)", project_.options_.project,
               repo_.str(), digest_.str(), size_);
  flight_->progress.notify([this] { flight_->blob.stored = true; });
  project_.land(flight_->key, flight_);
}

// ---------------------------------------------------------------------------- BlobStream

BlobStream::BlobStream(ProxyProject& project, core::RepositoryName repo, core::Digest digest,
                       std::shared_ptr<Flight> flight, std::uint64_t size)
    : project_(project),
      repo_(std::move(repo)),
      digest_(std::move(digest)),
      flight_(std::move(flight)),
      size_(size) {}

BlobStream::~BlobStream() = default;

asio::awaitable<http::IoResult<std::size_t>> BlobStream::next(std::span<std::byte> out) {
  const auto io_error = boost::system::errc::make_error_code(boost::system::errc::io_error);
  if (offset_ >= size_) {
    co_return 0;
  }
  for (;;) {
    BlobProgress now;
    Flight* flight = flight_.get();
    const std::uint64_t offset = offset_;
    const std::uint64_t size = size_;
    const bool upload_gone = upload_gone_;
    std::function<bool()> ready = [flight, &now, offset, size, upload_gone] {
      now = flight->blob;
      // The last byte waits for the verification.
      const std::uint64_t limit =
          now.verified || now.stored ? size : std::min(now.durable, size - 1);
      return now.ended || now.stored || (!upload_gone && limit > offset);
    };
    co_await flight_->progress.wait(std::move(ready));
    if (now.ended && !now.stored) {
      co_return std::unexpected(io_error);
    }
    const std::uint64_t limit =
        now.verified || now.stored ? size_ : std::min(now.durable, size_ - 1);
    if (!reader_ || reader_->size() <= offset_) {
      Result<std::unique_ptr<storage::BlobReader>> opened = nullptr;
      if (now.stored) {
        // Stored in the repository of the request that led the fetch, maybe not this one.
        auto open = [this]() -> Result<std::unique_ptr<storage::BlobReader>> {
          if (auto linked = project_.ensure_linked(repo_, digest_); !linked) {
            return std::unexpected(linked.error());
          }
          return project_.registry_.open_blob(repo_, digest_);
        };
        opened = co_await http::offload(project_.pool_, std::move(open));
      } else {
        const core::UploadId upload = *now.upload;
        auto open = [this, &upload] { return project_.registry_.read_upload(upload); };
        opened = co_await http::offload(project_.pool_, std::move(open));
        if (!opened) {
          // Published and removed meanwhile: the blob will do once the flight says so.
          upload_gone_ = true;
          continue;
        }
      }
      if (!opened || (*opened)->size() <= offset_) {
        co_return std::unexpected(io_error);
      }
      reader_ = std::move(*opened);
    }
    const std::uint64_t end = std::min(limit, reader_->size());
    const std::span<std::byte> want =
        out.first(static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), end - offset_)));
    storage::BlobReader* reader = reader_.get();
    auto read = [reader, offset, want] { return reader->read_at(offset, want); };
    auto got = co_await http::offload(project_.pool_, std::move(read));
    if (!got || *got == 0) {
      co_return std::unexpected(io_error);
    }
    offset_ += *got;
    co_return *got;
  }
}

asio::awaitable<void> BlobStream::finish() {
  bool stored = false;
  Flight* flight = flight_.get();
  std::function<bool()> ended = [flight, &stored] {
    stored = flight->blob.stored;
    return flight->blob.ended;
  };
  co_await flight_->progress.wait(std::move(ended));
  if (stored) {
    auto link = [this] { return project_.ensure_linked(repo_, digest_); };
    auto linked = co_await http::offload(project_.pool_, std::move(link));
    stored = linked && *linked;
  }
  stored_ = stored;
}

// ---------------------------------------------------------------------------- Proxies

void Proxies::add(std::unique_ptr<ProxyProject> project) {
  if (project->options().mirror) {
    mirror_ = project.get();
  }
  const std::string name = project->options().project;
  projects_[name] = std::move(project);
}

ProxyProject* Proxies::mirror_for(std::string_view ns) const {
  auto serves = [ns](const ProxyProject& project) {
    auto url = client::parse_url(project.options().upstream.url);
    return url && (ns == url->authority() || ns == url->host ||
                   (ns == "docker.io" && client::is_docker_hub(url->host)));
  };
  if (mirror_ != nullptr && serves(*mirror_)) {
    return mirror_;
  }
  for (const auto& [name, project] : projects_) {
    if (serves(*project)) {
      return project.get();
    }
  }
  return nullptr;
}

std::vector<ProxyProject*> Proxies::all() const {
  std::vector<ProxyProject*> out;
  for (const auto& [name, project] : projects_) {
    out.push_back(project.get());
  }
  return out;
}

ProxyProject* Proxies::find(std::string_view project) const {
  auto it = projects_.find(project);
  return it == projects_.end() ? nullptr : it->second.get();
}

}  // namespace berth::proxy
