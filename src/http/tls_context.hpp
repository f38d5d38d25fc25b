// TLS server contexts: how Berth configures OpenSSL for its HTTPS listener, and the source of
// the current context that swaps in a new certificate and key when their files change.
//
// Policy (one place, so it can be reviewed at a glance): TLS 1.2 and 1.3 only; for 1.2 only
// ECDHE key exchange with AEAD ciphers (forward secrecy, no CBC); the server's cipher order
// wins; no compression (CRIME), no renegotiation; ALPN answers "http/1.1" when offered and
// stays silent otherwise (we never speak h2). Encrypted keys are refused rather than prompting
// on a terminal.
//
// Reloading: certificates are rotated by tools (certbot, cert-manager) that write new files,
// often by renaming over the old ones or flipping a symlink. reload_if_changed() compares
// (device, inode, size, mtime) of both files with what was last loaded; when either differs it
// builds a new context. Connections hold their context by shared_ptr, so those already open
// keep the one they shook hands with. A pair that does not load (unreadable, not PEM, key and
// certificate do not match) is reported once through the warning hook and the previous
// context stays in use; the next change of either file is tried again.
#pragma once

#include <sys/types.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace berth::http {

// Builds a server context from PEM files: `certificate` holds the leaf certificate followed by
// any intermediates, `key` its unencrypted private key. Blocking file I/O. Errors are sentences
// naming the file at fault.
[[nodiscard]] std::expected<std::shared_ptr<boost::asio::ssl::context>, std::string>
make_server_tls_context(const std::filesystem::path& certificate, const std::filesystem::path& key);

// What identifies one version of a file without reading it.
struct FileStamp {
  // 0 when the file could be examined; otherwise the errno that stat(2) or open(2) gave.
  int error = 0;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;

  bool operator==(const FileStamp&) const = default;
};

// The context new TLS connections use. Thread-safe: current() may be called from any thread
// while reload_if_changed() runs on another.
class TlsContextSource {
 public:
  using Warn = std::function<void(std::string)>;

  // Loads the first context; fails with a sentence naming the file at fault. `warn` (may be
  // empty) receives reload failures, from the thread that calls reload_if_changed().
  [[nodiscard]] static std::expected<std::shared_ptr<TlsContextSource>, std::string> load(
      std::filesystem::path certificate, std::filesystem::path key, Warn warn);

  std::shared_ptr<boost::asio::ssl::context> current() const;
  // Checks both files and swaps in a new context if either changed and the pair loads.
  // Blocking file I/O: call it from the blocking pool. Returns true when a new context was
  // installed.
  bool reload_if_changed();

 private:
  TlsContextSource(std::filesystem::path certificate, std::filesystem::path key, Warn warn)
      : certificate_(std::move(certificate)), key_(std::move(key)), warn_(std::move(warn)) {}

  const std::filesystem::path certificate_;
  const std::filesystem::path key_;
  const Warn warn_;

  // Serialises reloads; guards the stamps.
  std::mutex reload_mutex_;
  FileStamp certificate_stamp_;
  FileStamp key_stamp_;

  // Guards current_ (held only to copy or swap the pointer).
  mutable std::mutex current_mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;
};

}  // namespace berth::http
