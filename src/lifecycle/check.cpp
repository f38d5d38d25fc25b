// The Checker of check.hpp. check() walks blob storage once (hashing files on a few threads),
// the blob rows and the manifests page by page, and then looks again at every candidate
// problem before reporting it, because the server keeps pushing and collecting meanwhile.
// The invariants that make "look again" sound:
//  - bytes are published before their row is written, and a collection deletes the row (and
//    tombstones the digest) before the bytes: while a row exists its bytes exist, so a row
//    seen before and after a failed stat, unchanged, is real damage;
//  - a file without a row is a push in flight or garbage: only its age tells them apart;
//  - a manifest and its relation rows are written in one transaction: a manifest read in one
//    SELECT with its rows is consistent, and one that disagrees and still disagrees when read
//    again is damaged.
#include "lifecycle/check.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <utility>

#include "core/manifest.hpp"
#include "lifecycle/blob_copy.hpp"
#include "lifecycle/maintenance_lease.hpp"
#include "util/plural.hpp"

namespace berth::lifecycle {
namespace {

using core::ErrorCode;

constexpr std::size_t kCheckPageSize = 500;
// Manifests are at most a few MiB (http.max_manifest_bytes); anything far larger under a
// manifest's digest is not one, and is not read whole into memory.
constexpr std::uint64_t kMaxManifestBytes = std::uint64_t{64} << 20;

struct BlobFile {
  core::Digest digest;
  std::uint64_t size = 0;
};

// Hashes every file on `threads` threads; result i is for files[i]. progress is told after
// each file, one call at a time.
std::vector<BlobHash> hash_all(storage::BlobStore& blobs, const std::vector<BlobFile>& files,
                               std::size_t threads, const core::ProgressCallback& progress) {
  std::vector<BlobHash> results(files.size());
  std::atomic<std::size_t> next{0};
  std::mutex mutex;  // guards done
  core::Progress done{.items_total = files.size()};
  for (const auto& file : files) {
    done.bytes_total += file.size;
  }
  auto work = [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) {
      results[i] = hash_blob(blobs, files[i].digest);
      if (progress) {
        std::lock_guard lock(mutex);
        ++done.items;
        done.bytes += files[i].size;
        progress(done);
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    for (std::size_t i = 1; i < std::max<std::size_t>(threads, 1); ++i) {
      pool.emplace_back(work);
    }
    work();
  }
  return results;
}

// The whole of a (small) blob, for manifests.
core::Result<std::string> read_whole(storage::BlobStore& blobs, const core::Digest& digest) {
  auto reader = blobs.open(digest);
  if (!reader) {
    return std::unexpected(reader.error());
  }
  const std::uint64_t size = (*reader)->size();
  if (size > kMaxManifestBytes) {
    return core::fail(ErrorCode::kManifestInvalid,
                      "it is " + std::to_string(size) + " bytes, too large for a manifest");
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  std::uint64_t offset = 0;
  while (offset < size) {
    auto n = (*reader)->read_at(
        offset, std::as_writable_bytes(std::span(bytes.data() + offset, size - offset)));
    if (!n) {
      return std::unexpected(n.error());
    }
    if (*n == 0) {
      return core::fail(ErrorCode::kInternal, "short read of " + digest.str());
    }
    offset += *n;
  }
  return bytes;
}

std::string at_digest(const core::RepositoryName& repo, const core::Digest& digest) {
  return repo.str() + "@" + digest.str();
}

// "repo:tag" for each tag, or "repo@digest" for an untagged manifest.
void add_reference_names(const meta::ManifestUse& use, std::set<std::string>& out) {
  if (use.tags.empty()) {
    out.insert(at_digest(use.repository, use.digest));
  }
  for (const auto& tag : use.tags) {
    out.insert(use.repository.str() + ":" + tag);
  }
}

core::Result<std::set<std::string>> references_needing(meta::CheckStore& store,
                                                       const core::Digest& digest) {
  auto uses = store.manifests_needing(digest);
  if (!uses) {
    return std::unexpected(uses.error());
  }
  std::set<std::string> references;
  for (const auto& use : *uses) {
    add_reference_names(use, references);
  }
  return references;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) {
      out.append(separator);
    }
    out.append(part);
  }
  return out;
}

// What a stored manifest's bytes say it references.
struct ParsedReferences {
  std::set<core::Digest> blobs;
  std::set<core::Digest> children;
};

core::Result<ParsedReferences> parse_references(std::string_view bytes,
                                                std::string_view media_type) {
  // The stored media type is the effective one of the push (the body's mediaType, else the
  // request's Content-Type), so parsing with it decides exactly as the push did.
  auto manifest = core::parse_manifest(bytes, media_type);
  if (!manifest) {
    return std::unexpected(manifest.error());
  }
  ParsedReferences references;
  for (const auto* blob : manifest->required_blobs()) {
    references.blobs.insert(blob->digest);
  }
  for (const auto& child : manifest->manifests) {
    references.children.insert(child.digest);
  }
  return references;
}

// The state check() builds up.
struct Scan {
  // Blob rows as first listed, by digest.
  std::map<core::Digest, meta::StoredBlob> rows;
  // Digests whose bytes are corrupt or (candidates for) missing: manifests are not parsed
  // from them, and relation repairs do not link them.
  std::set<core::Digest> bad_bytes;
  std::set<core::Digest> missing_candidates;
  // For each bad digest, the manifests whose parsed bytes name it (their relation rows may be
  // what is missing, so manifests_needing would not find them).
  std::map<core::Digest, std::set<std::string>> named_by;
};

}  // namespace

std::string_view kind_name(FindingKind kind) {
  switch (kind) {
    case FindingKind::kCorruptBlob:
      return "corrupt-blob";
    case FindingKind::kMissingBytes:
      return "missing-bytes";
    case FindingKind::kUnknownBlob:
      return "unknown-blob";
    case FindingKind::kBadManifest:
      return "bad-manifest";
    case FindingKind::kMissingChild:
      return "missing-child";
    case FindingKind::kRelationMismatch:
      return "relation-mismatch";
    case FindingKind::kUnreferencedFile:
      return "unreferenced-file";
    case FindingKind::kStaleUpload:
      return "stale-upload";
  }
  return "unknown";
}

std::string Finding::subject() const {
  if (repository && digest) {
    return at_digest(*repository, *digest);
  }
  if (digest) {
    return digest->str();
  }
  if (upload) {
    return "upload " + upload->str();
  }
  return "";
}

std::string Finding::remedy() const {
  if (fixed) {
    return "";
  }
  if (kind == FindingKind::kBadManifest && repository && digest) {
    // Putting the same bytes again keeps the existing record, so it must go first.
    return "delete " + at_digest(*repository, *digest) +
           (affected.empty() ? std::string() : " and push again: " + join(affected, ", "));
  }
  if (!affected.empty() && (!repairable || !action.empty())) {
    return "push again: " + join(affected, ", ");
  }
  if (repairable && action.empty() && needs_push_after_repair()) {
    // Repair drops the bad bytes and unlinks them; only a push brings the images back.
    return "berth check --repair, then push again: " + join(affected, ", ");
  }
  if (repairable) {
    return action.empty() ? "berth check --repair fixes it" : "";
  }
  return "no image needs it; restore it from a backup if it matters";
}

std::size_t CheckReport::remaining() const {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(), [](const Finding& f) { return !f.fixed; }));
}

Checker::Checker(CheckStores stores, const core::Clock& clock, CheckOptions options)
    : stores_(stores), clock_(clock), options_(options) {}

namespace {

// The pieces of check(), over one Scan. Every function returns only machine failures as errors.
class Pass {
 public:
  Pass(CheckStores stores, const core::Clock& clock, const CheckOptions& options,
       CheckReport& report)
      : stores_(stores), clock_(clock), options_(options), report_(report) {}

  core::Result<void> run() {
    std::vector<BlobFile> files;
    if (auto walked = stores_.blobs.for_each_blob([&](const core::Digest& d, std::uint64_t size) {
          files.push_back(BlobFile{d, size});
        });
        !walked) {
      return walked;
    }
    std::sort(files.begin(), files.end(),
              [](const BlobFile& a, const BlobFile& b) { return a.digest < b.digest; });
    report_.stats.blob_files = files.size();

    if (auto listed = list_rows(); !listed) {
      return listed;
    }
    std::vector<core::Digest> unreferenced;
    if (auto checked = check_files(files, unreferenced); !checked) {
      return checked;
    }
    std::set<core::Digest> on_disk;
    for (const auto& file : files) {
      on_disk.insert(file.digest);
    }
    for (const auto& [digest, row] : scan_.rows) {
      if (!on_disk.contains(digest)) {
        scan_.missing_candidates.insert(digest);
        scan_.bad_bytes.insert(digest);
      }
    }
    if (auto checked = check_manifests(); !checked) {
      return checked;
    }
    if (auto confirmed = confirm_missing(); !confirmed) {
      return confirmed;
    }
    if (auto confirmed = confirm_unreferenced(unreferenced); !confirmed) {
      return confirmed;
    }
    if (auto checked = check_uploads(); !checked) {
      return checked;
    }
    return fill_affected();
  }

 private:
  core::Result<void> list_rows() {
    std::string after;
    while (true) {
      auto page = stores_.check.list_blobs(after, kCheckPageSize);
      if (!page) {
        return std::unexpected(page.error());
      }
      for (auto& row : *page) {
        after = row.digest.str();
        scan_.rows.emplace(row.digest, std::move(row));
      }
      if (page->size() < kCheckPageSize) {
        break;
      }
    }
    report_.stats.blob_rows = scan_.rows.size();
    return {};
  }

  core::Result<void> check_files(const std::vector<BlobFile>& files,
                                 std::vector<core::Digest>& unreferenced) {
    std::vector<BlobHash> hashes;
    if (options_.hash) {
      hashes = hash_all(stores_.blobs, files, options_.threads, options_.progress);
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
      const auto& file = files[i];
      const auto row = scan_.rows.find(file.digest);
      const meta::StoredBlob* recorded = row == scan_.rows.end() ? nullptr : &row->second;
      if (options_.hash) {
        auto hash = hashes[i];
        report_.stats.bytes_hashed += hash.bytes;
        if (hash.state != BlobHash::State::kOk && hash.state != BlobHash::State::kVanished) {
          // Once more, alone: a file replaced meanwhile by a publish of the same digest (a
          // rename over it) reads right the second time.
          hash = hash_blob(stores_.blobs, file.digest);
        }
        if (hash.state == BlobHash::State::kVanished) {
          // Collected since the walk, or damage: confirm_missing tells which.
          if (recorded != nullptr) {
            scan_.missing_candidates.insert(file.digest);
            scan_.bad_bytes.insert(file.digest);
          }
          continue;
        }
        if (hash.state != BlobHash::State::kOk) {
          add_corrupt(file.digest,
                      hash.state == BlobHash::State::kUnreadable ? "cannot be read: " + hash.detail
                                                                 : "is corrupt: " + hash.detail,
                      true);
          continue;
        }
      }
      if (recorded != nullptr && recorded->size != file.size) {
        // With a verified hash the bytes are right and the row is wrong, which no repair here
        // can decide; without one the file is most likely truncated.
        add_corrupt(file.digest,
                    "is " + std::to_string(file.size) + " bytes, but the metadata records " +
                        std::to_string(recorded->size) +
                        (options_.hash ? " (the bytes hash correctly: the record is wrong)" : ""),
                    !options_.hash);
        continue;
      }
      if (recorded == nullptr) {
        unreferenced.push_back(file.digest);
      }
    }
    return {};
  }

  void add_corrupt(const core::Digest& digest, std::string what, bool repairable) {
    Finding finding(FindingKind::kCorruptBlob);
    finding.digest = digest;
    finding.detail = "blob " + std::move(what);
    finding.repairable = repairable;
    report_.findings.push_back(std::move(finding));
    scan_.bad_bytes.insert(digest);
  }

  core::Result<void> check_manifests() {
    std::int64_t cursor = 0;
    while (true) {
      auto page = stores_.check.list_manifests(cursor, kCheckPageSize);
      if (!page) {
        return std::unexpected(page.error());
      }
      for (const auto& manifest : *page) {
        cursor = manifest.cursor;
        ++report_.stats.manifests;
        if (auto checked = check_manifest(manifest); !checked) {
          return checked;
        }
      }
      if (page->size() < kCheckPageSize) {
        return {};
      }
    }
  }

  // Analyses the manifest; if anything looks wrong, reads it again and reports only what the
  // fresh read still shows (a push or delete may have changed it since the page was read).
  core::Result<void> check_manifest(const meta::StoredManifest& listed) {
    std::vector<Finding> findings;
    if (auto analysed = analyse(listed, findings); !analysed) {
      return analysed;
    }
    if (findings.empty()) {
      return {};
    }
    auto fresh = stores_.check.find_manifest(listed.repository, listed.digest);
    if (!fresh) {
      return std::unexpected(fresh.error());
    }
    if (!*fresh) {
      return {};  // deleted meanwhile
    }
    findings.clear();
    if (auto analysed = analyse(**fresh, findings); !analysed) {
      return analysed;
    }
    for (auto& finding : findings) {
      report_.findings.push_back(std::move(finding));
    }
    return {};
  }

  core::Result<void> analyse(const meta::StoredManifest& manifest, std::vector<Finding>& out) {
    if (scan_.bad_bytes.contains(manifest.digest)) {
      return {};  // reported with the blob, with this manifest among the affected
    }
    auto bytes = read_whole(stores_.blobs, manifest.digest);
    if (!bytes && bytes.error().code == ErrorCode::kBlobUnknown) {
      // Gone since the walk: a missing-bytes candidate like any other row without a file.
      scan_.missing_candidates.insert(manifest.digest);
      scan_.bad_bytes.insert(manifest.digest);
      return {};
    }
    auto affected = [&]() -> core::Result<std::vector<std::string>> {
      auto references = references_needing(stores_.check, manifest.digest);
      if (!references) {
        return std::unexpected(references.error());
      }
      return std::vector<std::string>(references->begin(), references->end());
    };
    auto manifest_finding = [&](FindingKind kind, std::string detail) -> core::Result<void> {
      Finding finding(kind);
      finding.repository = manifest.repository;
      finding.digest = manifest.digest;
      finding.detail = std::move(detail);
      auto references = affected();
      if (!references) {
        return std::unexpected(references.error());
      }
      finding.affected = std::move(*references);
      finding.repairable = kind == FindingKind::kRelationMismatch;
      out.push_back(std::move(finding));
      return {};
    };
    if (!bytes) {
      return manifest_finding(FindingKind::kBadManifest,
                              "manifest bytes cannot be read: " + bytes.error().message);
    }
    auto parsed = parse_references(*bytes, manifest.media_type);
    if (!parsed) {
      return manifest_finding(FindingKind::kBadManifest,
                              "stored manifest does not parse: " + parsed.error().message);
    }

    std::set<std::string> self;
    add_reference_names(meta::ManifestUse{manifest.repository, manifest.digest, manifest.tags},
                        self);
    std::vector<std::string> unknown;
    std::vector<std::string> unlinked;
    std::size_t lacking_rows = 0;
    for (const auto& blob : parsed->blobs) {
      auto row = find_row(blob);
      if (!row) {
        return std::unexpected(row.error());
      }
      if (!*row) {
        unknown.push_back(blob.str());
        continue;
      }
      if (!std::binary_search(manifest.blobs.begin(), manifest.blobs.end(), blob)) {
        ++lacking_rows;
      }
      if (scan_.bad_bytes.contains(blob)) {
        scan_.named_by[blob].insert(self.begin(), self.end());
        continue;  // not linked on purpose once repaired: see check.hpp
      }
      auto linked = stores_.metadata.linked_blob(manifest.repository, blob);
      if (!linked) {
        return std::unexpected(linked.error());
      }
      if (!*linked) {
        unlinked.push_back(blob.str());
      }
    }
    auto own = stores_.metadata.linked_blob(manifest.repository, manifest.digest);
    if (!own) {
      return std::unexpected(own.error());
    }
    if (!*own) {
      unlinked.push_back(manifest.digest.str() + " (the manifest itself)");
    }
    const auto extra_rows = static_cast<std::size_t>(
        std::count_if(manifest.blobs.begin(), manifest.blobs.end(),
                      [&](const core::Digest& d) { return !parsed->blobs.contains(d); }));
    std::size_t lacking_children = 0;
    std::vector<std::string> missing_children;
    for (const auto& child : parsed->children) {
      if (!std::binary_search(manifest.children.begin(), manifest.children.end(), child)) {
        ++lacking_children;
      }
      auto present = stores_.metadata.get_manifest(manifest.repository, child);
      if (!present) {
        return std::unexpected(present.error());
      }
      if (!*present) {
        missing_children.push_back(child.str());
      }
    }
    const auto extra_children = static_cast<std::size_t>(
        std::count_if(manifest.children.begin(), manifest.children.end(),
                      [&](const core::Digest& d) { return !parsed->children.contains(d); }));

    if (!unknown.empty()) {
      if (auto added =
              manifest_finding(FindingKind::kUnknownBlob,
                               "manifest names " + util::count_of(unknown.size(), "blob", "blobs") +
                                   " that were never stored: " + join(unknown, ", "));
          !added) {
        return added;
      }
    }
    for (const auto& child : missing_children) {
      if (auto added = manifest_finding(FindingKind::kMissingChild,
                                        "index names manifest " + child + ", which " +
                                            manifest.repository.str() + " does not hold");
          !added) {
        return added;
      }
    }
    std::vector<std::string> mismatches;
    if (lacking_rows > 0) {
      mismatches.push_back("lacks " + util::count_of(lacking_rows, "blob row", "blob rows"));
    }
    if (extra_rows > 0) {
      mismatches.push_back("has " + util::count_of(extra_rows, "blob row", "blob rows") +
                           " the manifest does not name");
    }
    if (lacking_children > 0) {
      mismatches.push_back("lacks " + util::count_of(lacking_children, "child row", "child rows"));
    }
    if (extra_children > 0) {
      mismatches.push_back("has " + util::count_of(extra_children, "child row", "child rows") +
                           " the manifest does not name");
    }
    if (!unlinked.empty()) {
      mismatches.push_back(manifest.repository.str() + " does not link " + join(unlinked, ", "));
    }
    if (!mismatches.empty()) {
      return manifest_finding(
          FindingKind::kRelationMismatch,
          "relations disagree with the stored manifest: " + join(mismatches, "; "));
    }
    return {};
  }

  // The blob row, from the first listing or, for blobs pushed since, the database.
  core::Result<std::optional<meta::StoredBlob>> find_row(const core::Digest& digest) {
    if (auto it = scan_.rows.find(digest); it != scan_.rows.end()) {
      return it->second;
    }
    return stores_.check.find_blob(digest);
  }

  core::Result<void> confirm_missing() {
    for (const auto& digest : scan_.missing_candidates) {
      auto before = stores_.check.find_blob(digest);
      if (!before) {
        return std::unexpected(before.error());
      }
      if (!*before) {
        continue;  // collected: row first, then bytes
      }
      auto stat = stores_.blobs.stat(digest);
      if (!stat) {
        return std::unexpected(stat.error());
      }
      if (*stat) {
        continue;
      }
      auto after = stores_.check.find_blob(digest);
      if (!after) {
        return std::unexpected(after.error());
      }
      if (!*after || (*after)->created != (*before)->created) {
        continue;  // collected and pushed again around the stat
      }
      Finding finding(FindingKind::kMissingBytes);
      finding.digest = digest;
      finding.detail = "blob of " + std::to_string((*after)->size) + " bytes is recorded (" +
                       util::count_of((*after)->links, "repository links", "repositories link") +
                       " it) but its bytes are gone";
      // Repair unlinks it so that pushing again uploads it; with no link left there is
      // nothing to do unless no manifest needs it (see fill_affected).
      finding.repairable = (*after)->links > 0;
      report_.findings.push_back(std::move(finding));
    }
    return {};
  }

  core::Result<void> confirm_unreferenced(const std::vector<core::Digest>& candidates) {
    const auto now = clock_.now();
    for (const auto& digest : candidates) {
      auto row = stores_.check.find_blob(digest);
      if (!row) {
        return std::unexpected(row.error());
      }
      if (*row) {
        continue;  // its push linked it meanwhile
      }
      auto known = stores_.gc.blob_known(digest);
      if (!known) {
        return std::unexpected(known.error());
      }
      if (*known) {
        continue;  // tombstoned: a collection is deleting it
      }
      auto modified = stores_.blobs.modified(digest);
      if (!modified) {
        return std::unexpected(modified.error());
      }
      // Grace 0 means none: even a file written after `now` was read is fair game.
      const bool young =
          options_.grace.count() > 0 && (!*modified || now - **modified < options_.grace);
      if (young) {
        ++report_.stats.young_leftovers;
        continue;
      }
      auto present = stores_.blobs.stat(digest);
      if (!present) {
        return std::unexpected(present.error());
      }
      if (!*present) {
        continue;
      }
      Finding finding(FindingKind::kUnreferencedFile);
      finding.digest = digest;
      finding.detail =
          "stored blob of " + std::to_string(**present) + " bytes that the metadata does not know";
      finding.repairable = true;
      report_.findings.push_back(std::move(finding));
    }
    return {};
  }

  core::Result<void> check_uploads() {
    const auto cutoff = clock_.now() - options_.grace;
    auto files = stores_.blobs.list_uploads();
    if (!files) {
      return std::unexpected(files.error());
    }
    report_.stats.uploads = files->size();
    for (const auto& file : *files) {
      if (options_.grace.count() > 0 && file.modified >= cutoff) {
        continue;
      }
      auto session = stores_.metadata.get_upload(file.id);
      if (!session) {
        return std::unexpected(session.error());
      }
      if (*session) {
        continue;
      }
      Finding finding(FindingKind::kStaleUpload);
      finding.upload = file.id;
      finding.detail = "upload file without a session";
      finding.repairable = true;
      report_.findings.push_back(std::move(finding));
    }
    auto sessions = stores_.metadata.stale_uploads(cutoff);
    if (!sessions) {
      return std::unexpected(sessions.error());
    }
    for (const auto& session : *sessions) {
      auto reader = stores_.blobs.read_upload(session.id);
      if (reader) {
        continue;
      }
      if (reader.error().code != ErrorCode::kBlobUploadUnknown) {
        return std::unexpected(reader.error());
      }
      Finding finding(FindingKind::kStaleUpload);
      finding.upload = session.id;
      finding.repository = session.repository;
      finding.detail = "upload session of " + session.repository.str() + " without its file";
      finding.repairable = true;
      report_.findings.push_back(std::move(finding));
    }
    return {};
  }

  core::Result<void> fill_affected() {
    for (auto& finding : report_.findings) {
      if (finding.kind != FindingKind::kCorruptBlob && finding.kind != FindingKind::kMissingBytes) {
        continue;
      }
      auto references = references_needing(stores_.check, *finding.digest);
      if (!references) {
        return std::unexpected(references.error());
      }
      if (auto named = scan_.named_by.find(*finding.digest); named != scan_.named_by.end()) {
        references->insert(named->second.begin(), named->second.end());
      }
      finding.affected.assign(references->begin(), references->end());
      if (finding.kind == FindingKind::kMissingBytes && finding.affected.empty()) {
        finding.repairable = true;  // its row is forgotten
      }
    }
    return {};
  }

  CheckStores stores_;
  const core::Clock& clock_;
  const CheckOptions& options_;
  CheckReport& report_;
  Scan scan_;
};

// The repairs of check.hpp, one per kind, each re-checking before it acts.
class Repairs {
 public:
  Repairs(CheckStores stores, const core::Clock& clock, const CheckOptions& options)
      : stores_(stores), clock_(clock), options_(options) {}

  core::Result<void> repair(Finding& finding) {
    switch (finding.kind) {
      case FindingKind::kRelationMismatch:
        return relations(finding);
      case FindingKind::kCorruptBlob:
        return corrupt(finding);
      case FindingKind::kMissingBytes:
        return missing(finding);
      case FindingKind::kUnreferencedFile:
        return unreferenced(finding);
      case FindingKind::kStaleUpload:
        return upload(finding);
      case FindingKind::kUnknownBlob:
      case FindingKind::kBadManifest:
      case FindingKind::kMissingChild:
        return {};
    }
    return {};
  }

 private:
  core::Result<void> relations(Finding& finding) {
    auto bytes = read_whole(stores_.blobs, *finding.digest);
    if (!bytes) {
      if (bytes.error().code == ErrorCode::kBlobUnknown) {
        auto still = stores_.check.find_manifest(*finding.repository, *finding.digest);
        if (!still) {
          return std::unexpected(still.error());
        }
        if (!*still) {
          finding.fixed = true;
          finding.action = "the manifest was deleted meanwhile";
          return {};
        }
      }
      finding.action = "cannot read the manifest: " + bytes.error().message;
      return {};
    }
    auto manifest = stores_.check.find_manifest(*finding.repository, *finding.digest);
    if (!manifest) {
      return std::unexpected(manifest.error());
    }
    if (!*manifest) {
      finding.fixed = true;
      finding.action = "the manifest was deleted meanwhile";
      return {};
    }
    auto parsed = parse_references(*bytes, (*manifest)->media_type);
    if (!parsed) {
      finding.action = "the manifest does not parse: " + parsed.error().message;
      return {};
    }
    std::vector<core::Digest> unlinkable;
    for (const auto& blob : parsed->blobs) {
      auto stat = stores_.blobs.stat(blob);
      if (!stat) {
        return std::unexpected(stat.error());
      }
      if (!*stat) {
        unlinkable.push_back(blob);
      }
    }
    auto outcome = stores_.check.rebuild_relations(
        *finding.repository, *finding.digest,
        std::vector<core::Digest>(parsed->blobs.begin(), parsed->blobs.end()),
        std::vector<core::Digest>(parsed->children.begin(), parsed->children.end()), unlinkable,
        clock_.now());
    if (!outcome) {
      return std::unexpected(outcome.error());
    }
    if (!outcome->found) {
      finding.fixed = true;
      finding.action = "the manifest was deleted meanwhile";
      return {};
    }
    finding.action = "rebuilt relations from the stored manifest (" +
                     util::count_of(outcome->changes, "row", "rows") + " changed)";
    finding.fixed = outcome->unknown_blobs.empty();
    return {};
  }

  core::Result<void> corrupt(Finding& finding) {
    if (!finding.repairable) {
      return {};
    }
    const auto& digest = *finding.digest;
    auto hash = hash_blob(stores_.blobs, digest);
    if (hash.state == BlobHash::State::kOk) {
      auto row = stores_.check.find_blob(digest);
      if (!row) {
        return std::unexpected(row.error());
      }
      if (!*row || (*row)->size == hash.bytes) {
        finding.fixed = true;
        finding.action = "the bytes hash correctly now (published again meanwhile)";
        return {};
      }
    }
    auto row = stores_.check.find_blob(digest);
    if (!row) {
      return std::unexpected(row.error());
    }
    if (!*row) {
      // Nothing knows it: delete it like any unreferenced file.
      return remove_unknown(finding, "deleted the corrupt file, which nothing references");
    }
    return drop_bytes(finding, hash.state == BlobHash::State::kVanished
                                   ? "its bytes are gone"
                                   : "dropped the corrupt bytes");
  }

  core::Result<void> missing(Finding& finding) {
    const auto& digest = *finding.digest;
    auto stat = stores_.blobs.stat(digest);
    if (!stat) {
      return std::unexpected(stat.error());
    }
    if (*stat) {
      finding.fixed = true;
      finding.action = "the bytes are back (pushed again meanwhile)";
      return {};
    }
    auto row = stores_.check.find_blob(digest);
    if (!row) {
      return std::unexpected(row.error());
    }
    if (!*row) {
      finding.fixed = true;
      finding.action = "the blob was collected meanwhile";
      return {};
    }
    return drop_bytes(finding, "");
  }

  // Unlinks the digest everywhere, removes its bytes, and forgets it entirely when no manifest
  // needs it; otherwise lists the images to push again.
  core::Result<void> drop_bytes(Finding& finding, std::string_view what) {
    const auto& digest = *finding.digest;
    auto repositories = stores_.check.unlink_everywhere(digest);
    if (!repositories) {
      return std::unexpected(repositories.error());
    }
    if (auto removed = stores_.blobs.remove(digest); !removed) {
      return removed;
    }
    std::vector<std::string> actions;
    if (!what.empty()) {
      actions.emplace_back(what);
    }
    if (!repositories->empty()) {
      std::vector<std::string> names;
      for (const auto& repository : *repositories) {
        names.push_back(repository.str());
      }
      actions.push_back("unlinked it from " + join(names, ", ") +
                        " so that pushing again uploads it");
    }
    auto references = references_needing(stores_.check, digest);
    if (!references) {
      return std::unexpected(references.error());
    }
    finding.affected.assign(references->begin(), references->end());
    if (references->empty()) {
      auto deleted = stores_.check.delete_unreferenced_blob_row(digest);
      if (!deleted) {
        return std::unexpected(deleted.error());
      }
      actions.emplace_back("forgot the blob: no manifest needs it");
      finding.fixed = true;
    }
    if (actions.empty()) {
      actions.emplace_back("nothing: no repository links it any more");
    }
    finding.action = join(actions, "; ");
    return {};
  }

  core::Result<void> unreferenced(Finding& finding) {
    const auto& digest = *finding.digest;
    auto modified = stores_.blobs.modified(digest);
    if (!modified) {
      return std::unexpected(modified.error());
    }
    if (!*modified) {
      finding.fixed = true;
      finding.action = "the file is gone";
      return {};
    }
    if (options_.grace.count() > 0 && clock_.now() - **modified < options_.grace) {
      finding.action = "the file was written again meanwhile; left alone";
      return {};
    }
    return remove_unknown(finding, "deleted the file");
  }

  // The tombstone protocol of meta/gc_store.hpp: a push of the same digest that completes
  // meanwhile either linked it first (then tombstoning fails and the file stays) or is told to
  // retry until the bytes are gone and the tombstone cleared.
  core::Result<void> remove_unknown(Finding& finding, std::string_view what) {
    const auto& digest = *finding.digest;
    auto tombstoned = stores_.gc.tombstone_orphan_blob(digest, clock_.now());
    if (!tombstoned) {
      return std::unexpected(tombstoned.error());
    }
    if (!*tombstoned) {
      finding.fixed = true;
      finding.action = "a push referenced it meanwhile; kept";
      return {};
    }
    if (auto removed = stores_.blobs.remove(digest); !removed) {
      return removed;
    }
    if (auto cleared = stores_.gc.clear_tombstone(digest); !cleared) {
      return cleared;
    }
    finding.fixed = true;
    finding.action = std::string(what);
    return {};
  }

  core::Result<void> upload(Finding& finding) {
    const auto& id = *finding.upload;
    auto session = stores_.metadata.get_upload(id);
    if (!session) {
      return std::unexpected(session.error());
    }
    if (!*session) {
      if (auto removed = stores_.blobs.delete_upload(id); !removed) {
        return removed;
      }
      finding.fixed = true;
      finding.action = "deleted the upload file";
      return {};
    }
    auto reader = stores_.blobs.read_upload(id);
    if (reader) {
      finding.fixed = true;
      finding.action = "the upload has its file now";
      return {};
    }
    if (reader.error().code != ErrorCode::kBlobUploadUnknown) {
      return std::unexpected(reader.error());
    }
    if (auto removed = stores_.metadata.delete_upload(id); !removed) {
      return removed;
    }
    finding.fixed = true;
    finding.action = "deleted the upload session";
    return {};
  }

  CheckStores stores_;
  const core::Clock& clock_;
  const CheckOptions& options_;
};

// Relations first: rebuilt rows change which manifests need which blob, and so what the blob
// repairs report as affected.
int repair_order(FindingKind kind) {
  switch (kind) {
    case FindingKind::kRelationMismatch:
      return 0;
    case FindingKind::kCorruptBlob:
    case FindingKind::kMissingBytes:
      return 1;
    default:
      return 2;
  }
}

}  // namespace

core::Result<CheckReport> Checker::check() {
  const auto started = std::chrono::steady_clock::now();
  CheckReport report;
  Pass pass(stores_, clock_, options_, report);
  if (auto ran = pass.run(); !ran) {
    return std::unexpected(ran.error());
  }
  report.stats.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  return report;
}

core::Result<void> Checker::repair(CheckReport& report, const std::string& holder,
                                   const std::function<void()>& on_wait) {
  const bool any = std::any_of(report.findings.begin(), report.findings.end(),
                               [](const Finding& f) { return f.repairable && !f.fixed; });
  if (!any) {
    return {};
  }
  MaintenanceLease lease(stores_.gc, clock_, holder, options_.lease_ttl);
  if (auto acquired = lease.acquire(on_wait); !acquired) {
    return acquired;
  }
  std::vector<Finding*> order;
  for (auto& finding : report.findings) {
    if (finding.repairable && !finding.fixed) {
      order.push_back(&finding);
    }
  }
  std::stable_sort(order.begin(), order.end(), [](const Finding* a, const Finding* b) {
    return repair_order(a->kind) < repair_order(b->kind);
  });
  Repairs repairs(stores_, clock_, options_);
  for (Finding* finding : order) {
    if (lease.lost()) {
      return core::fail(ErrorCode::kUnavailable,
                        "lost the gc lease while repairing; run berth check --repair again");
    }
    if (auto repaired = repairs.repair(*finding); !repaired) {
      return repaired;
    }
  }
  return lease.release();
}

}  // namespace berth::lifecycle
