// The configuration schema as one table. Each row is a key: its dotted name, what it means,
// and a typed codec that turns text into the Config field and back. Every source goes
// through the same rows: describe_keys() lists them, set_key() and the environment pass
// look them up by name, the YAML pass flattens nested maps into dotted names and looks
// them up too, render_yaml() prints them and validate() runs their rules. So a key cannot
// exist in one source and be missing from another, and its default text is printed from
// the default Config rather than written down twice.
#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "core/names.hpp"
#include "core/url_credentials.hpp"

namespace berth::config {
namespace {

using core::fail;

// What went wrong with a value, phrased "expected ..., got '...'" (the caller adds the
// source).
using Problem = std::string;
template <class T>
using Parsed = std::expected<T, Problem>;

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;

// A value quoted for an error message: control bytes escaped so the message stays one line,
// and cut short so a pasted blob does not drown the message.
std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 80;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) {
    out += "...";
  }
  out += "'";
  return out;
}

Problem expected_got(std::string_view expected, std::string_view text) {
  return "expected " + std::string(expected) + ", got " + quote(text);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// Reads the run of digits at text[i...], advancing i. nullopt if there is none or it does not
// fit in `max`.
std::optional<std::uint64_t> read_number(std::string_view text, std::size_t& i, std::uint64_t max) {
  const std::size_t start = i;
  std::uint64_t value = 0;
  bool overflow = false;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (max - digit) / 10) {
      overflow = true;
    } else {
      value = value * 10 + digit;
    }
  }
  if (i == start || overflow) {
    return std::nullopt;
  }
  return value;
}

// A codec turns the text form of one type into a value and back; `expected` says what the
// text should look like, for messages. `check`, if set, is a rule every value of this
// codec must pass (membership of an enum, syntax of an address); it runs when a key is set
// and again in validate(), so a Config built in code is held to the same rules.
template <class T>
struct Codec {
  std::string expected;
  std::function<Parsed<T>(std::string_view)> parse;
  std::function<std::string(const T&)> format;
  std::function<std::optional<Problem>(const T&)> check;
};

Codec<std::string> text_codec() {
  return {"text", [](std::string_view text) -> Parsed<std::string> { return std::string(text); },
          [](const std::string& value) { return value; }, nullptr};
}

Codec<std::filesystem::path> path_codec() {
  return {"a path",
          [](std::string_view text) -> Parsed<std::filesystem::path> {
            return std::filesystem::path(std::string(text));
          },
          [](const std::filesystem::path& value) { return value.string(); }, nullptr};
}

Codec<std::string> enum_codec(std::vector<std::string> allowed) {
  std::string expected = "one of ";
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    expected += (i == 0 ? "" : ", ") + allowed[i];
  }
  auto check = [allowed, expected](const std::string& value) -> std::optional<Problem> {
    if (std::ranges::find(allowed, value) != allowed.end()) {
      return std::nullopt;
    }
    return expected_got(expected, value);
  };
  return {expected, [](std::string_view text) -> Parsed<std::string> { return std::string(text); },
          [](const std::string& value) { return value; }, check};
}

Codec<bool> bool_codec() {
  constexpr std::string_view kExpected = "true or false (or yes/no, 1/0)";
  return {std::string(kExpected),
          [kExpected](std::string_view text) -> Parsed<bool> {
            const std::string word = lower(text);
            if (word == "true" || word == "yes" || word == "1") {
              return true;
            }
            if (word == "false" || word == "no" || word == "0") {
              return false;
            }
            return std::unexpected(expected_got(kExpected, text));
          },
          [](const bool& value) { return std::string(value ? "true" : "false"); }, nullptr};
}

Codec<std::size_t> count_codec() {
  constexpr std::string_view kExpected = "a whole number like 8";
  return {std::string(kExpected),
          [kExpected](std::string_view text) -> Parsed<std::size_t> {
            std::size_t i = 0;
            auto value = read_number(text, i, std::numeric_limits<std::size_t>::max());
            if (!value || i != text.size()) {
              return std::unexpected(expected_got(kExpected, text));
            }
            return static_cast<std::size_t>(*value);
          },
          [](const std::size_t& value) { return std::to_string(value); }, nullptr};
}

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

// Binary units only, see the header. Matched without regard to case.
constexpr Unit kByteUnits[] = {
    {"tib", kMiB* kMiB}, {"gib", kMiB* kKiB}, {"mib", kMiB}, {"kib", kKiB}, {"b", 1}, {"", 1},
};
constexpr std::string_view kDecimalByteUnits[] = {"k", "kb", "m", "mb", "g", "gb", "t", "tb"};

std::string format_byte_size(std::uint64_t value) {
  if (value == 0) {
    return "0";
  }
  for (const Unit& unit : kByteUnits) {
    if (unit.factor > 1 && value % unit.factor == 0) {
      std::string name(unit.name);
      name[0] = static_cast<char>(name[0] - 'a' + 'A');
      name[name.size() - 1] = 'B';
      return std::to_string(value / unit.factor) + name;
    }
  }
  return std::to_string(value);
}

template <class T>
Codec<T> byte_size_codec() {
  constexpr std::string_view kExpected = "a byte size like 65536, 512KiB or 4MiB";
  return {std::string(kExpected),
          [kExpected](std::string_view text) -> Parsed<T> {
            constexpr std::uint64_t kMax = std::numeric_limits<T>::max();
            std::size_t i = 0;
            auto number = read_number(text, i, kMax);
            // One space may separate number and unit ("4 MiB"); trailing spaces are refused.
            if (i + 1 < text.size() && text[i] == ' ') {
              ++i;
            }
            const std::string unit = lower(text.substr(i));
            if (std::ranges::find(kDecimalByteUnits, unit) != std::end(kDecimalByteUnits)) {
              return std::unexpected(
                  expected_got("a byte size in binary units (B, KiB, MiB, GiB, TiB); decimal "
                               "units like KB and MB are ambiguous",
                               text));
            }
            for (const Unit& known : kByteUnits) {
              if (number && known.name == unit) {
                if (*number > kMax / known.factor) {
                  return std::unexpected(
                      expected_got("a byte size of at most " + format_byte_size(kMax), text));
                }
                return static_cast<T>(*number * known.factor);
              }
            }
            return std::unexpected(expected_got(kExpected, text));
          },
          [](const T& value) { return format_byte_size(value); }, nullptr};
}

// Largest first: a duration's parts must come in this order, each at most once.
constexpr Unit kDurationUnits[] = {
    {"d", 24 * 60 * 60 * 1000}, {"h", 60 * 60 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1},
};

Codec<Duration> duration_codec() {
  constexpr std::string_view kExpected =
      "a duration like 30s or 1h30m (units d, h, m, s, ms, largest first)";
  return {std::string(kExpected),
          [kExpected](std::string_view text) -> Parsed<Duration> {
            // Far beyond any sensible setting, and far from overflowing when code adds it to a
            // clock's time point in nanoseconds.
            constexpr std::uint64_t kMaxMs = 36500ULL * 24 * 60 * 60 * 1000;
            if (text == "0") {
              return Duration::zero();
            }
            auto bad = [&] { return std::unexpected(expected_got(kExpected, text)); };
            if (text.empty()) {
              return bad();
            }
            std::uint64_t total = 0;
            std::size_t next_unit = 0;  // Index into kDurationUnits of the smallest unit left.
            std::size_t i = 0;
            while (i < text.size()) {
              auto number = read_number(text, i, kMaxMs);
              const std::size_t unit_start = i;
              while (i < text.size() && is_alpha(text[i])) {
                ++i;
              }
              const std::string_view unit = text.substr(unit_start, i - unit_start);
              const auto* found =
                  std::ranges::find(kDurationUnits, unit, [](const Unit& u) { return u.name; });
              if (!number || found == std::end(kDurationUnits)) {
                return bad();
              }
              const auto index = static_cast<std::size_t>(found - std::begin(kDurationUnits));
              if (index < next_unit) {
                return bad();
              }
              next_unit = index + 1;
              if (*number > (kMaxMs - total) / found->factor) {
                return std::unexpected(expected_got("a duration of at most 36500d", text));
              }
              total += *number * found->factor;
            }
            return Duration(static_cast<Duration::rep>(total));
          },
          [](const Duration& value) {
            if (value <= Duration::zero()) {
              return std::to_string(value.count()) + (value == Duration::zero() ? "s" : "ms");
            }
            auto left = static_cast<std::uint64_t>(value.count());
            std::string out;
            for (const Unit& unit : kDurationUnits) {
              if (left >= unit.factor) {
                out += std::to_string(left / unit.factor) + std::string(unit.name);
                left %= unit.factor;
              }
            }
            return out;
          },
          nullptr};
}

// host:port, where host may be empty (all interfaces), a name, an IPv4 address or an IPv6
// address in brackets, and port is 0 (any free port) to 65535.
std::optional<Problem> check_listen(const std::string& value) {
  constexpr std::string_view kExpected =
      "host:port with a port from 0 to 65535, like 0.0.0.0:5000, :5000 or [::]:5000";
  auto bad = [&] { return expected_got(kExpected, value); };
  std::string_view host;
  std::string_view port;
  if (value.starts_with('[')) {
    const auto close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      return bad();
    }
    host = std::string_view(value).substr(1, close - 1);
    port = std::string_view(value).substr(close + 2);
    const bool ipv6_chars = std::ranges::all_of(host, [](char c) {
      return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
             c == '.' || c == '%';
    });
    if (host.find(':') == std::string_view::npos || !ipv6_chars) {
      return bad();
    }
  } else {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos) {
      return bad();
    }
    host = std::string_view(value).substr(0, colon);
    port = std::string_view(value).substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return expected_got("an IPv6 host in brackets, like [::1]:5000", value);
    }
    const bool name_chars = std::ranges::all_of(
        host, [](char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '-'; });
    if (!name_chars) {
      return bad();
    }
  }
  std::size_t i = 0;
  if (port.size() > 5 || !read_number(port, i, 65535) || i != port.size()) {
    return bad();
  }
  return std::nullopt;
}

Codec<std::string> listen_codec() {
  Codec<std::string> codec = text_codec();
  codec.expected = "host:port";
  codec.check = check_listen;
  return codec;
}

// A listener that may be switched off with an empty value.
Codec<std::string> optional_listen_codec() {
  Codec<std::string> codec = listen_codec();
  codec.expected = "host:port, or empty for none";
  codec.check = [](const std::string& value) -> std::optional<Problem> {
    return value.empty() ? std::nullopt : check_listen(value);
  };
  return codec;
}

// A rule on one key's value beyond its type.
template <class T>
std::function<std::optional<Problem>(const T&)> between(T low, T high, std::string expected) {
  return [=](const T& value) -> std::optional<Problem> {
    if (value < low || value > high) {
      return expected;
    }
    return std::nullopt;
  };
}

std::function<std::optional<Problem>(const Duration&)> positive_duration() {
  return between<Duration>(Duration(1), std::chrono::days(3650),
                           "expected a duration from 1ms to 3650d");
}

// 0 means "off" or "at once" where a key says so.
std::function<std::optional<Problem>(const Duration&)> non_negative_duration() {
  return between<Duration>(Duration::zero(), std::chrono::days(3650),
                           "expected a duration from 0 to 3650d");
}

std::function<std::optional<Problem>(const std::string&)> non_empty() {
  return [](const std::string& value) -> std::optional<Problem> {
    if (value.empty()) {
      return "expected a value, got an empty one";
    }
    return std::nullopt;
  };
}

std::function<std::optional<Problem>(const std::filesystem::path&)> non_empty_path() {
  return [](const std::filesystem::path& value) -> std::optional<Problem> {
    if (value.empty()) {
      return "expected a path, got an empty one";
    }
    return std::nullopt;
  };
}

// One row of the table, with the field's type erased.
struct Key {
  std::string name;
  std::string env;
  std::string description;
  std::string expected;
  // Parses `text` and checks it; assigns only if both pass.
  std::function<std::optional<Problem>(Config&, std::string_view)> set;
  std::function<std::string(const Config&)> get;
  // The key's rules on its current value, for validate().
  std::function<std::optional<Problem>(const Config&)> check;
  // A credential: render_yaml prints it redacted.
  bool secret = false;
};

std::string env_name(std::string_view name) {
  std::string out = "BERTH_";
  for (char c : name) {
    out += c == '.' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

// `field` is a generic lambda giving the field's reference in a Config or a const Config.
template <class T, class Field>
Key make_key(std::string name, Codec<T> codec, Field field, std::string description,
             std::function<std::optional<Problem>(const T&)> rule = nullptr) {
  // The codec's own rule speaks of what text is acceptable, so it comes first.
  auto check = [codec, rule](const T& value) -> std::optional<Problem> {
    if (codec.check) {
      if (auto problem = codec.check(value)) {
        return problem;
      }
    }
    if (rule) {
      if (auto problem = rule(value)) {
        return *problem + ", got " + quote(codec.format(value));
      }
    }
    return std::nullopt;
  };
  Key key;
  key.env = env_name(name);
  key.name = std::move(name);
  key.description = std::move(description);
  key.expected = codec.expected;
  key.set = [codec, check, field](Config& config, std::string_view text) -> std::optional<Problem> {
    auto value = codec.parse(text);
    if (!value) {
      return value.error();
    }
    if (auto problem = check(*value)) {
      return problem;
    }
    field(config) = std::move(*value);
    return std::nullopt;
  };
  key.get = [codec, field](const Config& config) { return codec.format(field(config)); };
  key.check = [check, field](const Config& config) { return check(field(config)); };
  return key;
}

const std::vector<std::string>& log_formats() {
  static const std::vector<std::string> kFormats = {"text", "json"};
  return kFormats;
}
const std::vector<std::string>& log_levels() {
  static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  return kLevels;
}

// A key whose value is a credential: `config show` prints it redacted.
Key secret(Key key) {
  key.secret = true;
  return key;
}

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
  return keys;
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

// True if `name` is a proper prefix section of some key, like "http" for "http.read_timeout".
bool is_section(std::string_view name) {
  return std::ranges::any_of(keys(), [name](const Key& key) {
    return key.name.size() > name.size() && key.name.starts_with(name) &&
           key.name[name.size()] == '.';
  });
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

// "unknown key 'htp.read_timeout' (did you mean 'http.read_timeout'?)": typos are the usual
// cause, and the nearest name is what the human wants to see.
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

// The YAML pass. Nested maps become dotted names; each leaf is handed to its key's setter as
// the scalar's text, so YAML's own typing (is "yes" a bool? is 010 octal?) never matters.
class YamlLoader {
 public:
  YamlLoader(Config& config, std::string file) : config_(config), file_(std::move(file)) {}

  Result<void> load(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return error(e.mark, "invalid YAML: " + e.msg);
    }
    if (root.IsNull()) {
      return {};
    }
    if (!root.IsMap()) {
      return error(root.Mark(), "expected a map of keys at the top level");
    }
    return walk(root, "");
  }

 private:
  Result<void> walk(const YAML::Node& map, const std::string& prefix) {
    for (const auto& entry : map) {
      const YAML::Node& key = entry.first;
      const YAML::Node& value = entry.second;
      if (!key.IsScalar()) {
        return error(key.Mark(), "expected a key name, got a " + kind(key));
      }
      const std::string name = prefix + key.Scalar();
      if (name == "proxies") {
        if (auto result = proxies(value); !result) {
          return result;
        }
        continue;
      }
      if (const Key* known = find_key(name)) {
        if (auto result = set(*known, key, value); !result) {
          return result;
        }
      } else if (is_section(name)) {
        if (value.IsMap()) {
          if (auto result = walk(value, name + "."); !result) {
            return result;
          }
        } else if (!value.IsNull()) {
          // An empty section ("http:" alone) is harmless; anything else is a misunderstanding.
          return error(value.Mark(), "key " + quote(name) + " is a section: expected a map of " +
                                         name + ".* keys, got a " + kind(value));
        }
      } else {
        return error(key.Mark(), unknown_key(name));
      }
    }
    return {};
  }

  Result<void> set(const Key& known, const YAML::Node& key, const YAML::Node& value) {
    const std::string where = "key " + quote(known.name) + ": ";
    if (auto [it, inserted] = first_line_.emplace(known.name, key.Mark().line); !inserted) {
      return error(key.Mark(),
                   where + "set twice (first on line " + std::to_string(it->second + 1) + ")");
    }
    if (!value.IsScalar() && !value.IsNull()) {
      return error(value.Mark(), where + "expected " + known.expected + ", got a " + kind(value));
    }
    // A null ("key:" or "key: ~") is the empty text: an empty path means "the default".
    const std::string text = value.IsScalar() ? value.Scalar() : std::string();
    if (auto problem = known.set(config_, text)) {
      return error(value.IsNull() ? key.Mark() : value.Mark(), where + *problem);
    }
    return {};
  }

  // proxies: a list of maps, one per proxy project (config.hpp, ProxyConfig). A list of maps
  // has no dotted names, so these fields are not keys of the table (nor environment
  // variables); each value still goes through the table's codecs.
  Result<void> proxies(const YAML::Node& list) {
    if (list.IsNull()) {
      return {};
    }
    if (!list.IsSequence()) {
      return error(list.Mark(),
                   "key 'proxies': expected a list of proxy projects, got a " + kind(list));
    }
    for (const auto& item : list) {
      if (!item.IsMap()) {
        return error(item.Mark(),
                     "key 'proxies': expected a map per proxy project, got a " + kind(item));
      }
      ProxyConfig proxy;
      for (const auto& entry : item) {
        const std::string field = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
        const YAML::Node& value = entry.second;
        if (field == "token_realms") {
          if (auto result = token_realms(value, proxy.token_realms); !result) {
            return result;
          }
          continue;
        }
        if (!value.IsScalar() && !value.IsNull()) {
          return error(value.Mark(),
                       "key 'proxies." + field + "': expected a value, got a " + kind(value));
        }
        const std::string text = value.IsScalar() ? value.Scalar() : std::string();
        std::optional<Problem> problem;
        auto take = [&](auto codec, auto& target) {
          auto parsed = codec.parse(text);
          if (!parsed) {
            problem = parsed.error();
          } else {
            target = std::move(*parsed);
          }
        };
        if (field == "project") {
          proxy.project = text;
        } else if (field == "upstream") {
          proxy.upstream = text;
        } else if (field == "username") {
          proxy.username = text;
        } else if (field == "password") {
          proxy.password = text;
        } else if (field == "ca_file") {
          proxy.ca_file = text;
        } else if (field == "concurrency") {
          take(count_codec(), proxy.concurrency);
        } else if (field == "manifest_ttl") {
          take(duration_codec(), proxy.manifest_ttl);
        } else if (field == "max_staleness") {
          take(duration_codec(), proxy.max_staleness);
        } else if (field == "mirror") {
          take(bool_codec(), proxy.mirror);
        } else if (field == "overlay") {
          take(bool_codec(), proxy.overlay);
        } else {
          return error(entry.first.Mark(),
                       "unknown key " + quote("proxies." + field) +
                           " (proxy keys: project, upstream, username, password, token_realms, "
                           "ca_file, concurrency, manifest_ttl, max_staleness, mirror, overlay)");
        }
        if (problem) {
          return error(value.Mark(), "key 'proxies." + field + "': " + *problem);
        }
      }
      config_.proxies.push_back(std::move(proxy));
    }
    return {};
  }

  // A list of URLs, or one URL alone.
  Result<void> token_realms(const YAML::Node& value, std::vector<std::string>& out) {
    if (value.IsNull()) {
      return {};
    }
    if (value.IsScalar()) {
      out.push_back(value.Scalar());
      return {};
    }
    if (!value.IsSequence()) {
      return error(value.Mark(),
                   "key 'proxies.token_realms': expected a list of URLs, got a " + kind(value));
    }
    for (const auto& realm : value) {
      if (!realm.IsScalar()) {
        return error(realm.Mark(),
                     "key 'proxies.token_realms': expected a URL, got a " + kind(realm));
      }
      out.push_back(realm.Scalar());
    }
    return {};
  }

  static std::string kind(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return "map";
      case YAML::NodeType::Sequence:
        return "sequence";
      case YAML::NodeType::Null:
        return "null";
      case YAML::NodeType::Scalar:
        return "scalar";
      case YAML::NodeType::Undefined:
        break;
    }
    return "undefined node";
  }

  std::unexpected<core::Error> error(const YAML::Mark& mark, const std::string& message) const {
    std::string where = file_;
    if (!mark.is_null()) {
      where += ":" + std::to_string(mark.line + 1);
    }
    return fail(kConfigInvalid, where + ": " + message);
  }

  Config& config_;
  std::string file_;
  // Flattened name → 0-based line where it was first set, to refuse a key given twice
  // (once nested and once dotted, or a repeated YAML key).
  std::map<std::string, int> first_line_;
};

Result<std::string> read_file(const std::filesystem::path& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) {
    return fail(kConfigInvalid,
                "cannot open config file " + path.string() + ": " + std::strerror(errno));
  }
  std::string text;
  char buffer[8192];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    text.append(buffer, n);
  }
  if (std::ferror(file.get())) {
    return fail(kConfigInvalid,
                "cannot read config file " + path.string() + ": " + std::strerror(errno));
  }
  return text;
}

// A YAML scalar that loads back as exactly `text`: plain when that is unambiguous, double
// quoted otherwise.
std::string yaml_scalar(std::string_view text) {
  const bool plain = !text.empty() &&
                     (is_alpha(text[0]) || is_digit(text[0]) || text[0] == '.' || text[0] == '/' ||
                      text[0] == '_') &&
                     text.back() != ':' && text != "null" && text != "Null" && text != "NULL" &&
                     std::ranges::all_of(text, [](char c) {
                       return is_alpha(c) || is_digit(c) || c == '.' || c == '/' || c == '_' ||
                              c == '-' || c == ':' || c == '@' || c == '+';
                     });
  if (plain) {
    return std::string(text);
  }
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      // Bytes from 0x80 up are UTF-8 and go through as they are; YAML's \x escapes would
      // name code points, not bytes.
      out += c;
    }
  }
  out += '"';
  return out;
}

// `text` as "# " lines of at most 100 columns, broken between words.
std::string comment(std::string_view text, const std::string& indent) {
  constexpr std::size_t kWidth = 100;
  const std::string lead = indent + "#";
  std::string out;
  std::string line = lead;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view word = text.substr(start, end - start);
    if (line.size() > lead.size() && line.size() + 1 + word.size() > kWidth) {
      out += line + "\n";
      line = lead;
    }
    line += " ";
    line += word;
    start = end + 1;
  }
  return out + line + "\n";
}

}  // namespace

std::vector<KeyInfo> describe_keys() {
  const Config defaults;
  std::vector<KeyInfo> out;
  out.reserve(keys().size());
  for (const Key& key : keys()) {
    out.push_back({key.name, key.env, key.get(defaults), key.description});
  }
  return out;
}

Getenv process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    // getenv is not safe against a concurrent setenv; config is read once at start, before
    // any thread that could call setenv exists.
    if (const char* value = std::getenv(name.c_str())) {
      return std::string(value);
    }
    return std::nullopt;
  };
}

Result<Config> load_config(const std::optional<std::filesystem::path>& file, const Getenv& getenv) {
  Config config;
  if (file) {
    auto text = read_file(*file);
    if (!text) {
      return std::unexpected(text.error());
    }
    YamlLoader loader(config, file->string());
    if (auto result = loader.load(*text); !result) {
      return std::unexpected(result.error());
    }
  }
  if (getenv) {
    for (const Key& key : keys()) {
      auto value = getenv(key.env);
      if (!value) {
        continue;
      }
      if (auto problem = key.set(config, *value)) {
        return fail(kConfigInvalid, "environment variable " + key.env + ": " + *problem);
      }
    }
  }
  return config;
}

Result<void> set_key(Config& config, const std::string& name, const std::string& value) {
  const Key* key = find_key(name);
  if (key == nullptr) {
    return fail(kConfigInvalid, unknown_key(name));
  }
  if (auto problem = key->set(config, value)) {
    return fail(kConfigInvalid, "key " + quote(name) + ": " + *problem);
  }
  return {};
}

Result<std::uint64_t> parse_byte_size(std::string_view text) {
  auto parsed = byte_size_codec<std::uint64_t>().parse(text);
  if (!parsed) {
    return fail(kConfigInvalid, parsed.error());
  }
  return *parsed;
}

Result<Duration> parse_duration(std::string_view text) {
  auto parsed = duration_codec().parse(text);
  if (!parsed) {
    return fail(kConfigInvalid, parsed.error());
  }
  return *parsed;
}

Result<void> validate(const Config& config) {
  std::string problems;
  for (const Key& key : keys()) {
    if (auto problem = key.check(config)) {
      problems += (problems.empty() ? "" : "; ") + ("key " + quote(key.name) + ": " + *problem);
    }
  }
  auto also = [&](std::string problem) { problems += (problems.empty() ? "" : "; ") + problem; };
  if (config.tls.certificate.empty() != config.tls.key.empty()) {
    also("tls.certificate and tls.key go together: set both or neither");
  }
  if (config.listen.empty() && !config.tls_enabled()) {
    also("listen is empty and TLS is off: Berth would listen nowhere");
  }
  if (core::has_url_credentials(config.auth.realm)) {
    also("key 'auth.realm': " + quote(core::without_url_credentials(config.auth.realm)) +
         " carries credentials, and every client is sent the realm in its challenges");
  }
  std::set<std::string> proxy_projects;
  std::size_t mirrors = 0;
  for (const ProxyConfig& proxy : config.proxies) {
    const std::string which = "proxy " + quote(proxy.project);
    auto name = core::RepositoryName::parse(proxy.project);
    if (!name || proxy.project.find('/') != std::string::npos) {
      also(which + ": the project must be one repository-name component, like 'hub'");
    }
    if (!proxy_projects.insert(proxy.project).second) {
      also(which + ": the project is proxied twice");
    }
    if (!proxy.upstream.starts_with("http://") && !proxy.upstream.starts_with("https://")) {
      also(which + ": upstream must be an http:// or https:// URL, got " +
           quote(core::without_url_credentials(proxy.upstream)));
    }
    if (core::has_url_credentials(proxy.upstream)) {
      also(which + ": the upstream URL " + quote(core::without_url_credentials(proxy.upstream)) +
           " carries credentials; put them in the proxy's username and password instead");
    }
    for (const std::string& realm : proxy.token_realms) {
      if ((!realm.starts_with("http://") && !realm.starts_with("https://")) ||
          core::has_url_credentials(realm)) {
        also(which + ": token_realms takes http:// or https:// URLs without credentials, got " +
             quote(core::without_url_credentials(realm)));
      }
    }
    if (proxy.concurrency == 0) {
      also(which + ": concurrency must be at least 1");
    }
    if (proxy.username.empty() != proxy.password.empty()) {
      also(which + ": username and password go together");
    }
    mirrors += proxy.mirror ? 1 : 0;
  }
  if (mirrors > 1) {
    also("only one proxy may be the mirror");
  }
  if (config.metadata.driver == "postgres" && config.metadata.postgres.url.empty()) {
    also("metadata.postgres.url must be set with metadata.driver postgres");
  }
  if (config.storage.driver == "s3") {
    const S3Config& s3 = config.storage.s3;
    if (s3.bucket.empty()) {
      also("storage.s3.bucket must be set with storage.driver s3");
    }
    if (!s3.endpoint.empty() && !s3.endpoint.starts_with("http://") &&
        !s3.endpoint.starts_with("https://")) {
      also("storage.s3.endpoint must be an http:// or https:// URL, got " + quote(s3.endpoint));
    }
    if (s3.access_key.empty() != s3.secret_key.empty()) {
      also("storage.s3.access_key and storage.s3.secret_key go together");
    }
    if (s3.prefix.starts_with('/')) {
      also("storage.s3.prefix must not start with '/'");
    }
  }
  if (!problems.empty()) {
    return fail(kConfigInvalid, problems);
  }
  return {};
}

std::string render_yaml(const Config& config) {
  std::string out =
      "# Berth configuration. Each key can also be set by the environment variable named in\n"
      "# brackets, which wins over this file.\n";
  // The section path printed last, to open only the sections that change. The table keeps
  // each section's keys together, so no section is opened twice.
  std::vector<std::string> open;
  for (const Key& key : keys()) {
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
      const auto dot = key.name.find('.', start);
      parts.push_back(key.name.substr(start, dot - start));
      if (dot == std::string::npos) {
        break;
      }
      start = dot + 1;
    }
    const std::size_t depth = parts.size() - 1;
    std::size_t common = 0;
    while (common < open.size() && common < depth && open[common] == parts[common]) {
      ++common;
    }
    open.resize(common);
    if (common == depth) {
      out += "\n";
    }
    for (std::size_t level = common; level < depth; ++level) {
      out += "\n" + std::string(2 * level, ' ') + parts[level] + ":\n";
      open.push_back(parts[level]);
    }
    const std::string indent(2 * depth, ' ');
    out += comment(key.description + " [" + key.env + "]", indent);
    // A URL (auth.realm, an endpoint) may carry credentials too.
    const std::string value = key.get(config);
    out += indent + parts.back() + ": " +
           (key.secret && !value.empty() ? std::string(kRedacted)
                                         : yaml_scalar(core::without_url_credentials(value))) +
           "\n";
  }
  if (!config.proxies.empty()) {
    out += "\n# Pull-through caches of other registries (YAML only; see the README).\nproxies:\n";
    for (const ProxyConfig& proxy : config.proxies) {
      out += "  - project: " + yaml_scalar(proxy.project) + "\n";
      out += "    upstream: " + yaml_scalar(core::without_url_credentials(proxy.upstream)) + "\n";
      if (!proxy.username.empty()) {
        out += "    username: " + yaml_scalar(proxy.username) + "\n";
        out += "    # password: set, not shown\n";
      }
      if (!proxy.token_realms.empty()) {
        out += "    token_realms:\n";
        for (const std::string& realm : proxy.token_realms) {
          out += "      - " + yaml_scalar(core::without_url_credentials(realm)) + "\n";
        }
      }
      if (!proxy.ca_file.empty()) {
        out += "    ca_file: " + yaml_scalar(proxy.ca_file.string()) + "\n";
      }
      out += "    concurrency: " + count_codec().format(proxy.concurrency) + "\n";
      out += "    manifest_ttl: " + duration_codec().format(proxy.manifest_ttl) + "\n";
      out += "    max_staleness: " + duration_codec().format(proxy.max_staleness) + "\n";
      out += "    mirror: " + bool_codec().format(proxy.mirror) + "\n";
      out += "    overlay: " + bool_codec().format(proxy.overlay) + "\n";
    }
  }
  return out;
}

}  // namespace berth::config
