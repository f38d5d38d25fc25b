// Helpers of the lifecycle black-box tests: garbage collection, quotas, immutable tags,
// retention, check and backup/restore, driven through the admin API and the berth commands of
// the built binary, on a data directory that outlives the processes using it (the crash tests'
// CrashableBerth).
//
// - The admin API of a berth in open mode (no access control: everyone is an administrator):
//   project settings, usage, retention preview and run, garbage collection on demand.
// - The disk: every blob file under <data>/blobs by digest, and the "gc" lease row of the
//   database, which a test ages instead of waiting out the minute a killed holder keeps it.
// - Images: what a test pushed (PushedImage) as the digests and sizes it stores, the expected
//   usage of a project computed from what its repositories answer to HEAD (never from the
//   server's own figures), and the check that an image pulls back byte for byte.
//
// Waiting is done by polling with a generous limit that only guards against a hang; nothing
// asserts how long anything took.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "berth_process.hpp"
#include "crash_support.hpp"
#include "registry_client.hpp"
#include "testing/http_client.hpp"

namespace berth::testing::lifecycle {

namespace fs = std::filesystem;

// Garbage collection only when the test asks, with no grace: what nothing references goes.
inline const std::map<std::string, std::string> kGcOnDemand = {{"BERTH_GC_INTERVAL", "0"},
                                                               {"BERTH_GC_BLOB_GRACE", "0"}};
using namespace std::chrono_literals;
using crash::CrashableBerth;
using crash::eventually;

// Parses a JSON body; throws std::runtime_error (with the body) when it is not a JSON object.
boost::json::object json_object(std::string_view body);

// ---- the admin API (open mode)

struct Usage {
  std::uint64_t bytes = 0;
  std::uint64_t repositories = 0;
  friend bool operator==(const Usage&, const Usage&) = default;
};

class AdminApi {
 public:
  explicit AdminApi(HttpClient& http) : http_(http) {}

  // PUT /api/v1/projects/{p}/settings with `settings` (project_settings.hpp's JSON); the
  // response, whatever it is.
  HttpResponse put_settings(std::string_view project, std::string_view settings);
  // GET .../usage; throws unless 200.
  Usage usage(std::string_view project);
  // GET .../retention/preview (the stored policy); throws unless 200.
  boost::json::object preview(std::string_view project);
  // POST .../retention/preview with a policy not stored; throws unless 200.
  boost::json::object preview(std::string_view project, std::string_view policy);
  // POST .../retention/run; throws unless 200.
  boost::json::object run_retention(std::string_view project);
  // POST /api/v1/gc; the response, whatever it is (409 while another collection runs).
  HttpResponse try_gc(bool dry_run);
  // POST /api/v1/gc until it is not 409; throws unless it then answers 200. The report.
  boost::json::object gc(bool dry_run);

 private:
  HttpClient& http_;
};

// The "removed" items of a GC report as "kind repository@digest" lines.
std::vector<std::string> removed_items(const boost::json::object& report);

// ---- the command line

// `berth <args> --data <data>`.
CommandResult berth_on(const fs::path& data, std::vector<std::string> args);
// `berth gc --json --data <data> <args>` until it does not exit 75 (another collector holds the
// lease); throws unless it then exits 0. The report.
boost::json::object gc_on(const fs::path& data, std::vector<std::string> args = {});

// ---- the disk

// digest → size of every regular file under <data>/blobs/<algorithm>/<xx>/<hex>.
std::map<std::string, std::uint64_t> blob_files(const fs::path& data);
// Makes the "gc" lease of <data>/berth.db expire now, as if its holder's ttl had passed: a
// holder killed with SIGKILL keeps it for a minute. Returns whether a lease row was there.
bool expire_gc_lease(const fs::path& data);
// Whether some holder has the "gc" lease row (expired or not).
bool gc_lease_row_exists(const fs::path& data);
// Takes (or renews) the "gc" lease of <data>/berth.db for `holder` until `ttl` from now, as a
// collector would: false while another holder's lease has not expired. Collectors, the
// server's own included, find it taken meanwhile.
bool try_hold_gc_lease(const fs::path& data, std::string_view holder, std::chrono::seconds ttl);
// Gives back `holder`'s "gc" lease, if it has it.
void release_gc_lease(const fs::path& data, std::string_view holder);
// What a collector killed right after tombstoning `digest` (an orphan: no repository links it)
// leaves in <data>/berth.db: the blob's row gone, its tombstone, and the "gc" lease held by the
// dead holder, unexpired, so the server cannot finish the tombstone until expire_gc_lease.
void leave_tombstone_of_a_killed_collector(const fs::path& data, std::string_view digest);
// How many tombstones (digests whose bytes a collection had begun to delete) <data>/berth.db
// holds: while one exists, nobody can push that digest.
std::size_t tombstone_count(const fs::path& data);

// ---- images

// Pushes an image of a new unique config and `layers` into `repo` under `tag` (by digest when
// empty): the layers are uploaded first when `upload_layers`, else the repository must already
// link them (pushed or mounted before). Throws RegistryClientError on any surprise.
PushedImage push_image_of(RegistryClient& registry, std::string_view repo, std::string_view tag,
                          std::vector<PushedBlob> layers, bool upload_layers);
// A layer of `size` random bytes, not uploaded.
PushedBlob new_layer(std::size_t size);

// A multi-platform image: its children (pushed by digest) and the index naming them.
struct PushedIndex {
  std::vector<PushedImage> children;
  std::string manifest;
  std::string digest;
};
// Pushes `children` single-layer images by digest, then an OCI index of them under `tag`.
PushedIndex push_index(RegistryClient& registry, std::string_view repo, std::string_view tag,
                       std::size_t children = 2, std::size_t layer_size = 512);

// Pushes `count` blobs of `size` random bytes into `repo` from `threads` clients at once;
// digest → size.
std::map<std::string, std::uint64_t> push_blobs(std::uint16_t port, const std::string& repo,
                                                std::size_t count, std::size_t size,
                                                std::size_t threads = 4);

// digest → size of everything an image stores: config, layers and the manifest's own bytes.
std::map<std::string, std::uint64_t> stored_digests(const PushedImage& image);
// Sum of the sizes.
std::uint64_t total_size(const std::map<std::string, std::uint64_t>& digests);

// What a project's usage must be: each digest of `candidates` that at least one of `repos`
// links (HEAD of the blob answers 200 there) counted once with its size, and the number of
// `repos` that link at least one blob. `candidates` must hold every digest the repositories
// could link.
Usage expected_usage(HttpClient& http, const std::vector<std::string>& repos,
                     const std::map<std::string, std::uint64_t>& candidates);

// "" when `image` reads back from `repo` by `reference` (a tag or its digest) byte for byte,
// with every blob; what is wrong otherwise.
std::string image_problem(RegistryClient& registry, std::string_view repo,
                          std::string_view reference, const PushedImage& image);

}  // namespace berth::testing::lifecycle
