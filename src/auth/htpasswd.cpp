// Reading htpasswd files. Only bcrypt survives: every other hash kind htpasswd can write is
// fast to brute-force (MD5 "$apr1$", "{SHA}" without salt, DES crypt limited to 8
// characters) or no hash at all, so such a line is refused loudly instead of being a weak
// spot nobody notices. Change detection compares (mtime in ns, size, inode) with what the
// loaded content came from; an atomic replace by rename changes the inode, so tools that
// write a new file and rename it are picked up even within one mtime tick.
#include "auth/htpasswd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "auth/login_events.hpp"
#include "auth/password.hpp"
#include "util/unique_fd.hpp"

namespace berth::auth {
namespace {

// An htpasswd file holds a line per user; anything this large is not one.
constexpr std::size_t kMaxFileSize = 16 * 1024 * 1024;

std::string_view trim_line(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

bool is_crypt_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}

// What kind of hash a refused line has, for the message. The hash itself is never echoed.
std::string_view hash_kind(std::string_view hash) {
  if (hash.empty()) {
    return "an empty";
  }
  if (hash.starts_with("$apr1$")) {
    return "an MD5 ($apr1$)";
  }
  if (hash.starts_with("{SHA}")) {
    return "a SHA-1 ({SHA})";
  }
  if (hash.starts_with("$1$")) {
    return "an MD5-crypt ($1$)";
  }
  if (hash.starts_with("$5$")) {
    return "a SHA-256-crypt ($5$)";
  }
  if (hash.starts_with("$6$")) {
    return "a SHA-512-crypt ($6$)";
  }
  if (hash.starts_with("$2")) {
    return "a malformed or unsupported bcrypt";
  }
  if (hash.starts_with("$")) {
    return "an unsupported crypt";
  }
  if (hash.size() == 13 && std::all_of(hash.begin(), hash.end(), is_crypt_char)) {
    return "a DES crypt";
  }
  return "a plaintext (or unknown)";
}

using FileKey = std::tuple<std::int64_t, std::uintmax_t, std::uint64_t>;

FileKey key_of(const struct stat& st) {
  return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::uintmax_t>(st.st_size), static_cast<std::uint64_t>(st.st_ino)};
}

// errno becomes text here only.
std::string error_text(int error) { return std::generic_category().message(error); }

}  // namespace

HtpasswdParse parse_htpasswd(std::string_view text) {
  HtpasswdParse result;
  // One slot per accepted line; a slot is emptied when a later line names the same user.
  std::vector<std::optional<HtpasswdEntry>> slots;
  struct Seen {
    std::size_t line;
    std::size_t slot;  // npos when that line was refused
  };
  std::map<std::string, Seen, std::less<>> seen;
  constexpr std::size_t kNoSlot = std::size_t(-1);

  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto newline = text.find('\n');
    const std::string_view line = trim_line(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const std::string prefix = "line " + std::to_string(line_number) + ": ";
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      result.refused.push_back(prefix + "no ':' between user and hash");
      continue;
    }
    if (colon == 0) {
      result.refused.push_back(prefix + "empty user name");
      continue;
    }
    const std::string_view user = line.substr(0, colon);
    const std::string_view hash = trim_line(line.substr(colon + 1));
    const std::string shown = "user '" + printable(user) + "'";

    auto it = seen.find(user);
    if (it != seen.end()) {
      result.refused.push_back(prefix + shown + " is listed again (first on line " +
                               std::to_string(it->second.line) + "); the last line wins");
      if (it->second.slot != kNoSlot) {
        slots[it->second.slot].reset();
      }
    } else {
      it = seen.emplace(std::string(user), Seen{}).first;
    }
    it->second.line = line_number;
    if (is_bcrypt_hash(hash)) {
      it->second.slot = slots.size();
      slots.push_back(HtpasswdEntry{std::string(user), std::string(hash)});
    } else {
      it->second.slot = kNoSlot;
      result.refused.push_back(prefix + shown + " has " + std::string(hash_kind(hash)) +
                               " hash; only bcrypt is accepted (htpasswd -B)");
    }
  }
  for (auto& slot : slots) {
    if (slot) {
      result.entries.push_back(std::move(*slot));
    }
  }
  return result;
}

HtpasswdFile::HtpasswdFile(std::filesystem::path path, Logger warn,
                           std::chrono::milliseconds check_interval)
    : path_(std::move(path)), warn_(std::move(warn)), check_interval_(check_interval) {
  std::lock_guard lock(mutex_);
  last_check_ = std::chrono::steady_clock::now();
  refresh_locked();
}

void HtpasswdFile::refresh_if_due_locked() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ >= check_interval_) {
    last_check_ = now;
    refresh_locked();
  }
}

std::optional<std::string> HtpasswdFile::hash_for(const std::string& user) {
  std::lock_guard lock(mutex_);
  refresh_if_due_locked();
  auto it = users_.find(user);
  if (it == users_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<std::string> HtpasswdFile::users() {
  std::lock_guard lock(mutex_);
  refresh_if_due_locked();
  std::vector<std::string> names;
  names.reserve(users_.size());
  for (const auto& [name, hash] : users_) {
    names.push_back(name);
  }
  return names;
}

void HtpasswdFile::refresh() {
  std::lock_guard lock(mutex_);
  refresh_if_due_locked();
}

void HtpasswdFile::refresh_locked() {
  const std::string where = "htpasswd file '" + path_.string() + "'";
  auto fail = [&](const std::string& message) {
    if (loaded_from_ || !users_.empty()) {
      generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    users_.clear();
    loaded_from_.reset();
    if (message != last_warning_) {
      last_warning_ = message;
      if (warn_) {
        warn_(message + "; no users are loaded from it");
      }
    }
  };

  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    fail(where + ": " + error_text(errno));
    return;
  }
  if (loaded_from_ && *loaded_from_ == key_of(st)) {
    return;
  }
  // Read through one descriptor and take the identity from it, so that what is recorded
  // is the file whose bytes were read even if it is replaced meanwhile.
  const util::UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    fail(where + ": " + error_text(errno));
    return;
  }
  if (::fstat(fd.get(), &st) != 0) {
    fail(where + ": " + error_text(errno));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    fail(where + " is not a regular file");
    return;
  }
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxFileSize) {
    fail(where + " is larger than 16 MiB");
    return;
  }
  std::string text;
  char buffer[16 * 1024];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(where + ": " + error_text(errno));
      return;
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileSize) {
      fail(where + " is larger than 16 MiB");
      return;
    }
  }

  HtpasswdParse parsed = parse_htpasswd(text);
  users_.clear();
  for (auto& entry : parsed.entries) {
    users_.insert_or_assign(std::move(entry.user), std::move(entry.hash));
  }
  loaded_from_ = key_of(st);
  last_warning_.clear();
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (warn_) {
    for (const std::string& problem : parsed.refused) {
      warn_(where + ", " + problem);
    }
  }
}

}  // namespace berth::auth
