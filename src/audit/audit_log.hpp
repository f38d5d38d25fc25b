// The audit log as the server writes it: who did what, when, from where, with what result.
//
// Handlers call record() on the request path, so it only appends to a bounded in-memory queue
// under a mutex (no I/O, no wait); the first entry into an empty queue posts one drain to the
// blocking pool to run batch_wait later (or at once when batch_entries are queued), which
// writes everything queued in one transaction (meta/audit_store.hpp) and copies each entry as a
// JSON line to audit.file and/or the log. The wait makes a burst of pushes one transaction. A full
// queue drops the entry, counts it (dropped()) and logs the drops: a slow database must never slow
// a push.
//
// Failed sign-ins come in floods (password guessing), so record_failure() coalesces them: the
// first failure of a kind (action, actor, address, reason) is recorded at once, the repeats
// within the window are only counted, and become one entry with that count when the window
// has passed (at the next flush). At most max_coalesced kinds are tracked; beyond that new
// kinds are dropped and counted, so the database grows by at most two entries per kind and
// window whatever the flood.
//
// Thread-safe. The AuditStore and clock must outlive the log; `post` must run its job later on
// another thread (the blocking pool), or inline in tests.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "meta/audit_store.hpp"

namespace berth::audit {

using Entry = meta::AuditEntry;

struct AuditOptions {
  // Entries waiting to be written; more are dropped.
  std::size_t queue_capacity = 10000;
  // How long after the first entry into an empty queue it is written, with what came since;
  // sooner once batch_entries wait.
  std::chrono::milliseconds batch_wait{200};
  std::size_t batch_entries = 500;
  // Repeats of a failed sign-in within this window become one entry.
  std::chrono::seconds coalesce_window{60};
  std::size_t max_coalesced = 1024;
  // Each entry as a JSON line appended to this file; empty: none.
  std::filesystem::path file{};
  // Each entry as a JSON line in the server log (info level).
  bool log = false;
};

// An entry as one JSON object (the API's and the copies' shape); "id" only once stored.
[[nodiscard]] boost::json::object to_json(const Entry& entry);
[[nodiscard]] std::string to_json_line(const Entry& entry);

class AuditLog {
 public:
  // Runs the job on another thread `after` from now (without holding a thread meanwhile).
  using Post = std::function<void(std::chrono::milliseconds after, std::function<void()> job)>;

  AuditLog(meta::AuditStore& store, const core::Clock& clock, AuditOptions options, Post post);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues the entry (`at` is set to now when unset). Never blocks on I/O.
  void record(Entry entry);
  // A failed sign-in, coalesced with its repeats (see the top).
  void record_failure(Entry entry);
  // Writes everything queued, and the coalesced repeats whose window has passed. Blocking.
  void flush();
  // From now on drains run inline in flush() only (the pool is going away); then flushes.
  void close();

  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Batches whose copy to audit.file could not be written (disk full, file gone).
  std::uint64_t copy_failures() const { return copy_failures_.load(std::memory_order_relaxed); }
  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }

 private:
  struct Repeats {
    core::TimePoint window_start;
    core::TimePoint last;
    std::int64_t count = 0;
    Entry entry;
  };
  using Key = std::tuple<std::string, std::string, std::string, std::string>;

  // When a drain must be posted, and how soon.
  enum class Drain { kNone, kLater, kNow };
  // Under mutex_: appends, or counts a drop; which drain to post.
  Drain enqueue_locked(Entry entry);
  // Under mutex_: the more urgent of the two.
  static Drain sooner(Drain a, Drain b) { return a > b ? a : b; }
  void post_drain(Drain drain);
  // Under mutex_: queues the repeats of every kind whose window has passed and forgets them.
  Drain expire_repeats_locked(core::TimePoint now);
  // Under mutex_: queues one entry for the counted repeats of a kind, if any.
  Drain enqueue_repeats_locked(Repeats& repeats);
  void drain();
  void write(const std::vector<Entry>& batch);
  // Under write_mutex_: opens audit.file again when its path no longer names the open file
  // (logrotate moved it away): one stat per batch.
  void reopen_if_moved();
  void open_file();
  void copy(const std::vector<Entry>& batch);
  void note_drop(std::string_view why);

  meta::AuditStore& store_;
  const core::Clock& clock_;
  const AuditOptions options_;
  Post post_;

  // Guards queue_, repeats_, drain_posted_, urgent_posted_ and closed_.
  std::mutex mutex_;
  std::vector<Entry> queue_;
  std::map<Key, Repeats> repeats_;
  bool drain_posted_ = false;
  // A drain without the wait was posted for a full batch (and has not run yet).
  bool urgent_posted_ = false;
  bool closed_ = false;

  // Guards the writing: one batch at a time, in queue order, and the copy file.
  std::mutex write_mutex_;
  std::FILE* file_ = nullptr;
  // The open file's identity (st_dev, st_ino), to notice that the path names another.
  std::pair<std::uint64_t, std::uint64_t> file_id_{};
  // The last copy failed (and was reported): the next failure is not reported again.
  bool copy_failing_ = false;

  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> copy_failures_{0};
};

}  // namespace berth::audit
