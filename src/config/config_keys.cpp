#include "config/config_keys.hpp"

#include <algorithm>

#include "core/url_credentials.hpp"
#include "util/ip_networks.hpp"

namespace berth::config::detail {
namespace {

void add_postgres_keys(std::vector<Key>& keys) {
  keys.push_back(secret(make_key(
      "metadata.postgres.url", text_codec(),
      [](auto& c) -> auto& { return c.metadata.postgres.url; },
      "PostgreSQL database for metadata.driver postgres, as a libpq URL "
      "(postgresql://user:password@host:5432/berth) or key=value string. Never logged; config "
      "show prints it redacted.")));
  keys.push_back(make_key(
      "metadata.postgres.max_connections", count_codec(),
      [](auto& c) -> auto& { return c.metadata.postgres.max_connections; },
      "Connections to PostgreSQL each berth process keeps at most; requests beyond wait for one.",
      between<std::size_t>(1, 1000, "expected 1 to 1000 connections")));
}

// ui.path: "/" or "/a/b" of unreserved characters, not a path of the registry or the API
// (the UI serves what those do not take, so such a mount would serve nothing).
std::optional<Problem> ui_path_problem(const std::string& path) {
  if (!path.starts_with('/')) {
    return "expected a path starting with /";
  }
  if (path.find("//") != std::string::npos) {
    return "expected no empty path segment";
  }
  const auto bad =
      path.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/");
  if (bad != std::string::npos) {
    return "expected letters, digits, '-', '.', '_', '~' and '/' only";
  }
  for (std::string_view segment : {"/.", "/.."}) {
    if (path.ends_with(segment) || path.find(std::string(segment) + "/") != std::string::npos) {
      return "expected no '.' or '..' segment";
    }
  }
  const auto first = path.substr(1, path.find('/', 1) - 1);
  for (std::string_view reserved : {"v2", "api", "token", "healthz", "readyz", "metrics"}) {
    if (first == reserved) {
      return "expected a path apart from the registry's and the API's (/" + std::string(reserved) +
             ")";
    }
  }
  return std::nullopt;
}

void add_ui_keys(std::vector<Key>& keys) {
  keys.push_back(make_key(
      "ui.enabled", bool_codec(), [](auto& c) -> auto& { return c.ui.enabled; },
      "Serve the web UI (built into the binary) at ui.path; false leaves /api/v1 and the "
      "registry as they are."));
  keys.push_back(make_key(
      "ui.path", text_codec(), [](auto& c) -> auto& { return c.ui.path; },
      "Where the web UI is served, like / or /ui; every path below it that is not the "
      "registry's or the API's (/v2/, /api/, /token) is a page of the UI.",
      std::function<std::optional<Problem>(const std::string&)>(ui_path_problem)));
  keys.push_back(make_key(
      "ui.session_idle", duration_codec(), [](auto& c) -> auto& { return c.ui.session_idle; },
      "A web UI session ends after this long without a request.",
      between<Duration>(std::chrono::minutes(1), std::chrono::days(30),
                        "expected a duration from 1m to 30d")));
  keys.push_back(make_key(
      "ui.session_lifetime", duration_codec(),
      [](auto& c) -> auto& { return c.ui.session_lifetime; },
      "A web UI session ends this long after its sign-in, however active.",
      between<Duration>(std::chrono::minutes(1), std::chrono::days(365),
                        "expected a duration from 1m to 365d")));
}

void add_audit_keys(std::vector<Key>& keys) {
  keys.push_back(make_key(
      "audit.retention", duration_codec(), [](auto& c) -> auto& { return c.audit.retention; },
      "Audit log entries older than this are deleted (checked hourly); 0 keeps them forever.",
      non_negative_duration()));
  keys.push_back(make_key(
      "audit.file", path_codec(), [](auto& c) -> auto& { return c.audit.file; },
      "Also append each audit log entry to this file as a JSON line; empty: none."));
  keys.push_back(make_key(
      "audit.log", bool_codec(), [](auto& c) -> auto& { return c.audit.log; },
      "Also write each audit log entry to the server log as a JSON line."));
}

void add_s3_keys(std::vector<Key>& keys) {
  keys.push_back(make_key(
      "storage.s3.endpoint", text_codec(), [](auto& c) -> auto& { return c.storage.s3.endpoint; },
      "S3 endpoint URL, http(s)://host[:port]; empty means AWS_ENDPOINT_URL_S3 or "
      "AWS_ENDPOINT_URL, else AWS itself (from the region)."));
  keys.push_back(make_key(
      "storage.s3.region", text_codec(), [](auto& c) -> auto& { return c.storage.s3.region; },
      "Region requests are signed for; empty means AWS_REGION or AWS_DEFAULT_REGION, else "
      "us-east-1."));
  keys.push_back(make_key(
      "storage.s3.bucket", text_codec(), [](auto& c) -> auto& { return c.storage.s3.bucket; },
      "Bucket for blobs, created at start when missing (and the credentials allow it)."));
  keys.push_back(make_key(
      "storage.s3.prefix", text_codec(), [](auto& c) -> auto& { return c.storage.s3.prefix; },
      "Prefix of every key Berth writes in the bucket, like registry/; empty for none."));
  keys.push_back(secret(make_key(
      "storage.s3.access_key", text_codec(),
      [](auto& c) -> auto& { return c.storage.s3.access_key; },
      "S3 access key id; empty (with the secret) means AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
      "and AWS_SESSION_TOKEN.")));
  keys.push_back(secret(make_key(
      "storage.s3.secret_key", text_codec(),
      [](auto& c) -> auto& { return c.storage.s3.secret_key; },
      "S3 secret access key. Never logged; config show prints it redacted.")));
  keys.push_back(make_key(
      "storage.s3.path_style", bool_codec(),
      [](auto& c) -> auto& { return c.storage.s3.path_style; },
      "Address the bucket in the path (http://host/bucket/key), as most S3-compatible servers "
      "(Ceph radosgw, MinIO) want, rather than in the host name."));
  keys.push_back(make_key(
      "storage.s3.ca_file", path_codec(), [](auto& c) -> auto& { return c.storage.s3.ca_file; },
      "PEM file of the CAs to trust for the endpoint; empty means AWS_CA_BUNDLE, else the "
      "system's."));
  keys.push_back(make_key(
      "storage.s3.redirect", bool_codec(), [](auto& c) -> auto& { return c.storage.s3.redirect; },
      "Answer blob GETs with a 307 redirect to a presigned S3 URL (for a CDN or to spare Berth "
      "the bytes) rather than streaming them."));
}

// THE table. Keys sharing a section must be adjacent (render_yaml prints them as one map),
// and each description is one sentence or two for `berth config keys`.
std::vector<Key> build_keys() {
  std::vector<Key> keys;
  keys.push_back(make_key(
      "listen", optional_listen_codec(), [](auto& c) -> auto& { return c.listen; },
      "Address of the plain-HTTP listener, host:port. An empty host means every interface; IPv6 "
      "hosts go in brackets, like [::]:5000. Port 0 takes any free port. Empty turns plain HTTP "
      "off (with TLS on)."));
  keys.push_back(make_key(
      "data", path_codec(), [](auto& c) -> auto& { return c.data; },
      "Data directory. Blobs and the SQLite database live under it unless storage.root or "
      "metadata.sqlite_path say otherwise.",
      non_empty_path()));

  keys.push_back(make_key(
      "log.format", enum_codec(log_formats()), [](auto& c) -> auto& { return c.log.format; },
      "Log line format: text for people, json for log collectors."));
  keys.push_back(make_key(
      "log.level", enum_codec(log_levels()), [](auto& c) -> auto& { return c.log.level; },
      "Least severe level logged: trace, debug, info, warn or error."));
  keys.push_back(make_key(
      "log.access", bool_codec(), [](auto& c) -> auto& { return c.log.access; },
      "Log one line per HTTP request."));

  keys.push_back(make_key(
      "http.io_threads", count_codec(), [](auto& c) -> auto& { return c.http.io_threads; },
      "Threads running network I/O; 0 means one per CPU core.",
      between<std::size_t>(0, 1024, "expected at most 1024 threads")));
  keys.push_back(make_key(
      "http.blocking_threads", count_codec(),
      [](auto& c) -> auto& { return c.http.blocking_threads; },
      "Threads for filesystem and SQLite work, which must not block network I/O; 0 means 4 per "
      "CPU core, at least 8. Passwords are checked apart (auth.password_hash_threads).",
      between<std::size_t>(0, 4096, "expected at most 4096 threads")));
  keys.push_back(make_key(
      "http.max_header_bytes", byte_size_codec<std::size_t>(),
      [](auto& c) -> auto& { return c.http.max_header_bytes; },
      "Largest request line and headers accepted; bigger requests get 431.",
      between<std::size_t>(4 * kKiB, kMiB, "expected a byte size from 4KiB to 1MiB")));
  keys.push_back(make_key(
      "http.max_manifest_bytes", byte_size_codec<std::uint64_t>(),
      [](auto& c) -> auto& { return c.http.max_manifest_bytes; },
      "Largest manifest accepted on push. Manifests are held in memory whole, so this bounds "
      "memory per request.",
      between<std::uint64_t>(kKiB, 64 * kMiB, "expected a byte size from 1KiB to 64MiB")));
  keys.push_back(make_key(
      "http.read_timeout", duration_codec(), [](auto& c) -> auto& { return c.http.read_timeout; },
      "Longest wait for the next bytes of a request before the connection is closed.",
      positive_duration()));
  keys.push_back(make_key(
      "http.write_timeout", duration_codec(), [](auto& c) -> auto& { return c.http.write_timeout; },
      "Longest wait for a client to take the next bytes of a response before the connection is "
      "closed.",
      positive_duration()));
  keys.push_back(make_key(
      "http.idle_timeout", duration_codec(), [](auto& c) -> auto& { return c.http.idle_timeout; },
      "How long a keep-alive connection may wait for its next request.", positive_duration()));
  keys.push_back(make_key(
      "http.drain_timeout", duration_codec(), [](auto& c) -> auto& { return c.http.drain_timeout; },
      "On shutdown, how long requests in flight, and maintenance (garbage collection, "
      "retention) in progress, get to finish before they are cancelled.",
      positive_duration()));
  keys.push_back(make_key(
      "http.lookup_threads", count_codec(), [](auto& c) -> auto& { return c.http.lookup_threads; },
      "Threads for the quick metadata reads of manifest HEAD and GET (bytes in memory), tag "
      "lists and the catalog, "
      "apart from http.blocking_threads, whose threads also wait on disk writes and fsyncs; few "
      "threads that stay busy answer these faster than many that sleep between them. 0 means one "
      "per CPU core, at least 2.",
      between<std::size_t>(0, 1024, "expected at most 1024 threads")));
  keys.push_back(make_key(
      "http.maintenance_threads", count_codec(),
      [](auto& c) -> auto& { return c.http.maintenance_threads; },
      "Threads for garbage collection, retention and purges, apart from http.blocking_threads so "
      "that a long collection never delays requests.",
      between<std::size_t>(1, 64, "expected 1 to 64 threads")));
  keys.push_back(make_key(
      "http.body_min_rate", byte_size_codec<std::uint64_t>(),
      [](auto& c) -> auto& { return c.http.body_min_rate; },
      "Bytes per second a request body must average: its deadline is http.read_timeout from its "
      "first byte plus a second for every this many bytes received, so a client trickling a "
      "body is cut off while a large upload that keeps moving never is. 0 turns it off.",
      between<std::uint64_t>(0, 1024 * kMiB, "expected a byte size up to 1GiB")));
  keys.push_back(make_key(
      "http.max_connections", count_codec(),
      [](auto& c) -> auto& { return c.http.max_connections; },
      "Connections open at once, idle keep-alive ones included. Beyond it new connections get "
      "503 with Retry-After (plain HTTP) or are closed (TLS), and a warning is logged at most "
      "once a minute.",
      between<std::size_t>(1, 1'000'000, "expected 1 to 1000000")));
  keys.push_back(make_key(
      "http.trusted_proxies", text_codec(), [](auto& c) -> auto& { return c.http.trusted_proxies; },
      "Comma-separated addresses and CIDRs (10.0.0.1, 10.0.0.0/8, ::1) of reverse proxies whose "
      "X-Request-Id header a request keeps as its id and whose X-Forwarded-For names the client "
      "(for login limits, the audit log and events); from other peers both are ignored.",
      std::function<std::optional<Problem>(const std::string&)>(
          [](const std::string& value) -> std::optional<Problem> {
            auto parsed = util::IpNetworks::parse(value);
            return parsed ? std::nullopt
                          : std::optional<Problem>(
                                "expected comma-separated IP addresses and CIDRs (" +
                                parsed.error() + ")");
          })));

  keys.push_back(make_key(
      "uploads.max_age", duration_codec(), [](auto& c) -> auto& { return c.uploads.max_age; },
      "Upload sessions untouched for this long are deleted with their partial data.",
      positive_duration()));
  keys.push_back(make_key(
      "uploads.purge_interval", duration_codec(),
      [](auto& c) -> auto& { return c.uploads.purge_interval; },
      "How often to look for abandoned upload sessions.", positive_duration()));
  keys.push_back(make_key(
      "uploads.max_size", byte_size_codec<std::uint64_t>(),
      [](auto& c) -> auto& { return c.uploads.max_size; },
      "Largest blob accepted; a push announcing more is refused (413) before its bytes are "
      "read, one sending more is cut off there. 0 means no limit."));

  keys.push_back(make_key(
      "stats.flush_interval", duration_codec(),
      [](auto& c) -> auto& { return c.stats.flush_interval; },
      "How often pull statistics (last pull, pull count), gathered in memory so that pulls never "
      "wait on a write, are written to the database.",
      positive_duration()));
  keys.push_back(make_key(
      "retention.interval", duration_codec(), [](auto& c) -> auto& { return c.retention.interval; },
      "How often to look for projects whose retention policy is due to run (each policy has its "
      "own schedule).",
      positive_duration()));

  keys.push_back(make_key(
      "events.max_attempts", count_codec(), [](auto& c) -> auto& { return c.events.max_attempts; },
      "Attempts of one webhook delivery before it is dead: listed by GET "
      "/api/v1/webhooks/deliveries?state=dead and berth webhook deliveries --dead, sent again by "
      "redeliver.",
      between<std::size_t>(1, 1000, "expected 1 to 1000")));
  keys.push_back(make_key(
      "events.backoff_base", duration_codec(),
      [](auto& c) -> auto& { return c.events.backoff_base; },
      "Backoff of webhook retries: before attempt n+1 a random wait up to backoff_base * 2^(n-1) "
      "(full jitter), at most events.backoff_cap.",
      positive_duration()));
  keys.push_back(make_key(
      "events.backoff_cap", duration_codec(), [](auto& c) -> auto& { return c.events.backoff_cap; },
      "The longest wait between two attempts of a webhook delivery.", positive_duration()));
  keys.push_back(make_key(
      "events.timeout", duration_codec(), [](auto& c) -> auto& { return c.events.timeout; },
      "Longest wait for a webhook receiver to connect or answer, unless the endpoint sets its "
      "own timeout.",
      positive_duration()));
  keys.push_back(make_key(
      "events.concurrency", count_codec(), [](auto& c) -> auto& { return c.events.concurrency; },
      "Webhook deliveries in flight to one endpoint at once.",
      between<std::size_t>(1, 64, "expected 1 to 64")));
  keys.push_back(make_key(
      "events.retention", duration_codec(), [](auto& c) -> auto& { return c.events.retention; },
      "Delivered and dead webhook deliveries, and their events, are deleted this long after.",
      positive_duration()));
  keys.push_back(make_key(
      "events.poll_interval", duration_codec(),
      [](auto& c) -> auto& { return c.events.poll_interval; },
      "How often the webhook worker looks for new events and due retries.", positive_duration()));

  keys.push_back(make_key(
      "gc.interval", duration_codec(), [](auto& c) -> auto& { return c.gc.interval; },
      "How often the server collects garbage: blobs nothing references, and untagged manifests "
      "when gc.untagged_after is set. 0 turns the schedule off; berth gc and POST /api/v1/gc "
      "still work.",
      non_negative_duration()));
  keys.push_back(make_key(
      "gc.blob_grace", duration_codec(), [](auto& c) -> auto& { return c.gc.blob_grace; },
      "How long blobs nothing references are kept after their upload (a push uploads its blobs "
      "before the manifest naming them), and how old a file the metadata does not know must be "
      "before it is swept.",
      non_negative_duration()));
  keys.push_back(make_key(
      "gc.untagged_after", duration_codec(), [](auto& c) -> auto& { return c.gc.untagged_after; },
      "Untagged manifests pushed longer ago than this are removed, with what only they hold. 0 "
      "keeps them: images pulled by digest have no tag.",
      non_negative_duration()));
  keys.push_back(make_key(
      "gc.sweep_interval", duration_codec(), [](auto& c) -> auto& { return c.gc.sweep_interval; },
      "How often a scheduled collection also lists the whole storage for files the metadata does "
      "not know (left by a process killed between writing a blob and recording it). The other "
      "collections work from the metadata alone, so their time does not grow with the bucket. "
      "berth gc and POST /api/v1/gc always sweep.",
      positive_duration()));

  keys.push_back(make_key(
      "storage.driver", enum_codec({"filesystem", "s3"}),
      [](auto& c) -> auto& { return c.storage.driver; },
      "Where blobs are kept: filesystem, or s3 (an S3-compatible bucket, storage.s3.*)."));
  keys.push_back(make_key(
      "storage.root", path_codec(), [](auto& c) -> auto& { return c.storage.root; },
      "Directory for blobs with the filesystem driver; empty means the data directory."));
  keys.push_back(make_key(
      "storage.min_free", byte_size_codec<std::uint64_t>(),
      [](auto& c) -> auto& { return c.storage.min_free; },
      "New uploads are refused (503) while the blob storage has less free space than this, so "
      "that a full disk never stops deletes and garbage collection. 0 turns the check off."));
  add_s3_keys(keys);

  keys.push_back(make_key(
      "metadata.driver", enum_codec({"sqlite", "postgres"}),
      [](auto& c) -> auto& { return c.metadata.driver; },
      "Where repositories, tags, accounts and settings are kept: sqlite (one process, a file "
      "in the data directory) or postgres (shared by several berth serve replicas)."));
  keys.push_back(make_key(
      "metadata.sqlite_path", path_codec(), [](auto& c) -> auto& { return c.metadata.sqlite_path; },
      "SQLite database file; empty means berth.db in the data directory."));
  add_postgres_keys(keys);

  keys.push_back(make_key(
      "auth.enabled", enum_codec({"auto", "true", "false"}),
      [](auto& c) -> auto& { return c.auth.enabled; },
      "Access control: true, false (open to everyone), or auto: on when BERTH_ADMIN_PASSWORD is "
      "set, auth.htpasswd names a file, or the database has users."));
  keys.push_back(make_key(
      "auth.htpasswd", path_codec(), [](auto& c) -> auto& { return c.auth.htpasswd; },
      "An htpasswd file of extra users (bcrypt lines only), re-read when it changes; empty for "
      "none."));
  keys.push_back(make_key(
      "auth.realm", text_codec(), [](auto& c) -> auto& { return c.auth.realm; },
      "URL of the token endpoint that clients are sent to; empty means /token on the host and "
      "scheme the client used."));
  keys.push_back(make_key(
      "auth.service", text_codec(), [](auto& c) -> auto& { return c.auth.service; },
      "Service name of the token protocol, and the audience of issued tokens.", non_empty()));
  keys.push_back(make_key(
      "auth.issuer", text_codec(), [](auto& c) -> auto& { return c.auth.issuer; },
      "Issuer written into and required of tokens.", non_empty()));
  keys.push_back(make_key(
      "auth.token_ttl", duration_codec(), [](auto& c) -> auto& { return c.auth.token_ttl; },
      "Lifetime of access tokens.",
      between<Duration>(std::chrono::seconds(10), std::chrono::hours(24),
                        "expected a duration from 10s to 24h")));
  keys.push_back(make_key(
      "auth.refresh_token_ttl", duration_codec(),
      [](auto& c) -> auto& { return c.auth.refresh_token_ttl; },
      "Lifetime of refresh tokens (docker login's offline tokens).", positive_duration()));
  keys.push_back(make_key(
      "auth.signing_key", path_codec(), [](auto& c) -> auto& { return c.auth.signing_key; },
      "PEM file of the token signing key, created on first start; empty means "
      "auth/token-signing.pem in the data directory."));
  keys.push_back(make_key(
      "auth.create_projects_on_push", enum_codec({"admins", "users", "nobody"}),
      [](auto& c) -> auto& { return c.auth.create_projects_on_push; },
      "Who creates a project by pushing into one that does not exist: admins, users (any "
      "signed-in user, who becomes its owner) or nobody."));
  keys.push_back(make_key(
      "auth.max_login_failures_per_address", count_codec(),
      [](auto& c) -> auto& { return c.auth.max_login_failures_per_address; },
      "Failed logins from one client address within the window before further attempts are "
      "refused.",
      between<std::size_t>(1, 1'000'000, "expected 1 to 1000000")));
  keys.push_back(make_key(
      "auth.max_login_failures_per_user", count_codec(),
      [](auto& c) -> auto& { return c.auth.max_login_failures_per_user; },
      "Failed logins for one user name from one client address within the window before further "
      "attempts at that name from that address are refused (other addresses are not).",
      between<std::size_t>(1, 1'000'000, "expected 1 to 1000000")));
  keys.push_back(make_key(
      "auth.login_failure_window", duration_codec(),
      [](auto& c) -> auto& { return c.auth.login_failure_window; },
      "How long a failed login counts against its address and user.", positive_duration()));
  keys.push_back(make_key(
      "auth.password_hash_threads", count_codec(),
      [](auto& c) -> auto& { return c.auth.password_hash_threads; },
      "Threads that check and hash passwords (bcrypt), apart from the blocking threads so that "
      "logins never delay other requests; 0 means one per CPU core, at least 2.",
      between<std::size_t>(0, 256, "expected at most 256 threads")));
  keys.push_back(make_key(
      "auth.password_hash_queue", count_codec(),
      [](auto& c) -> auto& { return c.auth.password_hash_queue; },
      "Password checks that may wait for a password thread; more at once are answered 429 with "
      "Retry-After instead of queueing.",
      between<std::size_t>(0, 100'000, "expected at most 100000")));
  keys.push_back(make_key(
      "auth.cache_sync", duration_codec(), [](auto& c) -> auto& { return c.auth.cache_sync; },
      "How often the account version is read: a change by a berth command or another replica "
      "ends what the verified-token, account and password caches remember within this (this "
      "server's own changes at once); 0 turns those caches off.",
      between<Duration>(Duration{0}, std::chrono::minutes(10),
                        "expected a duration from 0 (no caches) to 10m")));

  keys.push_back(make_key(
      "tls.certificate", path_codec(), [](auto& c) -> auto& { return c.tls.certificate; },
      "PEM certificate chain; with tls.key it turns on the TLS listener. Reloaded when it "
      "changes."));
  keys.push_back(make_key(
      "tls.key", path_codec(), [](auto& c) -> auto& { return c.tls.key; },
      "PEM private key of the certificate."));
  keys.push_back(make_key(
      "tls.listen", listen_codec(), [](auto& c) -> auto& { return c.tls.listen; },
      "Address of the TLS listener, host:port."));
  keys.push_back(make_key(
      "tls.reload_check", duration_codec(), [](auto& c) -> auto& { return c.tls.reload_check; },
      "How often the certificate and key files are checked for changes.", positive_duration()));
  add_ui_keys(keys);
  keys.push_back(make_key(
      "metrics.listen", optional_listen_codec(), [](auto& c) -> auto& { return c.metrics.listen; },
      "Address (host:port) of a listener serving GET /metrics without authentication, for a "
      "Prometheus on a private network; empty: none, /metrics is then served on the main "
      "listener to administrators."));
  add_audit_keys(keys);
  return keys;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string env_name(std::string_view name) {
  std::string out = "BERTH_";
  for (char c : name) {
    out += c == '.' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

const std::vector<std::string>& log_formats() {
  static const std::vector<std::string> kFormats = {"text", "json"};
  return kFormats;
}

const std::vector<std::string>& log_levels() {
  static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  return kLevels;
}

Key secret(Key key) {
  key.secret = true;
  return key;
}

const std::vector<Key>& keys() {
  static const std::vector<Key> kKeys = build_keys();
  return kKeys;
}

const Key* find_key(std::string_view name) {
  for (const Key& key : keys()) {
    if (key.name == name) {
      return &key;
    }
  }
  return nullptr;
}

bool is_section(std::string_view name) {
  return std::ranges::any_of(keys(), [name](const Key& key) {
    return key.name.size() > name.size() && key.name.starts_with(name) &&
           key.name[name.size()] == '.';
  });
}

std::string unknown_key(std::string_view name) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, name.size() / 3) + 1;
  auto consider = [&](std::string_view candidate) {
    const std::size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  };
  for (const Key& key : keys()) {
    consider(key.name);
    for (auto dot = key.name.find('.'); dot != std::string::npos;
         dot = key.name.find('.', dot + 1)) {
      consider(std::string_view(key.name).substr(0, dot));
    }
  }
  std::string message = "unknown key " + quote(name);
  if (!best.empty()) {
    message += " (did you mean " + quote(best) + "?)";
  }
  return message;
}

}  // namespace berth::config::detail
