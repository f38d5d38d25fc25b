#include "proxy/proxy.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/system/errc.hpp>

#include "core/media_type.hpp"

namespace berth::proxy {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using core::ErrorCode;

namespace {

// Cached manifests still missing references are stored again for this long after they were
// cached, as their blobs arrive (see the file comment of proxy.hpp).
constexpr auto kPartialWindow = std::chrono::hours(1);
constexpr std::size_t kMaxPartialPerRepository = 64;
constexpr std::size_t kDrainBuffer = 256 * 1024;
// Bytes appended to an upload in one trip to the blocking pool. The client's pieces are
// smaller (the server's stream buffer); each trip costs two posts and a wake-up.
constexpr std::size_t kAppendBatch = 1024 * 1024;

const std::string& manifest_accept() {
  static const std::string accept = std::string(core::media_type::kOciIndex) + ", " +
                                    std::string(core::media_type::kOciManifest) + ", " +
                                    std::string(core::media_type::kDockerManifestList) + ", " +
                                    std::string(core::media_type::kDockerManifest);
  return accept;
}

bool is_docker_hub(const std::string& host) {
  return host == "registry-1.docker.io" || host == "docker.io" || host == "index.docker.io" ||
         host == "registry.hub.docker.com";
}

std::unexpected<core::Error> upstream_unavailable(const ProxyProject& project, std::string what) {
  return core::fail(ErrorCode::kUnavailable, "proxy project '" + project.options().project +
                                                 "': upstream " + project.options().upstream.url +
                                                 " " + std::move(what));
}

// The client's errors mean "the upstream" here: a 401 from our credentials must not look to
// the caller like a problem with theirs.
core::Error as_upstream_error(const ProxyProject& project, const core::Error& error) {
  if (error.code == ErrorCode::kUnavailable) {
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

// One upstream request shared by concurrent misses. The leader fills in the outcome, then
// sets `done`; followers read it after.
struct Flight {
  std::string key;
  Event done;
  std::optional<Result<ManifestAnswer>> manifest;
  std::optional<core::Error> error;
  bool landed = false;  // touched by the leader only
};

// A batch being appended to a fetch's upload on the blocking pool. The pool thread writes
// `result`, then sets `done`; the fetch reads `result` and takes `bytes` back after `done`.
struct PendingAppend {
  std::vector<std::byte> bytes;
  Result<void> result;
  Event done;
};

// ---------------------------------------------------------------------------- ProxyProject

Result<std::unique_ptr<ProxyProject>> ProxyProject::make(ProxyOptions options,
                                                         registry::Registry& registry,
                                                         http::BlockingPool& pool,
                                                         const core::Clock& clock) {
  auto client = client::RegistryClient::make(options.upstream, clock);
  if (!client) {
    return std::unexpected(client.error());
  }
  return std::unique_ptr<ProxyProject>(
      new ProxyProject(std::move(options), std::move(*client), registry, pool, clock));
}

ProxyProject::ProxyProject(ProxyOptions options, std::unique_ptr<client::RegistryClient> client,
                           registry::Registry& registry, http::BlockingPool& pool,
                           const core::Clock& clock)
    : options_(std::move(options)),
      client_(std::move(client)),
      registry_(registry),
      pool_(pool),
      clock_(clock),
      limiter_(std::max<std::size_t>(1, options_.concurrency)) {}

ProxyProject::~ProxyProject() = default;

ProxyStats ProxyProject::stats() {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::string ProxyProject::upstream_name(const core::RepositoryName& repo) const {
  const std::string& name = repo.str();
  if (name.size() <= options_.project.size() + 1) {
    return {};
  }
  std::string rest = name.substr(options_.project.size() + 1);
  if (rest.find('/') == std::string::npos && is_docker_hub(client_->base().host)) {
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
  flight->done.set();
}

void ProxyProject::mark_checked(const std::string& key) {
  std::lock_guard lock(mutex_);
  checked_[key] = clock_.now();
}

std::optional<core::TimePoint> ProxyProject::last_checked(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = checked_.find(key);
  if (it == checked_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void ProxyProject::remember_partial(const core::RepositoryName& repo,
                                    const core::Digest& manifest) {
  std::lock_guard lock(mutex_);
  auto& pending = partial_[repo.str()];
  pending[manifest] = clock_.now();
  while (pending.size() > kMaxPartialPerRepository) {
    auto oldest = pending.begin();
    for (auto it = pending.begin(); it != pending.end(); ++it) {
      if (it->second < oldest->second) {
        oldest = it;
      }
    }
    pending.erase(oldest);
  }
}

void ProxyProject::fill_references(const core::RepositoryName& repo) {
  std::vector<core::Digest> pending;
  {
    std::lock_guard lock(mutex_);
    auto it = partial_.find(repo.str());
    if (it == partial_.end()) {
      return;
    }
    const auto cutoff = clock_.now() - kPartialWindow;
    std::erase_if(it->second, [&](const auto& entry) { return entry.second < cutoff; });
    for (const auto& [digest, when] : it->second) {
      pending.push_back(digest);
    }
  }
  for (const auto& digest : pending) {
    const core::Reference reference(digest);
    auto content = registry_.get_manifest(repo, reference);
    if (!content) {
      continue;
    }
    // Idempotent: records the references that have arrived since.
    (void)registry_.cache_manifest(repo, reference, *content->bytes, content->record.media_type);
  }
}

asio::awaitable<Result<std::optional<ManifestAnswer>>> ProxyProject::cached_manifest(
    const core::RepositoryName& repo, const core::Reference& reference) {
  auto content =
      co_await http::offload(pool_, [&] { return registry_.get_manifest(repo, reference); });
  if (!content) {
    if (content.error().code == ErrorCode::kManifestUnknown) {
      co_return std::optional<ManifestAnswer>();
    }
    co_return std::unexpected(content.error());
  }
  std::optional<ManifestAnswer> answer(
      ManifestAnswer{std::move(content->record), std::move(content->bytes), false, false});
  co_return answer;
}

asio::awaitable<Result<ManifestAnswer>> ProxyProject::manifest(const core::RepositoryName& repo,
                                                               const core::Reference& reference) {
  if (auto unnamed = check_name(repo)) {
    co_return std::unexpected(*unnamed);
  }
  auto cached = co_await cached_manifest(repo, reference);
  if (!cached) {
    co_return std::unexpected(cached.error());
  }
  const std::string tag_key = repo.str() + ":" + reference.str();
  std::optional<core::TimePoint> checked;
  if (reference.is_tag()) {
    checked = last_checked(tag_key);
  }
  const bool fresh = *cached && (reference.is_digest() ||
                                 (checked && clock_.now() - *checked < options_.manifest_ttl));
  if (fresh) {
    std::lock_guard lock(mutex_);
    ++stats_.manifest_hits;
    co_return std::move(**cached);
  }
  const std::string key = "manifest " + tag_key;
  auto [flight, leader] = join(key);
  if (!leader) {
    co_await flight->done.wait();
    co_return *flight->manifest;
  }
  // A flight may have landed between our look at the cache and our join: look again, or N
  // clients arriving together could each lead a flight of their own, one after the other.
  cached = co_await cached_manifest(repo, reference);
  if (reference.is_tag()) {
    checked = last_checked(tag_key);
  }
  if (cached && *cached &&
      (reference.is_digest() || (checked && clock_.now() - *checked < options_.manifest_ttl))) {
    flight->manifest = std::move(**cached);
    land(key, flight);
    co_return *flight->manifest;
  }
  Result<ManifestAnswer> result = core::fail(ErrorCode::kInternal, "proxy: no result");
  try {
    if (!cached) {
      result = std::unexpected(cached.error());
    } else if (reference.is_digest()) {
      result = co_await fetch_manifest(repo, reference, reference.str());
    } else {
      // Never checked by this process (it restarted): count staleness from when it was cached.
      const core::TimePoint since =
          checked ? *checked : (*cached ? (*cached)->record.created : core::TimePoint());
      result = co_await refresh_tag(repo, reference, std::move(*cached), since);
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
        mark_checked(tag_key);
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
  remember_partial(repo, digest);
  if (reference.is_tag()) {
    mark_checked(repo.str() + ":" + reference.str());
  }
  auto read_back = [this, &repo, &digest] {
    // An index cached now may name children cached before: record those too.
    fill_references(repo);
    return registry_.get_manifest(repo, core::Reference(digest));
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
  auto stat = co_await http::offload(pool_, [&] { return registry_.stat_blob(repo, digest); });
  if (stat) {
    co_return BlobAnswer{};
  }
  if (stat.error().code != ErrorCode::kBlobUnknown) {
    co_return std::unexpected(stat.error());
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
  const std::string key = "blob " + repo.str() + "@" + digest.str();
  auto [flight, leader] = join(key);
  if (!leader) {
    co_await flight->done.wait();
    if (flight->error) {
      co_return std::unexpected(*flight->error);
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
  } else if (!started->fetch) {
    land(key, flight);
  }
  co_return started;
}

asio::awaitable<Result<BlobAnswer>> ProxyProject::start_blob(const core::RepositoryName& repo,
                                                             const core::Digest& digest,
                                                             std::shared_ptr<Flight> flight) {
  // A flight that landed between our miss and our join stored it already.
  auto stat = co_await http::offload(pool_, [&] { return registry_.stat_blob(repo, digest); });
  if (stat) {
    co_return BlobAnswer{};
  }
  co_await limiter_.acquire();
  Slot slot(limiter_);
  auto response = co_await request_blob(repo, digest, false);
  if (!response) {
    co_return std::unexpected(response.error());
  }
  const std::uint64_t length = *(*response)->content_length();
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
  BlobAnswer answer;
  answer.fetch = std::make_shared<BlobFetch>(*this, repo, digest, length, std::move(*response),
                                             std::move(*lease), std::move(flight));
  // The slot goes with the fetch: it is released when the fetch ends.
  slot.dismiss();
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
      lease_(std::make_shared<registry::UploadLease>(std::move(lease))),
      flight_(std::move(flight)) {
  filling_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(size_, kAppendBatch)));
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

void BlobFetch::start_append() {
  auto pending = std::make_shared<PendingAppend>();
  pending->bytes.swap(filling_);
  filling_.swap(spare_);
  filling_.clear();
  pending_ = pending;
  // Holds what it touches: the fetch may be gone when it ends (see lease_).
  asio::post(project_.pool_.executor(), [pending, lease = lease_] {
    try {
      pending->result = lease->append(pending->bytes);
    } catch (const std::exception& e) {
      pending->result = core::fail(ErrorCode::kInternal, std::string("proxy: append: ") + e.what());
    }
    pending->done.set();
  });
}

asio::awaitable<std::optional<core::Error>> BlobFetch::await_append() {
  if (!pending_) {
    co_return std::nullopt;
  }
  co_await pending_->done.wait();
  std::shared_ptr<PendingAppend> pending = std::exchange(pending_, nullptr);
  // The pool thread is done with the bytes once `done` is set.
  spare_ = std::move(pending->bytes);
  if (!pending->result) {
    co_return pending->result.error();
  }
  co_return std::nullopt;
}

asio::awaitable<void> BlobFetch::fail(core::Error error) {
  failed_ = true;
  spdlog::warn("proxy project '{}': fetching {}@{} failed after {} of {} bytes; nothing cached: {}",
               project_.options_.project, repo_.str(), digest_.str(), received_, size_,
               error.message);
  flight_->error = std::move(error);
  project_.land(flight_->key, flight_);
  // The append in flight writes to the upload: give the upload up after it.
  (void)co_await await_append();
  if (lease_) {
    auto abandon = [this] {
      project_.registry_.abandon_upload(std::move(*lease_));
      lease_.reset();
    };
    co_await http::offload(project_.pool_, std::move(abandon));
  }
}

asio::awaitable<http::IoResult<std::size_t>> BlobFetch::next(std::span<std::byte> out) {
  const auto io_error = boost::system::errc::make_error_code(boost::system::errc::io_error);
  if (failed_) {
    co_return std::unexpected(io_error);
  }
  if (stored_ || received_ >= size_) {
    co_return 0;
  }
  const auto want =
      out.first(static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - received_)));
  // Fill the piece: the socket hands out a few KiB at a time.
  core::Result<std::size_t> got = 0;
  while (*got < want.size()) {
    auto more = co_await response_->read(want.subspan(*got));
    if (!more) {
      got = std::unexpected(more.error());
      break;
    }
    if (*more == 0) {
      break;
    }
    *got += *more;
  }
  std::optional<core::Error> problem;
  if (!got) {
    problem = as_upstream_error(project_, got.error());
  } else if (*got == 0) {
    problem = upstream_unavailable(
                  project_, "closed the connection after " + std::to_string(received_) + " of " +
                                std::to_string(size_) + " bytes of " + digest_.str())
                  .error();
  }
  if (problem) {
    co_await fail(std::move(*problem));
    co_return std::unexpected(io_error);
  }
  // The client's buffer is refilled while the copy is appended.
  filling_.insert(filling_.end(), want.begin(), want.begin() + static_cast<std::ptrdiff_t>(*got));
  received_ += *got;
  if (filling_.size() >= kAppendBatch || received_ == size_) {
    auto previous = co_await await_append();
    if (previous) {
      co_await fail(std::move(*previous));
      co_return std::unexpected(io_error);
    }
    start_append();
  }
  if (received_ == size_) {
    // The whole body is here: append, verify and publish before the client gets the last
    // piece.
    auto last = co_await await_append();
    if (last) {
      co_await fail(std::move(*last));
      co_return std::unexpected(io_error);
    }
    auto publish = [this]() -> Result<registry::BlobStat> {
      auto finished = project_.registry_.finish_upload(std::move(*lease_), digest_);
      lease_.reset();
      if (finished) {
        project_.fill_references(repo_);
      }
      return finished;
    };
    auto published = co_await http::offload(project_.pool_, std::move(publish));
    if (!published) {
      core::Error error = published.error();
      co_await fail(std::move(error));
      co_return std::unexpected(io_error);
    }
    stored_ = true;
    spdlog::info("proxy project '{}': cached blob {}@{} ({} bytes)", project_.options_.project,
                 repo_.str(), digest_.str(), size_);
    project_.land(flight_->key, flight_);
  }
  co_return *got;
}

asio::awaitable<void> BlobFetch::finish() {
  if (!failed_ && !stored_) {
    std::vector<std::byte> buffer(kDrainBuffer);
    while (!failed_ && !stored_) {
      auto got = co_await next(buffer);
      if (!got || *got == 0) {
        break;
      }
    }
  }
  if (!flight_->landed) {
    if (!stored_ && !flight_->error) {
      flight_->error = core::Error{
          ErrorCode::kUnavailable, "proxy: the fetch of " + digest_.str() + " ended unstored", {}};
    }
    project_.land(flight_->key, flight_);
  }
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
  if (mirror_ == nullptr) {
    return nullptr;
  }
  auto url = client::parse_url(mirror_->options().upstream.url);
  if (!url) {
    return nullptr;
  }
  if (ns == url->authority() || ns == url->host ||
      (ns == "docker.io" && is_docker_hub(url->host))) {
    return mirror_;
  }
  return nullptr;
}

ProxyProject* Proxies::find(std::string_view project) const {
  auto it = projects_.find(project);
  return it == projects_.end() ? nullptr : it->second.get();
}

}  // namespace berth::proxy
