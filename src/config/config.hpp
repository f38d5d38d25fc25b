// The configuration schema: every key, its type, its default and what it means.
// Sources, later ones winning: built-in defaults, the YAML file, BERTH_* environment
// variables, command-line flags (applied by cli/). A key "http.read_timeout" is written
//   http:
//     read_timeout: 30s
// in YAML and BERTH_HTTP_READ_TIMEOUT=30s in the environment.
//
// Value syntax, the same in every source:
//   bool       true/false, yes/no, 1/0 (any case)
//   count      a whole number: 8
//   byte size  plain bytes or binary units B, KiB, MiB, GiB, TiB: 65536, 64KiB, "4 MiB".
//              Decimal units (KB, MB, GB) are refused: whether "4MB" meant 4000000 or
//              4194304 bytes is a guess we will not make for a limit.
//   duration   whole numbers with units d, h, m, s, ms, largest first: 30s, 5m, 1h30m,
//              1s500ms; "0" alone is zero.
//   path, text anything; an empty path means the default shown by `berth config keys`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace berth::config {

using core::Result;
using Duration = std::chrono::milliseconds;

struct LogConfig {
  // "text" or "json".
  std::string format = "text";
  // "trace", "debug", "info", "warn", "error".
  std::string level = "info";
  // One line per request.
  bool access = true;

  bool operator==(const LogConfig&) const = default;
};

struct HttpConfig {
  // 0: one I/O thread per core.
  std::size_t io_threads = 0;
  // 0: 4 per core, at least 8.
  std::size_t blocking_threads = 0;
  // Threads of the lookup pool (quick metadata reads); 0: one per core, at least 2.
  std::size_t lookup_threads = 0;
  std::size_t max_header_bytes = 64 * 1024;
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  Duration read_timeout = std::chrono::seconds(60);
  Duration write_timeout = std::chrono::seconds(60);
  Duration idle_timeout = std::chrono::seconds(120);
  Duration drain_timeout = std::chrono::seconds(30);
  // Threads of the maintenance pool (garbage collection, retention, purges), apart from
  // blocking_threads so that maintenance never takes a request's thread.
  std::size_t maintenance_threads = 2;
  // A request body must average this many bytes per second after its first read_timeout, or
  // it is cut off; 0 turns the body's total deadline off.
  std::uint64_t body_min_rate = 1024;
  // Connections open at once; those beyond are refused.
  std::size_t max_connections = 4096;
  // Comma-separated addresses and CIDRs of reverse proxies whose X-Request-Id is kept.
  std::string trusted_proxies;

  bool operator==(const HttpConfig&) const = default;
};

struct UploadsConfig {
  // Uploads untouched for this long are deleted.
  Duration max_age = std::chrono::hours(24);
  // How often to look for them.
  Duration purge_interval = std::chrono::hours(1);
  // Largest blob accepted; 0: no limit.
  std::uint64_t max_size = 0;

  bool operator==(const UploadsConfig&) const = default;
};

struct StatsConfig {
  // How often pull statistics gathered in memory are written to the database.
  Duration flush_interval = std::chrono::seconds(10);

  bool operator==(const StatsConfig&) const = default;
};

struct RetentionConfig {
  // How often to look for projects whose retention policy is due.
  Duration interval = std::chrono::minutes(10);

  bool operator==(const RetentionConfig&) const = default;
};

struct GcConfig {
  // How often the server collects garbage; 0 turns the schedule off (berth gc and the admin
  // API still run it on demand).
  Duration interval = std::chrono::hours(1);
  // Unreferenced blobs and unknown files younger than this are kept: a push uploads its blobs
  // before the manifest that names them.
  Duration blob_grace = std::chrono::hours(24);
  // Untagged manifests pushed longer ago than this are removed; 0 keeps them (the default,
  // see lifecycle/garbage_collector.hpp for why).
  Duration untagged_after = Duration::zero();
  // How often a scheduled collection also sweeps the storage for files the metadata does not
  // know (a listing of every blob: the one part whose time grows with the bucket).
  Duration sweep_interval = std::chrono::hours(24 * 7);

  bool operator==(const GcConfig&) const = default;
};

// events.*: how webhook deliveries are made (events/delivery_worker.hpp).
struct EventsConfig {
  // Attempts of one delivery before it is dead (listed, redelivered on request).
  std::size_t max_attempts = 12;
  // Backoff between attempts: a random wait up to base * 2^(attempt-1), at most cap.
  Duration backoff_base = std::chrono::seconds(2);
  Duration backoff_cap = std::chrono::minutes(30);
  // Longest wait for a receiver to connect or answer, unless the endpoint sets its own.
  Duration timeout = std::chrono::seconds(10);
  // Deliveries in flight to one endpoint at once.
  std::size_t concurrency = 4;
  // Delivered and dead deliveries (and their events) are deleted this long after.
  Duration retention = std::chrono::hours(24 * 7);
  // How often the worker looks for new events and due retries.
  Duration poll_interval = std::chrono::milliseconds(500);

  bool operator==(const EventsConfig&) const = default;
};

// One entry of the `webhooks:` list: a global endpoint that gets the events of every project.
struct WebhookConfig {
  std::string url;
  // The HMAC-SHA256 key of the Berth-Signature-256 header.
  std::string secret;
  // Event types (push, pull, delete, mount, quota_exceeded, retention_finished, gc_finished);
  // empty: all.
  std::vector<std::string> events;
  // "cloudevents" or "distribution".
  std::string format = "cloudevents";
  // 0: events.timeout.
  Duration timeout = Duration::zero();

  bool operator==(const WebhookConfig&) const = default;
};

// storage.s3.*: an S3-compatible bucket (storage/s3_blob_store.hpp). Empty values fall back
// to the AWS environment where one exists (server/blob_store_setup.hpp).
struct S3Config {
  // "http(s)://host[:port]"; empty: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS itself.
  std::string endpoint;
  // Empty: AWS_REGION or AWS_DEFAULT_REGION, else us-east-1.
  std::string region;
  std::string bucket;
  // Prepended to every key.
  std::string prefix;
  // Both empty: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
  std::string access_key;
  std::string secret_key;
  // Bucket in the path rather than the host name (most S3-compatible servers want it).
  bool path_style = false;
  // CAs for the endpoint; empty: AWS_CA_BUNDLE, else the system's.
  std::filesystem::path ca_file;
  // Blob GETs answered with a 307 to a presigned S3 URL.
  bool redirect = false;

  bool operator==(const S3Config&) const = default;
};

struct StorageConfig {
  // "filesystem" or "s3".
  std::string driver = "filesystem";
  // Empty: the data directory.
  std::filesystem::path root;
  // New uploads are refused while the blob storage has less free space than this; 0: never.
  std::uint64_t min_free = 100 * 1024 * 1024;
  S3Config s3;

  bool operator==(const StorageConfig&) const = default;
};

// metadata.postgres.*: a PostgreSQL database shared by every replica (meta/pg_stores.hpp).
struct PostgresConfig {
  // A libpq URL (postgresql://user:password@host:port/database?sslmode=...) or key=value
  // string. A credential: never logged, redacted by config show.
  std::string url;
  // Connections each berth process keeps at most (the pool's bound).
  std::size_t max_connections = 8;

  bool operator==(const PostgresConfig&) const = default;
};

struct MetadataConfig {
  // "sqlite" or "postgres".
  std::string driver = "sqlite";
  // Empty: <data>/berth.db.
  std::filesystem::path sqlite_path;
  PostgresConfig postgres;

  bool operator==(const MetadataConfig&) const = default;
};

struct AuthConfig {
  // "auto": on when BERTH_ADMIN_PASSWORD is set, an htpasswd file is configured, or the
  // database has users; "true"; "false" (open, like Distribution without auth).
  std::string enabled = "auto";
  // An htpasswd file of extra users (bcrypt lines only); empty: none.
  std::filesystem::path htpasswd;
  // The token endpoint advertised in challenges; empty: <scheme>://<Host>/token of the request.
  std::string realm;
  std::string service = "berth";
  std::string issuer = "berth";
  Duration token_ttl = std::chrono::minutes(5);
  Duration refresh_token_ttl = std::chrono::days(30);
  // PEM file of the token signing key; empty: <data>/auth/token-signing.pem.
  std::filesystem::path signing_key;
  // Who creates a project by pushing into it: "admins", "users" (any signed-in user, who
  // becomes its owner) or "nobody".
  std::string create_projects_on_push = "admins";
  std::size_t max_login_failures_per_address = 20;
  // Per user name from one address: guesses from one address never lock a user out elsewhere.
  std::size_t max_login_failures_per_user = 10;
  Duration login_failure_window = std::chrono::minutes(5);
  // Threads that check and hash passwords (bcrypt), apart from http.blocking_threads; 0: one
  // per CPU core, at least 2.
  std::size_t password_hash_threads = 0;
  // Password checks that may wait for one of those threads; beyond, logins get 429 at once.
  std::size_t password_hash_queue = 32;
  // How often a server reads the account version (auth/account_version.hpp): what bounds how
  // long a change made by a `berth` command or another replica takes to end what the auth
  // caches remember (this server's own changes do at once). 0 turns the caches off.
  Duration cache_sync = std::chrono::seconds(1);

  bool operator==(const AuthConfig&) const = default;
};

struct TlsConfig {
  // Certificate chain and private key (PEM). TLS is on when both are set.
  std::filesystem::path certificate;
  std::filesystem::path key;
  std::string listen = "0.0.0.0:5443";
  // How often the files are checked for changes (they are reloaded without a restart).
  Duration reload_check = std::chrono::seconds(5);

  bool operator==(const TlsConfig&) const = default;
};

// A proxy project: a project whose repositories are a pull-through cache of another
// registry (proxy/). YAML only, as a list under `proxies:`:
//   proxies:
//     - project: hub
//       upstream: https://registry-1.docker.io
//       username: ...          # optional; password too (never in the URL)
//       token_realms: [https://auth.example.com/token]   # optional; see below
//       ca_file: /etc/ssl/upstream-ca.pem   # optional; empty: the system's CAs
//       concurrency: 16
//       manifest_ttl: 5m
//       max_staleness: 7d
//       mirror: no             # serve docker's registry-mirrors / containerd's ?ns=
//       overlay: no            # yes: a hosted project, the upstream behind it
struct ProxyConfig {
  std::string project;
  // "https://host[:port]" or "http://host[:port]", without credentials (user:password@).
  std::string upstream;
  std::string username;
  std::string password;
  // Token endpoints (Bearer challenge realms) on other hosts that may receive the credentials,
  // as URLs: a realm matches when its scheme, host and port do (and its path, if the entry
  // has one). The upstream's own host always may (not over http when the upstream is https),
  // and a Docker Hub upstream's auth.docker.io.
  std::vector<std::string> token_realms;
  std::filesystem::path ca_file;
  // Upstream requests in flight at once, for this proxy.
  std::size_t concurrency = 16;
  // How long a cached tag is served without asking the upstream whether it moved.
  Duration manifest_ttl = std::chrono::minutes(5);
  // How long after its last check a cached tag may still be served when the upstream is down
  // or failing (5xx, 429); 0: never serve stale.
  Duration max_staleness = std::chrono::days(7);
  // A mirror of the upstream for docker's `registry-mirrors` and containerd's hosts.toml
  // (`?ns=docker.io`): pulls of repositories that are in no project here are served by this
  // proxy, under its project.
  bool mirror = false;
  // A hosted project with the upstream behind it: pushes land here, pulls look here first and
  // fall back to the upstream. Otherwise nothing may be pushed into the project.
  bool overlay = false;

  bool operator==(const ProxyConfig&) const = default;
};

// The web UI and its sign-in sessions.
struct UiConfig {
  bool enabled = true;
  // Where the UI is served: "/" or "/<path>"; the registry's and API's paths stay theirs.
  std::string path = "/";
  // A session ends after this long without a request, and this long after sign-in at most.
  Duration session_idle = std::chrono::minutes(30);
  Duration session_lifetime = std::chrono::hours(12);

  bool operator==(const UiConfig&) const = default;
};

// The Prometheus scrape's own listener.
struct MetricsConfig {
  // "host:port" serving GET /metrics without authentication; empty: none (then /metrics is
  // served on the main listener to administrators only).
  std::string listen;

  bool operator==(const MetricsConfig&) const = default;
};

// The audit log (audit/audit_log.hpp).
struct AuditConfig {
  // Entries older than this are pruned; 0 keeps them forever.
  Duration retention = std::chrono::days(90);
  // Each entry also appended to this file as a JSON line; empty: none.
  std::filesystem::path file;
  // Each entry also written to the server log as a JSON line.
  bool log = false;

  bool operator==(const AuditConfig&) const = default;
};

struct Config {
  // "host:port" of the plain-HTTP listener; empty turns it off (when TLS is on).
  std::string listen = "0.0.0.0:5000";
  std::filesystem::path data = "./data";
  LogConfig log;
  HttpConfig http;
  UploadsConfig uploads;
  StatsConfig stats;
  RetentionConfig retention;
  GcConfig gc;
  StorageConfig storage;
  MetadataConfig metadata;
  AuthConfig auth;
  TlsConfig tls;
  UiConfig ui;
  MetricsConfig metrics;
  AuditConfig audit;
  std::vector<ProxyConfig> proxies;
  EventsConfig events;
  std::vector<WebhookConfig> webhooks;

  bool operator==(const Config&) const = default;

  bool tls_enabled() const { return !tls.certificate.empty() && !tls.key.empty(); }
  std::filesystem::path signing_key_path() const {
    return auth.signing_key.empty() ? data / "auth" / "token-signing.pem" : auth.signing_key;
  }

  // The proxy configuration of a project; null for a hosted project.
  const ProxyConfig* proxy_of(std::string_view project) const {
    for (const auto& proxy : proxies) {
      if (proxy.project == project) {
        return &proxy;
      }
    }
    return nullptr;
  }
  // "hosted", "proxy" (a pull-through cache) or "overlay" (hosted, the upstream behind it).
  std::string_view project_kind(std::string_view project) const {
    const ProxyConfig* proxy = proxy_of(project);
    return proxy == nullptr ? "hosted" : proxy->overlay ? "overlay" : "proxy";
  }

  // Paths with the data-directory defaults filled in.
  std::filesystem::path storage_root() const { return storage.root.empty() ? data : storage.root; }
  std::filesystem::path sqlite_path() const {
    return metadata.sqlite_path.empty() ? data / "berth.db" : metadata.sqlite_path;
  }
};

// Every config error carries this code. Config errors are for the human starting the
// server and never reach a registry client, so no OCI code fits; this one is named here so
// that callers need not guess and it can change in one place.
inline constexpr core::ErrorCode kConfigInvalid = core::ErrorCode::kUnsupported;

// One documented key, for `berth config keys` and the README.
struct KeyInfo {
  std::string name;  // "http.read_timeout"
  std::string env;   // "BERTH_HTTP_READ_TIMEOUT"
  std::string default_value;
  std::string description;
};
[[nodiscard]] std::vector<KeyInfo> describe_keys();

// Reads environment variables; a function so tests need not touch the real environment.
using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
[[nodiscard]] Getenv process_environment();

// Defaults, then the YAML file (if given), then the environment (an empty Getenv means
// none). Unknown keys, wrong types and out-of-range values are errors with code
// kConfigInvalid and a message naming the source, e.g.
//   "berth.yaml:3: key 'http.read_timeout': expected a duration like 30s or 1h30m
//    (units d, h, m, s, ms, largest first), got 'x'"
//   "environment variable BERTH_HTTP_READ_TIMEOUT: expected a duration ..., got 'x'".
// A missing or unreadable file is an error; an empty one is an empty config. Variables
// starting with BERTH_ that name no key are ignored: they may belong to other tools.
// load_config does not call validate(): flags are applied after it, so the caller
// validates once every source is in.
[[nodiscard]] Result<Config> load_config(const std::optional<std::filesystem::path>& file,
                                         const Getenv& getenv);

// Sets one key from its text form, as the environment would ("30s", "4MiB", "true"). On
// error the config is left unchanged and the message names the key.
[[nodiscard]] Result<void> set_key(Config& config, const std::string& name,
                                   const std::string& value);

// A byte size in the syntax above ("10GiB", "65536"), for command-line flags that take one
// (quotas). The message is "expected ..., got '...'".
[[nodiscard]] Result<std::uint64_t> parse_byte_size(std::string_view text);
// A duration in the syntax above ("1h30m", "0"), likewise.
[[nodiscard]] Result<Duration> parse_duration(std::string_view text);

// Checks every key's rule (known drivers and formats, listen address syntax, limits in
// range, positive durations) for a Config from any source, including one built in code.
// The message lists every problem found, separated by "; ".
[[nodiscard]] Result<void> validate(const Config& config);

// What render_yaml prints for a credential that is set (storage.s3.access_key, secret_key).
inline constexpr std::string_view kRedacted = "\"<redacted>\"";

// The configuration as YAML with every key, each under a comment saying what it is for, for
// `berth config show`. load_config of this text gives back an equal Config, except for
// secrets, which it never prints: a credential key that is set (storage.s3.secret_key, ...)
// prints as kRedacted, a proxy's password is a comment, and credentials in any URL are "***".
[[nodiscard]] std::string render_yaml(const Config& config);

}  // namespace berth::config
