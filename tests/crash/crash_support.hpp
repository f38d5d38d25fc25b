// Helpers of the crash-safety tests. The issue they answer: "kill -9 the server in the middle
// of blob uploads and manifest puts, restart it, and show that no blob has wrong bytes, no
// manifest references a missing blob, and every acknowledged push is still pullable."
//
// - CrashableBerth: a berth whose data directory outlives its processes, so a test can SIGKILL
//   it and start another on the same data (on a new port: make clients anew after each start).
// - PushLedger: what clients sent and what the server acknowledged, recorded from many threads,
//   and the check after a restart that the server kept every acknowledgement and invented
//   nothing (a manifest is all there or absent; a tag names a manifest that was pushed to it).
// - check_blob_files / check_catalog: the storage-wide invariants, seen from the disk (every
//   file under blobs/ hashes to its name) and from the API (every tag's manifest and everything
//   it names reads back).
// - Raw partial requests, for holding a request open mid-body while the server is killed.
//
// Waiting is done by polling with a generous limit that only guards against a hang; nothing
// asserts how long anything took.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth_process.hpp"
#include "registry_client.hpp"

namespace berth::testing::crash {

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * kKiB;

using namespace std::chrono_literals;

// ---- the server

class CrashableBerth {
 public:
  // `env` is given to every process started.
  explicit CrashableBerth(std::map<std::string, std::string> env = {});
  ~CrashableBerth();
  CrashableBerth(const CrashableBerth&) = delete;
  CrashableBerth& operator=(const CrashableBerth&) = delete;

  // Starts a process on the data directory (throws if one is running). `env` replaces the
  // constructor's for this and later starts.
  void start();
  void start(std::map<std::string, std::string> env);
  // SIGKILL and reap, as a crash would. Its log is kept for logs().
  void kill();
  // SIGTERM; the exit status (0: clean, which under the sanitizers also means no leak).
  int stop();

  bool running() const { return process_ != nullptr && process_->running(); }
  std::uint16_t port() const;
  pid_t pid() const;
  const std::filesystem::path& data() const { return data_; }
  // The logs of every process started so far, each under a header line.
  std::string logs() const;

 private:
  void retire();

  TempDir root_;
  std::filesystem::path data_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<BerthProcess> process_;
  std::string past_logs_;
  int starts_ = 0;
};

// The first line of a sanitizer report in a server log (AddressSanitizer, LeakSanitizer,
// UndefinedBehaviorSanitizer "runtime error:"), or "" when there is none.
std::string find_sanitizer_report(std::string_view log);

// ---- waiting

// Polls `condition` until it holds or `limit` passes; returns whether it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 60s);

// ---- the disk

std::string read_file(const std::filesystem::path& path);
// The size of a regular file, nullopt when there is none.
std::optional<std::uint64_t> file_size_if_any(const std::filesystem::path& path);
// <data>/blobs/sha256/<2 hex>/<hex> of a "sha256:<hex>" digest.
std::filesystem::path blob_path(const std::filesystem::path& data, std::string_view digest);
// The regular files under <data>/uploads.
std::vector<std::filesystem::path> upload_files(const std::filesystem::path& data);
// The upload file that begins with `prefix` and is exactly `size` bytes, if there is one.
std::optional<std::filesystem::path> find_upload_file(const std::filesystem::path& data,
                                                      std::string_view prefix, std::uint64_t size);

struct BlobFileReport {
  std::size_t files = 0;
  // One line per file whose bytes do not hash to its name, or which sits where no blob may.
  std::vector<std::string> problems;
};
// Walks <data>/blobs and hashes every file.
BlobFileReport check_blob_files(const std::filesystem::path& data);

// ---- the API

struct CatalogReport {
  std::size_t repositories = 0;
  std::size_t tags = 0;
  std::size_t manifests = 0;
  std::size_t blobs = 0;
  std::vector<std::string> problems;
};
// For every repository of the catalog and every tag in it: the manifest reads back and hashes
// to its Docker-Content-Digest, every blob it names (config, layers) reads back through that
// repository with bytes that hash to the digest and the size it states, and every child
// manifest an index names exists there and is checked the same way.
CatalogReport check_catalog(RegistryClient& registry);

// "METHOD target HTTP/1.1" with Host, the given headers and Content-Length, then `sent` of the
// body's bytes, on a fresh connection: a request held open mid-body. `body_size` is what the
// headers announce.
std::unique_ptr<RawConnection> send_partial_request(std::uint16_t port, std::string_view method,
                                                    std::string_view target,
                                                    const HttpHeaders& headers,
                                                    std::uint64_t body_size, std::string_view sent);

// ---- what was pushed

struct ManifestPush {
  std::string repo;
  // Empty when pushed by digest.
  std::string tag;
  std::string media_type;
  std::string bytes;
  std::string digest;
};

// Records pushes from any number of threads. A tag must be pushed from one thread only, so
// that its history is a sequence: then after a crash it may name the last manifest
// acknowledged for it or any pushed to it after that, and nothing else.
class PushLedger {
 public:
  // Before the PUT is sent.
  void attempted(const ManifestPush& push);
  // After the 201.
  void acknowledged(const ManifestPush& push);
  // A PUT whose body was never sent whole: the manifest must not exist.
  void never_completed(const ManifestPush& push);
  void acknowledged_blob(const std::string& repo, const std::string& digest, std::uint64_t size);
  // Something a crash cannot explain (a wrong status, a wrong digest, a failure before the
  // kill), with what was being done.
  void unexpected(std::string what);

  // Acknowledged manifests and blobs so far.
  std::size_t acknowledgements() const { return acknowledgements_.load(); }
  std::size_t acknowledged_manifests() const;
  // Manifests attempted and never acknowledged, in the order of their keys.
  std::vector<ManifestPush> unacknowledged() const;
  std::vector<std::string> unexpected_events() const;
  // A uniformly chosen acknowledged blob of a repository other than `not_repo`.
  struct Blob {
    std::string repo;
    std::string digest;
    std::uint64_t size = 0;
  };
  std::optional<Blob> pick_blob(std::uint64_t random, std::string_view not_repo) const;

  // Checks the server against the ledger; one line per disagreement. Every acknowledged
  // manifest reads back by digest byte for byte with its media type; every other manifest
  // attempted reads back byte for byte or is 404 (never a 500, never other bytes); every tag
  // resolves as described above; every never-completed manifest is 404; every acknowledged
  // blob reads back with bytes that hash to its digest.
  std::vector<std::string> verify(RegistryClient& registry) const;

 private:
  struct TagHistory {
    std::optional<std::string> acknowledged;
    std::vector<std::string> since;
  };

  mutable std::mutex mutex_;
  std::atomic<std::size_t> acknowledgements_{0};
  // repo + '\n' + digest -> the push (acknowledged wins over attempted).
  std::map<std::string, ManifestPush> manifests_;
  std::set<std::string> acknowledged_manifests_;
  std::map<std::string, TagHistory> tags_;
  std::vector<ManifestPush> never_completed_;
  std::vector<Blob> blobs_;
  std::vector<std::string> unexpected_;
};

// An OCI image manifest naming `config` and `layers`, padded with an annotation to about
// `size` bytes (at least what it needs), unique by a random annotation.
std::string padded_manifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                            std::size_t size);

}  // namespace berth::testing::crash
