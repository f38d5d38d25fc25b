// AuditStore: the audit log's entries (who did what, when, from where, with what result), kept
// in the metadata database beside what they describe. Written in batches by audit/audit_log.hpp
// off the request path, read by GET /api/v1/audit and `berth audit`, pruned by the scheduled
// jobs (audit.retention).
//
// Entries are only ever added and pruned by age, never changed: the id a store gives an entry
// grows with every append, so "newest first" is descending id and a page's last id is the cursor
// of the next page.
//
// Thread-safe; blocking (call from a blocking pool).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace berth::meta {

using core::Result;

struct AuditEntry {
  // Given by the store on append; 0 before.
  std::int64_t id = 0;
  core::TimePoint at{};
  // Who: a user or robot name, "anonymous", "cli:<os user>" or "system" (scheduled jobs).
  std::string actor{};
  // The client's IP address; empty for the CLI and the server's own jobs.
  std::string remote{};
  // What, as "<object>.<verb>": "manifest.push", "tag.delete", "signin", "project.create", ...
  std::string action{};
  // The project it concerns; empty when none (users, settings of the server).
  std::string project{};
  // The object: "app/web:1.0", "app/web@sha256:...", a user or robot name.
  std::string target{};
  // "ok" or "failed".
  std::string result{};
  // The HTTP status answered; 0 where there was no request.
  int status = 0;
  // Figures or a reason, free text for people.
  std::string detail{};
  // How many identical events this entry stands for (repeated failed sign-ins are coalesced).
  std::int64_t count = 1;
};

struct AuditQuery {
  // Exact matches; empty: any.
  std::string actor{};
  std::string project{};
  std::string action{};
  // at >= since and at < until.
  std::optional<core::TimePoint> since{};
  std::optional<core::TimePoint> until{};
  // Only entries older than the entry with this id (the cursor of the previous page).
  std::optional<std::int64_t> before_id{};
  std::size_t limit = 100;
  std::size_t offset = 0;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Adds the entries in one transaction, in order (later entries get larger ids).
  [[nodiscard]] virtual Result<void> append(const std::vector<AuditEntry>& entries) = 0;
  // The entries matching the query, newest (largest id) first.
  [[nodiscard]] virtual Result<std::vector<AuditEntry>> list(const AuditQuery& query) = 0;
  // Deletes the entries from before `before`; how many went.
  [[nodiscard]] virtual Result<std::int64_t> prune(core::TimePoint before) = 0;
};

}  // namespace berth::meta
