#include "audit/audit_log.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

#include "util/utc_time.hpp"

namespace berth::audit {

boost::json::object to_json(const Entry& entry) {
  boost::json::object out;
  if (entry.id != 0) {
    out["id"] = entry.id;
  }
  out["time"] = util::format_utc(entry.at);
  out["user"] = entry.actor;
  out["remote"] = entry.remote;
  out["action"] = entry.action;
  out["project"] = entry.project;
  out["target"] = entry.target;
  out["result"] = entry.result;
  out["status"] = entry.status;
  out["detail"] = entry.detail;
  out["count"] = entry.count;
  return out;
}

std::string to_json_line(const Entry& entry) { return boost::json::serialize(to_json(entry)); }

AuditLog::AuditLog(meta::AuditStore& store, const core::Clock& clock, AuditOptions options,
                   Post post)
    : store_(store), clock_(clock), options_(std::move(options)), post_(std::move(post)) {
  if (!options_.file.empty()) {
    open_file();
  }
}

void AuditLog::open_file() {
  file_ = std::fopen(options_.file.c_str(), "a");
  struct stat st {};
  if (file_ == nullptr || ::fstat(::fileno(file_), &st) != 0) {
    spdlog::warn("audit: cannot open {} for appending ({}); entries go to the database only",
                 options_.file.string(), std::strerror(errno));
    return;
  }
  file_id_ = {st.st_dev, st.st_ino};
}

void AuditLog::reopen_if_moved() {
  if (file_ == nullptr) {
    return;
  }
  struct stat st {};
  if (::stat(options_.file.c_str(), &st) == 0 &&
      std::pair<std::uint64_t, std::uint64_t>(st.st_dev, st.st_ino) == file_id_) {
    return;
  }
  std::fclose(file_);
  open_file();
}

AuditLog::~AuditLog() {
  close();
  if (file_ != nullptr) {
    std::fclose(file_);
  }
}

void AuditLog::record(Entry entry) {
  if (entry.at == core::TimePoint{}) {
    entry.at = clock_.now();
  }
  Drain drain = Drain::kNone;
  {
    std::lock_guard lock(mutex_);
    drain = enqueue_locked(std::move(entry));
  }
  post_drain(drain);
}

void AuditLog::post_drain(Drain drain) {
  if (drain != Drain::kNone) {
    post_(drain == Drain::kNow ? std::chrono::milliseconds(0) : options_.batch_wait,
          [this] { this->drain(); });
  }
}

void AuditLog::record_failure(Entry entry) {
  const auto now = clock_.now();
  entry.at = now;
  Drain drain = Drain::kNone;
  {
    std::lock_guard lock(mutex_);
    Key key{entry.action, entry.actor, entry.remote, entry.detail};
    auto it = repeats_.find(key);
    if (it != repeats_.end() && now - it->second.window_start < options_.coalesce_window) {
      ++it->second.count;
      it->second.last = now;
      return;
    }
    drain = expire_repeats_locked(now);
    if (repeats_.size() >= options_.max_coalesced) {
      // What expiring queued still gets its drain (the drop is only this entry's).
      note_drop("too many kinds of failed sign-in at once");
    } else {
      repeats_.emplace(key, Repeats{now, now, 0, entry});
      drain = sooner(enqueue_locked(std::move(entry)), drain);
    }
  }
  post_drain(drain);
}

AuditLog::Drain AuditLog::enqueue_locked(Entry entry) {
  if (queue_.size() >= options_.queue_capacity) {
    note_drop("the queue is full: the database falls behind");
    return Drain::kNone;
  }
  queue_.push_back(std::move(entry));
  if (closed_) {
    return Drain::kNone;
  }
  if (!drain_posted_) {
    drain_posted_ = true;
    return Drain::kLater;
  }
  // A full batch need not wait for the rest of the wait.
  if (!urgent_posted_ && queue_.size() >= options_.batch_entries) {
    urgent_posted_ = true;
    return Drain::kNow;
  }
  return Drain::kNone;
}

AuditLog::Drain AuditLog::expire_repeats_locked(core::TimePoint now) {
  Drain drain = Drain::kNone;
  for (auto it = repeats_.begin(); it != repeats_.end();) {
    if (now - it->second.window_start < options_.coalesce_window) {
      ++it;
      continue;
    }
    drain = sooner(enqueue_repeats_locked(it->second), drain);
    it = repeats_.erase(it);
  }
  return drain;
}

AuditLog::Drain AuditLog::enqueue_repeats_locked(Repeats& repeats) {
  if (repeats.count == 0) {
    return Drain::kNone;
  }
  Entry repeated = std::move(repeats.entry);
  repeated.at = repeats.last;
  repeated.count = repeats.count;
  repeated.detail += repeated.detail.empty() ? "repeated" : " (repeated)";
  return enqueue_locked(std::move(repeated));
}

void AuditLog::note_drop(std::string_view why) {
  const auto before = dropped_.fetch_add(1, std::memory_order_relaxed);
  // The first drop and then one line per thousand: the log must not become the flood.
  if (before % 1000 == 0) {
    spdlog::warn("audit: entry dropped ({}); {} dropped so far", why, before + 1);
  }
}

void AuditLog::drain() {
  while (true) {
    std::vector<Entry> batch;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) {
        drain_posted_ = false;
        return;
      }
      batch.swap(queue_);
      urgent_posted_ = false;
    }
    write(batch);
  }
}

void AuditLog::flush() {
  std::vector<Entry> batch;
  {
    std::lock_guard lock(mutex_);
    // Written here rather than by a drain: one that expiring them marked as posted is not.
    const Drain expired = expire_repeats_locked(clock_.now());
    if (expired == Drain::kLater) {
      drain_posted_ = false;
    } else if (expired == Drain::kNow) {
      urgent_posted_ = false;
    }
    batch.swap(queue_);
  }
  write(batch);
}

void AuditLog::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    // The coalesced repeats are written now, whatever their window.
    for (auto& [key, repeats] : repeats_) {
      (void)enqueue_repeats_locked(repeats);
    }
    repeats_.clear();
  }
  flush();
}

void AuditLog::write(const std::vector<Entry>& batch) {
  if (batch.empty()) {
    return;
  }
  std::lock_guard lock(write_mutex_);
  if (auto appended = store_.append(batch); !appended) {
    dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
    spdlog::warn("audit: writing {} entries failed, dropped: {}", batch.size(),
                 appended.error().message);
  } else {
    written_.fetch_add(batch.size(), std::memory_order_relaxed);
  }
  if (file_ != nullptr) {
    reopen_if_moved();
  }
  if (file_ != nullptr || options_.log) {
    copy(batch);
  }
}

void AuditLog::copy(const std::vector<Entry>& batch) {
  bool failed = false;
  for (const auto& entry : batch) {
    const std::string line = to_json_line(entry);
    if (file_ != nullptr && std::fprintf(file_, "%s\n", line.c_str()) < 0) {
      failed = true;
    }
    if (options_.log) {
      spdlog::info("audit {}", line);
    }
  }
  if (file_ == nullptr) {
    return;
  }
  failed = std::fflush(file_) != 0 || failed;
  if (failed) {
    copy_failures_.fetch_add(1, std::memory_order_relaxed);
    std::clearerr(file_);
    // Once until a batch is written again, not per line or batch: a full disk stays full.
    if (!copy_failing_) {
      spdlog::warn("audit: writing to {} failed ({}); the entries are in the database",
                   options_.file.string(), std::strerror(errno));
    }
  }
  copy_failing_ = failed;
}

}  // namespace berth::audit
