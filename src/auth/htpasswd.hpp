// An htpasswd file as a second source of users. Only bcrypt lines are accepted; a line with
// any other hash kind (MD5 "$apr1$", SHA "{SHA}", crypt, plain) is refused with a log line
// naming the user and the line number, never silently accepted. The file is re-read when
// its modification time, size or inode changes (checked at most once per check_interval),
// so adding a user needs no restart.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/error.hpp"

namespace berth::auth {

struct HtpasswdEntry {
  std::string user;
  std::string hash;
};

struct HtpasswdParse {
  std::vector<HtpasswdEntry> entries;
  // Human-readable problems: "line 3: user 'bob' has an MD5 hash; only bcrypt is accepted".
  std::vector<std::string> refused;
};

// Parses the file's text. Blank lines and lines starting with '#' are ignored; CRLF line
// ends and surrounding blanks are tolerated. A user listed twice is noted in `refused` and
// the last line wins, even when that line is refused: the user then has no hash at all,
// because an older password must not stay valid after an edit meant to replace it.
// A line without ':' or with an empty user name is refused with its line number.
[[nodiscard]] HtpasswdParse parse_htpasswd(std::string_view text);

class HtpasswdFile {
 public:
  using Logger = std::function<void(const std::string& message)>;

  // warn receives each refused line and read errors (once per change of the file). A file
  // that is missing or unreadable means no users, never a crash. The file is read once here.
  HtpasswdFile(std::filesystem::path path, Logger warn,
               std::chrono::milliseconds check_interval = std::chrono::seconds(1));

  // The bcrypt hash for user, re-reading the file first if it changed. Blocking (stat and
  // maybe read): call from the blocking pool. Thread-safe.
  [[nodiscard]] std::optional<std::string> hash_for(const std::string& user);
  // The users with an accepted line, in name order; blocking and thread-safe as hash_for.
  [[nodiscard]] std::vector<std::string> users();
  // Re-reads the file if it changed (at most once per check_interval), as hash_for does: what
  // the auth caches' sync calls (account_version.hpp), since a cached answer asks no hash_for.
  void refresh();
  // Moves each time the users read from the file change (a re-read, or a file gone). Never
  // blocks.
  [[nodiscard]] std::uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }

 private:
  void refresh_if_due_locked();
  void refresh_locked();

  std::filesystem::path path_;
  Logger warn_;
  std::chrono::milliseconds check_interval_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_check_{};
  // What the loaded content came from: mtime, size, inode.
  std::optional<std::tuple<std::int64_t, std::uintmax_t, std::uint64_t>> loaded_from_;
  std::map<std::string, std::string, std::less<>> users_;
  // The last read error reported, so that a file that stays missing is reported once.
  std::string last_warning_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace berth::auth
