// Helpers of the crash-safety tests (see crash_support.hpp).
#include "crash_support.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <thread>

namespace berth::testing::crash {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const HttpHeaders& accept_manifests() {
  static const HttpHeaders headers = {
      {"Accept", std::string(media_types::kOciManifest) + ", " +
                     std::string(media_types::kOciIndex) + ", " +
                     std::string(media_types::kDockerManifest) + ", " +
                     std::string(media_types::kDockerManifestList)}};
  return headers;
}

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The digest of `bytes` in the algorithm `digest` names.
std::string digest_like(std::string_view digest, std::string_view bytes) {
  return digest.starts_with("sha512:") ? sha512_digest(bytes) : sha256_digest(bytes);
}

std::string key_of(std::string_view repo, std::string_view rest) {
  std::string key(repo);
  key.push_back('\n');
  key.append(rest);
  return key;
}

std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto newline = key.find('\n');
  return {key.substr(0, newline), key.substr(newline + 1)};
}

// A short, single-line account of a response for problem lists.
std::string brief(const HttpResponse& response) {
  std::string text = describe(response).substr(0, 300);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------- server

CrashableBerth::CrashableBerth(std::map<std::string, std::string> env)
    : data_(root_.path() / "data"), env_(std::move(env)) {}

CrashableBerth::~CrashableBerth() = default;

void CrashableBerth::start() {
  if (running()) {
    throw std::logic_error("CrashableBerth::start while a process runs");
  }
  retire();
  ++starts_;
  BerthOptions options;
  options.data = data_;
  options.env = env_;
  process_ = std::make_unique<BerthProcess>(std::move(options));
}

void CrashableBerth::start(std::map<std::string, std::string> env) {
  env_ = std::move(env);
  start();
}

void CrashableBerth::kill() {
  if (process_) {
    process_->kill();
  }
}

int CrashableBerth::stop() { return process_ ? process_->stop() : -1; }

pid_t CrashableBerth::pid() const {
  if (!running()) {
    throw std::logic_error("CrashableBerth::pid without a running process");
  }
  return process_->pid();
}

std::uint16_t CrashableBerth::port() const {
  if (!running()) {
    throw std::logic_error("CrashableBerth::port without a running process");
  }
  return process_->port();
}

std::string CrashableBerth::logs() const {
  std::string out = past_logs_;
  if (process_) {
    out += "==== berth process " + std::to_string(starts_) + " ====\n" + process_->log();
  }
  return out;
}

void CrashableBerth::retire() {
  if (process_) {
    past_logs_ += "==== berth process " + std::to_string(starts_) + " ====\n" + process_->log();
    process_.reset();
  }
}

std::string find_sanitizer_report(std::string_view log) {
  static constexpr std::string_view kMarkers[] = {"ERROR: AddressSanitizer",
                                                  "ERROR: LeakSanitizer",
                                                  "WARNING: AddressSanitizer",
                                                  "runtime error:",
                                                  "SUMMARY: UndefinedBehaviorSanitizer",
                                                  "ThreadSanitizer"};
  for (std::string_view marker : kMarkers) {
    const auto at = log.find(marker);
    if (at == std::string_view::npos) {
      continue;
    }
    const auto begin = log.rfind('\n', at);
    const auto end = log.find('\n', at);
    const auto from = begin == std::string_view::npos ? 0 : begin + 1;
    return std::string(log.substr(from, end == std::string_view::npos ? end : end - from));
  }
  return "";
}

// ---------------------------------------------------------------------------- waiting

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
}

// ---------------------------------------------------------------------------- disk

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open " + path.string());
  }
  // One read of the whole size: a character iterator is slow on 64 MiB under the sanitizers.
  std::string bytes(fs::file_size(path), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.gcount() != static_cast<std::streamsize>(bytes.size())) {
    throw std::runtime_error("short read of " + path.string());
  }
  return bytes;
}

std::optional<std::uint64_t> file_size_if_any(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return std::nullopt;
  }
  const auto size = fs::file_size(path, ec);
  if (ec) {
    return std::nullopt;
  }
  return size;
}

fs::path blob_path(const fs::path& data, std::string_view digest) {
  const auto colon = digest.find(':');
  const std::string algorithm(digest.substr(0, colon));
  const std::string hex(digest.substr(colon + 1));
  return data / "blobs" / algorithm / hex.substr(0, 2) / hex;
}

std::vector<fs::path> upload_files(const fs::path& data) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(data / "uploads", ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) {
      files.push_back(it->path());
    }
  }
  return files;
}

std::optional<fs::path> find_upload_file(const fs::path& data, std::string_view prefix,
                                         std::uint64_t size) {
  for (const auto& file : upload_files(data)) {
    if (file_size_if_any(file) != size) {
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    std::string head(prefix.size(), '\0');
    if (in.read(head.data(), static_cast<std::streamsize>(head.size())) && head == prefix) {
      return file;
    }
  }
  return std::nullopt;
}

BlobFileReport check_blob_files(const fs::path& data) {
  BlobFileReport report;
  const fs::path root = data / "blobs";
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path relative = it->path().lexically_relative(root);
    std::vector<std::string> parts;
    for (const auto& part : relative) {
      parts.push_back(part.string());
    }
    const bool known_algorithm = parts[0] == "sha256" || parts[0] == "sha512";
    const std::size_t hex_length = parts[0] == "sha512" ? 128 : 64;
    std::error_code type_ec;
    if (it->is_directory(type_ec)) {
      const bool fanout = parts.size() == 2 && parts[1].size() == 2 && is_lower_hex(parts[1]);
      if (!known_algorithm || parts.size() > 2 || (parts.size() == 2 && !fanout)) {
        report.problems.push_back("unexpected directory blobs/" + relative.string());
      }
      continue;
    }
    if (!it->is_regular_file(type_ec)) {
      report.problems.push_back("not a regular file: blobs/" + relative.string());
      continue;
    }
    if (!known_algorithm || parts.size() != 3 || parts[2].size() != hex_length ||
        !is_lower_hex(parts[2]) || !parts[2].starts_with(parts[1])) {
      report.problems.push_back("file where no blob may be: blobs/" + relative.string());
      continue;
    }
    ++report.files;
    const std::string claimed = parts[0] + ":" + parts[2];
    const std::string bytes = read_file(it->path());
    const std::string actual = digest_like(claimed, bytes);
    if (actual != claimed) {
      report.problems.push_back("blob file " + claimed + " has wrong bytes: " +
                                std::to_string(bytes.size()) + " bytes hashing to " + actual);
    }
  }
  if (ec) {
    report.problems.push_back("walking " + root.string() + ": " + ec.message());
  }
  return report;
}

// ---------------------------------------------------------------------------- API

namespace {

class CatalogChecker {
 public:
  CatalogChecker(RegistryClient& registry, CatalogReport& report)
      : http_(registry.http()), report_(report) {}

  void check_repository(const std::string& repo, const std::vector<std::string>& tags) {
    manifests_.clear();
    blobs_.clear();
    for (const auto& tag : tags) {
      ++report_.tags;
      check_manifest(repo, tag, std::nullopt);
    }
  }

 private:
  void problem(std::string text) { report_.problems.push_back(std::move(text)); }

  void check_manifest(const std::string& repo, const std::string& reference,
                      const std::optional<std::string>& expected) {
    const std::string where = repo + ":" + reference;
    const auto response = http_.get("/v2/" + repo + "/manifests/" + reference, accept_manifests());
    if (response.status != 200) {
      problem("manifest " + where + " answered " + brief(response));
      return;
    }
    const std::string digest = sha256_digest(response.body);
    if (!expected && response.header("Docker-Content-Digest") != digest) {
      problem("manifest " + where + " has Docker-Content-Digest " +
              response.header("Docker-Content-Digest") + " but its " +
              std::to_string(response.body.size()) + " bytes hash to " + digest);
    }
    if (expected && digest_like(*expected, response.body) != *expected) {
      problem("manifest " + where + " has bytes that do not hash to its digest");
    }
    if (!manifests_.insert(digest).second) {
      return;
    }
    ++report_.manifests;
    json::error_code ec;
    const auto value = json::parse(response.body, ec);
    if (ec || !value.is_object()) {
      problem("manifest " + where + " is not a JSON object");
      return;
    }
    const auto& object = value.get_object();
    if (const auto* config = object.if_contains("config")) {
      check_descriptor(repo, where, *config, false);
    }
    if (const auto* layers = object.if_contains("layers"); layers && layers->is_array()) {
      for (const auto& layer : layers->get_array()) {
        check_descriptor(repo, where, layer, false);
      }
    }
    if (const auto* children = object.if_contains("manifests"); children && children->is_array()) {
      for (const auto& child : children->get_array()) {
        check_descriptor(repo, where, child, true);
      }
    }
  }

  void check_descriptor(const std::string& repo, const std::string& where,
                        const json::value& descriptor, bool manifest) {
    const auto* object = descriptor.if_object();
    const auto* digest = object ? object->if_contains("digest") : nullptr;
    const auto* size = object ? object->if_contains("size") : nullptr;
    if (digest == nullptr || !digest->is_string() || size == nullptr || !size->is_number()) {
      problem("manifest " + where + " has a descriptor without digest and size");
      return;
    }
    const std::string text(digest->get_string());
    if (manifest) {
      check_manifest(repo, text, text);
      return;
    }
    if (!blobs_.insert(text).second) {
      return;
    }
    ++report_.blobs;
    const auto response = http_.get("/v2/" + repo + "/blobs/" + text);
    if (response.status != 200) {
      problem("blob " + text + " named by manifest " + where + " answered " + brief(response));
      return;
    }
    const auto expected_size = size->to_number<std::uint64_t>();
    if (response.body.size() != expected_size || digest_like(text, response.body) != text) {
      problem("blob " + text + " named by manifest " + where + " reads back " +
              std::to_string(response.body.size()) + " bytes (manifest says " +
              std::to_string(expected_size) + ") hashing to " + digest_like(text, response.body));
    }
  }

  HttpClient& http_;
  CatalogReport& report_;
  std::set<std::string> manifests_;
  std::set<std::string> blobs_;
};

}  // namespace

CatalogReport check_catalog(RegistryClient& registry) {
  CatalogReport report;
  std::vector<std::string> repositories;
  std::optional<std::string> target = "/v2/_catalog?n=100";
  while (target) {
    const auto response = registry.http().get(*target);
    if (response.status != 200) {
      report.problems.push_back("GET " + *target + " answered " + brief(response));
      return report;
    }
    auto names = json_string_array(response.body, "repositories");
    repositories.insert(repositories.end(), names.begin(), names.end());
    target = next_link(response);
  }
  CatalogChecker checker(registry, report);
  for (const auto& repo : repositories) {
    ++report.repositories;
    std::vector<std::string> tags;
    try {
      tags = registry.list_tags(repo);
    } catch (const RegistryClientError& e) {
      report.problems.push_back("tags of " + repo + ": " + e.what());
      continue;
    }
    checker.check_repository(repo, tags);
  }
  return report;
}

std::unique_ptr<RawConnection> send_partial_request(std::uint16_t port, std::string_view method,
                                                    std::string_view target,
                                                    const HttpHeaders& headers,
                                                    std::uint64_t body_size,
                                                    std::string_view sent) {
  auto connection = std::make_unique<RawConnection>("127.0.0.1", port);
  std::string request(method);
  request.append(" ").append(target).append(" HTTP/1.1\r\n");
  request.append("Host: 127.0.0.1:").append(std::to_string(port)).append("\r\n");
  for (const auto& [name, value] : headers) {
    request.append(name).append(": ").append(value).append("\r\n");
  }
  request.append("Content-Length: ").append(std::to_string(body_size)).append("\r\n\r\n");
  request.append(sent);
  connection->send(request, 60s);
  return connection;
}

// ---------------------------------------------------------------------------- ledger

void PushLedger::attempted(const ManifestPush& push) {
  std::lock_guard lock(mutex_);
  manifests_.try_emplace(key_of(push.repo, push.digest), push);
  if (!push.tag.empty()) {
    tags_[key_of(push.repo, push.tag)].since.push_back(push.digest);
  }
}

void PushLedger::acknowledged(const ManifestPush& push) {
  {
    std::lock_guard lock(mutex_);
    const auto key = key_of(push.repo, push.digest);
    manifests_.insert_or_assign(key, push);
    acknowledged_manifests_.insert(key);
    if (!push.tag.empty()) {
      auto& history = tags_[key_of(push.repo, push.tag)];
      history.acknowledged = push.digest;
      history.since.clear();
    }
  }
  ++acknowledgements_;
}

void PushLedger::never_completed(const ManifestPush& push) {
  std::lock_guard lock(mutex_);
  never_completed_.push_back(push);
}

void PushLedger::acknowledged_blob(const std::string& repo, const std::string& digest,
                                   std::uint64_t size) {
  {
    std::lock_guard lock(mutex_);
    blobs_.push_back(Blob{repo, digest, size});
  }
  ++acknowledgements_;
}

void PushLedger::unexpected(std::string what) {
  std::lock_guard lock(mutex_);
  unexpected_.push_back(std::move(what));
}

std::size_t PushLedger::acknowledged_manifests() const {
  std::lock_guard lock(mutex_);
  return acknowledged_manifests_.size();
}

std::vector<ManifestPush> PushLedger::unacknowledged() const {
  std::lock_guard lock(mutex_);
  std::vector<ManifestPush> out;
  for (const auto& [key, push] : manifests_) {
    if (!acknowledged_manifests_.contains(key)) {
      out.push_back(push);
    }
  }
  return out;
}

std::vector<std::string> PushLedger::unexpected_events() const {
  std::lock_guard lock(mutex_);
  return unexpected_;
}

std::optional<PushLedger::Blob> PushLedger::pick_blob(std::uint64_t random,
                                                      std::string_view not_repo) const {
  std::lock_guard lock(mutex_);
  std::vector<const Blob*> candidates;
  for (const auto& blob : blobs_) {
    if (blob.repo != not_repo) {
      candidates.push_back(&blob);
    }
  }
  if (candidates.empty()) {
    return std::nullopt;
  }
  return *candidates[random % candidates.size()];
}

std::vector<std::string> PushLedger::verify(RegistryClient& registry) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> problems;
  auto& http = registry.http();

  for (const auto& [key, push] : manifests_) {
    const bool acknowledged = acknowledged_manifests_.contains(key);
    const std::string what = std::string(acknowledged ? "acknowledged" : "attempted") +
                             " manifest " + push.repo + "@" + push.digest;
    const auto response =
        http.get("/v2/" + push.repo + "/manifests/" + push.digest, accept_manifests());
    if (response.status == 200) {
      if (response.body != push.bytes) {
        problems.push_back(what + " reads back " + std::to_string(response.body.size()) +
                           " bytes that differ from the " + std::to_string(push.bytes.size()) +
                           " pushed");
      }
      if (response.header("Docker-Content-Digest") != push.digest) {
        problems.push_back(what + " answered Docker-Content-Digest " +
                           response.header("Docker-Content-Digest"));
      }
      if (response.header("Content-Type") != push.media_type) {
        problems.push_back(what + " answered Content-Type " + response.header("Content-Type"));
      }
    } else if (response.status != 404 || acknowledged) {
      problems.push_back(what + " answered " + brief(response));
    }
  }

  for (const auto& [key, history] : tags_) {
    const auto [repo, tag] = split_key(key);
    const std::string what = "tag " + repo + ":" + tag;
    const auto response = http.get("/v2/" + repo + "/manifests/" + tag, accept_manifests());
    if (response.status == 404 && !history.acknowledged) {
      continue;
    }
    if (response.status != 200) {
      problems.push_back(what + " (acknowledged as " + history.acknowledged.value_or("nothing") +
                         ") answered " + brief(response));
      continue;
    }
    const std::string digest = response.header("Docker-Content-Digest");
    const bool allowed =
        history.acknowledged == digest ||
        std::find(history.since.begin(), history.since.end(), digest) != history.since.end();
    if (!allowed) {
      problems.push_back(what + " names " + digest +
                         ", but the last manifest acknowledged for it " + "is " +
                         history.acknowledged.value_or("none") + " and " +
                         std::to_string(history.since.size()) + " were attempted since");
      continue;
    }
    const auto pushed = manifests_.find(key_of(repo, digest));
    if (pushed == manifests_.end() || pushed->second.bytes != response.body) {
      problems.push_back(what + " reads back " + std::to_string(response.body.size()) +
                         " bytes that are not those pushed as " + digest);
    }
  }

  for (const auto& push : never_completed_) {
    const auto by_digest =
        http.get("/v2/" + push.repo + "/manifests/" + push.digest, accept_manifests());
    if (by_digest.status != 404) {
      problems.push_back("manifest " + push.repo + "@" + push.digest +
                         ", whose body was never sent whole, answered " + brief(by_digest));
    }
    if (!push.tag.empty()) {
      const auto by_tag =
          http.get("/v2/" + push.repo + "/manifests/" + push.tag, accept_manifests());
      if (by_tag.status != 404) {
        problems.push_back("tag " + push.repo + ":" + push.tag +
                           ", whose manifest body was never sent whole, answered " + brief(by_tag));
      }
    }
  }

  std::set<std::string> seen;
  for (const auto& blob : blobs_) {
    if (!seen.insert(key_of(blob.repo, blob.digest)).second) {
      continue;
    }
    const auto response = http.get("/v2/" + blob.repo + "/blobs/" + blob.digest);
    if (response.status != 200) {
      problems.push_back("acknowledged blob " + blob.repo + "@" + blob.digest + " answered " +
                         brief(response));
      continue;
    }
    if (response.body.size() != blob.size ||
        digest_like(blob.digest, response.body) != blob.digest) {
      problems.push_back("acknowledged blob " + blob.repo + "@" + blob.digest + " reads back " +
                         std::to_string(response.body.size()) + " bytes (pushed " +
                         std::to_string(blob.size) + ") hashing to " +
                         digest_like(blob.digest, response.body));
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------- content

std::string padded_manifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                            std::size_t size) {
  const std::string unique = random_token(16);
  const std::string bare = make_image_manifest(
      config, layers, ManifestOptions().with_annotation("org.berth.test.unique", unique));
  // The padding annotation's key, quotes and separators.
  constexpr std::size_t kOverhead = 32;
  const std::size_t pad = size > bare.size() + kOverhead ? size - bare.size() - kOverhead : 0;
  return make_image_manifest(config, layers,
                             ManifestOptions()
                                 .with_annotation("org.berth.test.unique", unique)
                                 .with_annotation("org.berth.test.pad", random_token(pad)));
}

}  // namespace berth::testing::crash
