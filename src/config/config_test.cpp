// Tests of the config schema: each value syntax, the YAML and environment sources and how
// their errors read, validate()'s rules, and that render_yaml() loads back to the same Config.
#include "config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>

#include "config/config_test_support.hpp"

namespace berth::config {
namespace {

using test_support::env_of;

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-config-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The message of set_key's error, or "" if it succeeded.
std::string set_error(const std::string& key, const std::string& value) {
  Config config;
  auto result = set_key(config, key, value);
  return result ? std::string() : result.error().message;
}

Duration duration_of(const std::string& text) {
  Config config;
  auto result = set_key(config, "http.read_timeout", text);
  EXPECT_TRUE(result) << text << ": " << result.error().message;
  return config.http.read_timeout;
}

std::uint64_t manifest_bytes_of(const std::string& text) {
  Config config;
  auto result = set_key(config, "http.max_manifest_bytes", text);
  EXPECT_TRUE(result) << text << ": " << result.error().message;
  return config.http.max_manifest_bytes;
}

// A config with every field away from its default, and with paths YAML would misread if
// they were printed unquoted.
Config unusual_config() {
  Config config;
  config.listen = "[::1]:0";
  config.data = "/var/lib/berth data/#1";
  config.log.format = "json";
  config.log.level = "trace";
  config.log.access = false;
  config.http.io_threads = 3;
  config.http.blocking_threads = 17;
  config.http.max_header_bytes = 5000;
  config.http.max_manifest_bytes = 8 * 1024 * 1024;
  config.http.read_timeout = std::chrono::milliseconds(1500);
  config.http.write_timeout = std::chrono::minutes(90);
  config.http.idle_timeout = std::chrono::days(2) + std::chrono::milliseconds(1);
  config.http.drain_timeout = std::chrono::seconds(1);
  config.http.maintenance_threads = 5;
  config.http.lookup_threads = 6;
  config.http.body_min_rate = 0;
  config.http.max_connections = 77;
  config.http.trusted_proxies = "10.0.0.0/8, ::1";
  config.metrics.listen = "127.0.0.1:9090";
  config.uploads.max_age = std::chrono::days(7);
  config.uploads.purge_interval = std::chrono::minutes(5);
  config.uploads.max_size = 3 * 1024 * 1024 + 1;
  config.stats.flush_interval = std::chrono::seconds(3);
  config.retention.interval = std::chrono::hours(2);
  config.gc.interval = std::chrono::minutes(30);
  config.gc.blob_grace = std::chrono::hours(6);
  config.gc.untagged_after = std::chrono::days(30);
  config.storage.root = "~";
  config.storage.min_free = 0;
  config.metadata.sqlite_path = "it's \"quoted\": \\ and ü.db";
  config.auth.enabled = "false";
  config.auth.htpasswd = "/etc/berth/htpasswd";
  config.auth.realm = "https://registry.example:8443/token";
  config.auth.create_projects_on_push = "nobody";
  config.auth.token_ttl = std::chrono::seconds(90);
  config.auth.password_hash_threads = 1;
  config.auth.password_hash_queue = 0;
  config.tls.certificate = "/etc/ssl/berth.crt";
  config.tls.key = "/etc/ssl/berth.key";
  config.tls.listen = "[::]:443";
  config.ui.enabled = false;
  config.ui.path = "/console/ui";
  config.ui.session_idle = std::chrono::minutes(5);
  config.ui.session_lifetime = std::chrono::hours(1);
  config.audit.retention = std::chrono::hours(24);
  config.audit.file = "/var/log/audit.jsonl";
  config.audit.log = true;
  return config;
}

TEST(ConfigDefaults, NoFileNoEnvironmentGivesTheDefaults) {
  auto config = load_config(std::nullopt, env_of());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(*config, Config{});
  EXPECT_EQ(config->listen, "0.0.0.0:5000");
  EXPECT_EQ(config->data, "./data");
  EXPECT_EQ(config->http.read_timeout, std::chrono::seconds(60));
  EXPECT_EQ(config->storage_root(), "./data");
  EXPECT_EQ(config->sqlite_path(), "./data/berth.db");
  EXPECT_TRUE(validate(*config));
}

TEST(ConfigDefaults, EmptyGetenvMeansNoEnvironment) {
  auto config = load_config(std::nullopt, Getenv());
  ASSERT_TRUE(config);
  EXPECT_EQ(*config, Config{});
}

TEST(ConfigYaml, NestedKeysAreFlattenedIntoDottedNames) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "listen: 127.0.0.1:8080\n"
                              "data: /srv/berth\n"
                              "log:\n"
                              "  level: debug\n"
                              "  access: no\n"
                              "http:\n"
                              "  read_timeout: 30s\n"
                              "  max_manifest_bytes: 8MiB\n"
                              "  io_threads: 4\n"
                              "uploads:\n"
                              "  max_age: 1h30m\n"
                              "storage:\n"
                              "  root: /blobs\n");
  auto config = load_config(file, env_of());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->listen, "127.0.0.1:8080");
  EXPECT_EQ(config->data, "/srv/berth");
  EXPECT_EQ(config->log.level, "debug");
  EXPECT_FALSE(config->log.access);
  EXPECT_EQ(config->http.read_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config->http.max_manifest_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(config->http.io_threads, 4u);
  EXPECT_EQ(config->uploads.max_age, std::chrono::minutes(90));
  EXPECT_EQ(config->storage_root(), "/blobs");
  // Untouched keys keep their defaults.
  EXPECT_EQ(config->http.write_timeout, std::chrono::seconds(60));
  EXPECT_EQ(config->sqlite_path(), "/srv/berth/berth.db");
}

TEST(ConfigYaml, DottedNamesAndEmptySectionsAreAccepted) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "http.read_timeout: 5s\n"
                              "log:\n"
                              "storage:\n"
                              "  root:\n");
  auto config = load_config(file, env_of());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->http.read_timeout, std::chrono::seconds(5));
  EXPECT_EQ(config->log, LogConfig{});
  EXPECT_TRUE(config->storage.root.empty());
}

TEST(ConfigYaml, ScalarsArePassedAsTextNotYamlTypes) {
  TempDir dir;
  // YAML 1.1 would read 010 as octal 8 and "yes" as a bool; the setters see the text.
  const auto file = dir.write("berth.yaml",
                              "http:\n"
                              "  io_threads: 010\n"
                              "log:\n"
                              "  access: 'yes'\n"
                              "  level: \"warn\"\n");
  auto config = load_config(file, env_of());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->http.io_threads, 10u);
  EXPECT_TRUE(config->log.access);
  EXPECT_EQ(config->log.level, "warn");
}

TEST(ConfigYaml, EmptyOrCommentOnlyFileIsAnEmptyConfig) {
  TempDir dir;
  for (const std::string text : {"", "# nothing here\n", "\n\n"}) {
    const auto file = dir.write("berth.yaml", text);
    auto config = load_config(file, env_of());
    ASSERT_TRUE(config) << ::testing::PrintToString(text) << ": " << config.error().message;
    EXPECT_EQ(*config, Config{});
  }
}

TEST(ConfigYaml, MissingFileIsAnErrorNamingThePath) {
  TempDir dir;
  const auto file = dir.path() / "nope.yaml";
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, kConfigInvalid);
  EXPECT_THAT(config.error().message, HasSubstr(file.string()));
  EXPECT_THAT(config.error().message, HasSubstr("No such file"));
}

TEST(ConfigYaml, UnreadableFileIsAnErrorNamingThePath) {
  TempDir dir;
  // A directory opens but cannot be read, whoever runs the test (root ignores permissions).
  auto config = load_config(dir.path(), env_of());
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message, HasSubstr("cannot read config file " + dir.path().string()));
}

TEST(ConfigYaml, UnknownKeyNamesFileLineKeyAndSuggestion) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "log:\n"
                              "  level: info\n"
                              "http:\n"
                              "  read_timout: 30s\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(
      config.error().message,
      file.string() + ":4: unknown key 'http.read_timout' (did you mean 'http.read_timeout'?)");
}

// Found by a new user: the missing quote made YAML read the next key into the address, and
// the error was about IPv6 brackets.
TEST(ConfigYaml, UnclosedQuoteIsReportedAsAMissingQuote) {
  TempDir dir;
  const auto file = dir.write("berth.yaml", "listen: \"127.0.0.1:5000\ndata: ./x\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            file.string() +
                ":1: key 'listen': the quoted value does not end on its line: is its closing "
                "quote missing?");
}

TEST(ConfigYaml, QuotesClosedOnTheirLineAreFineEvenWithEscapes) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "listen: \"127.0.0.1:5000\"\n"
                              "data: 'it''s here'\n"
                              "auth:\n  realm: \"https://r/\\\"x\\\"\"\n");
  auto config = load_config(file, env_of());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->listen, "127.0.0.1:5000");
  EXPECT_EQ(config->data, "it's here");
  EXPECT_EQ(config->auth.realm, "https://r/\"x\"");
}

TEST(ConfigYaml, UnknownSectionIsAnError) {
  TempDir dir;
  const auto file = dir.write("berth.yaml", "proxy:\n  upstream: x\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message, StartsWith(file.string() + ":1: unknown key 'proxy'"));
}

TEST(ConfigYaml, BadValueNamesFileLineKeyAndExpectation) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "# comment\n"
                              "http:\n"
                              "  write_timeout: 10s\n"
                              "  read_timeout: soon\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, kConfigInvalid);
  EXPECT_THAT(config.error().message, StartsWith(file.string() + ":4: key 'http.read_timeout': "
                                                                 "expected a duration like 30s"));
  EXPECT_THAT(config.error().message, HasSubstr("got 'soon'"));
}

TEST(ConfigYaml, SequenceWhereAScalarBelongsIsAnError) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "log:\n"
                              "  level:\n"
                              "    - info\n"
                              "    - debug\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message, file.string() +
                                        ":3: key 'log.level': expected one of trace, debug, "
                                        "info, warn, error, got a sequence");
}

TEST(ConfigYaml, MapWhereAScalarBelongsIsAnError) {
  TempDir dir;
  const auto file = dir.write("berth.yaml", "listen:\n  host: x\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            file.string() + ":2: key 'listen': expected host:port, or empty for none, got a map");
}

TEST(ConfigYaml, ScalarWhereASectionBelongsIsAnError) {
  TempDir dir;
  const auto file = dir.write("berth.yaml", "http: fast\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            file.string() +
                ":1: key 'http' is a section: expected a map of http.* keys, got a "
                "scalar");
}

TEST(ConfigYaml, KeySetTwiceIsAnError) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "http:\n"
                              "  read_timeout: 5s\n"
                              "http.read_timeout: 6s\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            file.string() + ":3: key 'http.read_timeout': set twice (first on line 2)");
}

TEST(ConfigYaml, TopLevelMustBeAMap) {
  TempDir dir;
  const auto file = dir.write("berth.yaml", "- listen\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message,
              HasSubstr(file.string() + ":1: expected a map of keys at the top level"));
}

TEST(ConfigYaml, SyntaxErrorNamesFileAndLine) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "log:\n"
                              "  level: info\n"
                              "  format: [text\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message, StartsWith(file.string() + ":"));
  EXPECT_THAT(config.error().message, HasSubstr("invalid YAML"));
}

TEST(ConfigYaml, RangeIsCheckedWhenTheKeyIsRead) {
  TempDir dir;
  const auto file = dir.write("berth.yaml", "http:\n  max_manifest_bytes: 100MiB\n");
  auto config = load_config(file, env_of());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            file.string() +
                ":2: key 'http.max_manifest_bytes': expected a byte size from 1KiB to 64MiB, "
                "got '100MiB'");
}

TEST(ConfigEnv, EnvironmentBeatsYaml) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "http:\n"
                              "  read_timeout: 30s\n"
                              "  write_timeout: 40s\n");
  auto config = load_config(file, env_of({{"BERTH_HTTP_READ_TIMEOUT", "2m"},
                                          {"BERTH_LOG_FORMAT", "json"},
                                          {"BERTH_STORAGE_ROOT", "/env/blobs"}}));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->http.read_timeout, std::chrono::minutes(2));
  EXPECT_EQ(config->http.write_timeout, std::chrono::seconds(40));
  EXPECT_EQ(config->log.format, "json");
  EXPECT_EQ(config->storage.root, "/env/blobs");
}

TEST(ConfigEnv, BadValueNamesTheVariable) {
  auto config = load_config(std::nullopt, env_of({{"BERTH_HTTP_MAX_HEADER_BYTES", "lots"}}));
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, kConfigInvalid);
  EXPECT_EQ(config.error().message,
            "environment variable BERTH_HTTP_MAX_HEADER_BYTES: expected a byte size like 65536, "
            "512KiB or 4MiB, got 'lots'");
}

TEST(ConfigByteSize, ParseByteSizeTakesTheKeysSyntax) {
  EXPECT_EQ(parse_byte_size("10GiB"), std::uint64_t{10} << 30);
  EXPECT_EQ(parse_byte_size("4 MiB"), std::uint64_t{4} << 20);
  EXPECT_EQ(parse_byte_size("65536"), 65536u);
  EXPECT_EQ(parse_byte_size("0"), 0u);
  const auto decimal = parse_byte_size("10GB");
  ASSERT_FALSE(decimal);
  EXPECT_THAT(decimal.error().message, HasSubstr("decimal units"));
  EXPECT_FALSE(parse_byte_size("lots"));
  EXPECT_FALSE(parse_byte_size("-1"));
  EXPECT_FALSE(parse_byte_size("99999999TiB"));
}

TEST(ConfigDuration, ParseDurationTakesTheKeysSyntax) {
  EXPECT_EQ(parse_duration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(parse_duration("0"), Duration::zero());
  EXPECT_EQ(parse_duration("1s500ms"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("30m1h"));
  const auto bad = parse_duration("soon");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "expected a duration like 30s or 1h30m (units d, h, m, s, ms, largest first), got "
            "'soon'");
}

TEST(ConfigEnv, UnknownBerthVariablesAreIgnored) {
  std::set<std::string> asked;
  const std::map<std::string, std::string> vars = {{"BERTH_ADMIN_PASSWORD", "secret"},
                                                   {"BERTH_HTTP_READTIMEOUT", "nonsense"},
                                                   {"BERTH_LOG_LEVEL", "warn"}};
  auto config = load_config(std::nullopt, [&](const std::string& name) {
    asked.insert(name);
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional(it->second);
  });
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->log.level, "warn");
  EXPECT_EQ(asked.count("BERTH_ADMIN_PASSWORD"), 0u);
  EXPECT_EQ(asked.size(), describe_keys().size());
}

TEST(ConfigEnv, ProcessEnvironmentReadsRealVariables) {
  ASSERT_EQ(setenv("BERTH_CONFIG_TEST_PROBE", "42", 1), 0);
  const Getenv getenv = process_environment();
  EXPECT_EQ(getenv("BERTH_CONFIG_TEST_PROBE"), "42");
  unsetenv("BERTH_CONFIG_TEST_PROBE");
  EXPECT_EQ(getenv("BERTH_CONFIG_TEST_PROBE"), std::nullopt);
}

TEST(ConfigSetKey, UnknownKeyIsNamedWithASuggestion) {
  EXPECT_EQ(set_error("http.read_timout", "30s"),
            "unknown key 'http.read_timout' (did you mean 'http.read_timeout'?)");
  EXPECT_EQ(set_error("completely.unrelated", "1"), "unknown key 'completely.unrelated'");
}

TEST(ConfigSetKey, FailedSetLeavesConfigUnchanged) {
  Config config;
  ASSERT_TRUE(set_key(config, "http.read_timeout", "5s"));
  EXPECT_FALSE(set_key(config, "http.read_timeout", "5 seconds"));
  EXPECT_FALSE(set_key(config, "http.read_timeout", "0s"));
  EXPECT_EQ(config.http.read_timeout, std::chrono::seconds(5));
}

TEST(ConfigParsers, DurationValid) {
  EXPECT_EQ(duration_of("100ms"), std::chrono::milliseconds(100));
  EXPECT_EQ(duration_of("30s"), std::chrono::seconds(30));
  EXPECT_EQ(duration_of("5m"), std::chrono::minutes(5));
  EXPECT_EQ(duration_of("24h"), std::chrono::hours(24));
  EXPECT_EQ(duration_of("7d"), std::chrono::days(7));
  EXPECT_EQ(duration_of("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(duration_of("1d2h3m4s5ms"), std::chrono::days(1) + std::chrono::hours(2) +
                                            std::chrono::minutes(3) + std::chrono::seconds(4) +
                                            std::chrono::milliseconds(5));
  EXPECT_EQ(duration_of("90s"), std::chrono::seconds(90));
  EXPECT_EQ(duration_of("3650d"), std::chrono::days(3650));
}

TEST(ConfigParsers, DurationInvalid) {
  for (const std::string text :
       {"", "30", "30x", "s", "1.5h", "-5s", "1m1h", "1h1h", "30 s", "30S", "1h 30m", " 30s"}) {
    EXPECT_EQ(set_error("http.idle_timeout", text),
              "key 'http.idle_timeout': expected a duration like 30s or 1h30m (units d, h, m, s, "
              "ms, largest first), got '" +
                  text + "'");
  }
  EXPECT_THAT(set_error("http.idle_timeout", "99999999999999999999d"),
              HasSubstr("expected a duration like 30s"));
  EXPECT_THAT(set_error("http.idle_timeout", "36501d"),
              HasSubstr("expected a duration of at most 36500d, got '36501d'"));
  // Parses, but a timeout must be positive and sane.
  EXPECT_EQ(set_error("http.idle_timeout", "0"),
            "key 'http.idle_timeout': expected a duration from 1ms to 3650d, got '0s'");
  EXPECT_EQ(set_error("uploads.max_age", "3651d"),
            "key 'uploads.max_age': expected a duration from 1ms to 3650d, got '3651d'");
}

TEST(ConfigParsers, BoolValidAndInvalid) {
  for (const std::string text : {"true", "TRUE", "True", "yes", "Yes", "1"}) {
    Config config;
    config.log.access = false;
    ASSERT_TRUE(set_key(config, "log.access", text)) << text;
    EXPECT_TRUE(config.log.access) << text;
  }
  for (const std::string text : {"false", "FALSE", "no", "NO", "0"}) {
    Config config;
    ASSERT_TRUE(set_key(config, "log.access", text)) << text;
    EXPECT_FALSE(config.log.access) << text;
  }
  for (const std::string text : {"", "maybe", "on", "2", "truee", " true"}) {
    EXPECT_EQ(set_error("log.access", text),
              "key 'log.access': expected true or false (or yes/no, 1/0), got '" + text + "'");
  }
}

TEST(ConfigParsers, CountValidAndInvalid) {
  Config config;
  ASSERT_TRUE(set_key(config, "http.blocking_threads", "16"));
  EXPECT_EQ(config.http.blocking_threads, 16u);
  ASSERT_TRUE(set_key(config, "http.blocking_threads", "0"));
  EXPECT_EQ(config.http.blocking_threads, 0u);
  for (const std::string text : {"", "-1", "+1", "8x", "1e3", "99999999999999999999999", "4 "}) {
    EXPECT_EQ(set_error("http.blocking_threads", text),
              "key 'http.blocking_threads': expected a whole number like 8, got '" + text + "'");
  }
  EXPECT_EQ(set_error("http.io_threads", "1025"),
            "key 'http.io_threads': expected at most 1024 threads, got '1025'");
}

TEST(ConfigParsers, MaintenanceThreadsBodyRateAndConnectionLimit) {
  Config config;
  EXPECT_EQ(config.http.maintenance_threads, 2u);
  EXPECT_EQ(config.http.body_min_rate, 1024u);
  EXPECT_EQ(config.http.max_connections, 4096u);
  ASSERT_TRUE(set_key(config, "http.body_min_rate", "0"));
  EXPECT_EQ(config.http.body_min_rate, 0u) << "0 turns the body deadline off";
  ASSERT_TRUE(set_key(config, "http.body_min_rate", "64KiB"));
  EXPECT_EQ(config.http.body_min_rate, 64u * 1024);
  EXPECT_EQ(set_error("http.maintenance_threads", "0"),
            "key 'http.maintenance_threads': expected 1 to 64 threads, got '0'");
  EXPECT_EQ(set_error("http.max_connections", "0"),
            "key 'http.max_connections': expected 1 to 1000000, got '0'");
  EXPECT_EQ(set_error("http.body_min_rate", "2GiB"),
            "key 'http.body_min_rate': expected a byte size up to 1GiB, got '2GiB'");
}

TEST(ConfigParsers, CacheSyncDefaultsToASecondAndZeroTurnsTheCachesOff) {
  Config config;
  EXPECT_EQ(config.auth.cache_sync, std::chrono::seconds(1));
  ASSERT_TRUE(set_key(config, "auth.cache_sync", "0"));
  EXPECT_EQ(config.auth.cache_sync, Duration{0});
  EXPECT_EQ(set_error("auth.cache_sync", "11m"),
            "key 'auth.cache_sync': expected a duration from 0 (no caches) to 10m, got '11m'");
}

TEST(ConfigParsers, ByteSizeValid) {
  EXPECT_EQ(manifest_bytes_of("65536"), 65536u);
  EXPECT_EQ(manifest_bytes_of("2048B"), 2048u);
  EXPECT_EQ(manifest_bytes_of("512KiB"), 512u * 1024);
  EXPECT_EQ(manifest_bytes_of("4MiB"), 4u * 1024 * 1024);
  EXPECT_EQ(manifest_bytes_of("4 MiB"), 4u * 1024 * 1024);
  EXPECT_EQ(manifest_bytes_of("4mib"), 4u * 1024 * 1024);
  EXPECT_EQ(manifest_bytes_of("64MiB"), 64u * 1024 * 1024);
  Config config;
  // GiB and TiB parse; the range rule of this key is what refuses them.
  EXPECT_EQ(set_error("http.max_manifest_bytes", "1GiB"),
            "key 'http.max_manifest_bytes': expected a byte size from 1KiB to 64MiB, got '1GiB'");
  EXPECT_THAT(set_error("http.max_manifest_bytes", "1TiB"), HasSubstr("got '1TiB'"));
}

TEST(ConfigParsers, ByteSizeRefusesDecimalUnits) {
  for (const std::string text : {"4MB", "4mb", "512KB", "1GB", "4M", "4k", "1T"}) {
    EXPECT_EQ(set_error("http.max_manifest_bytes", text),
              "key 'http.max_manifest_bytes': expected a byte size in binary units (B, KiB, MiB, "
              "GiB, TiB); decimal units like KB and MB are ambiguous, got '" +
                  text + "'");
  }
}

TEST(ConfigParsers, ByteSizeInvalid) {
  for (const std::string text : {"", "MiB", "4XB", "4 ", "4  MiB", "-4MiB", "4.5MiB", "4MiBs"}) {
    EXPECT_EQ(set_error("http.max_manifest_bytes", text),
              "key 'http.max_manifest_bytes': expected a byte size like 65536, 512KiB or 4MiB, "
              "got '" +
                  text + "'");
  }
  EXPECT_THAT(set_error("http.max_manifest_bytes", "17179869184GiB"),
              HasSubstr("expected a byte size of at most 18446744073709551615"));
}

TEST(ConfigParsers, EnumValidAndInvalid) {
  Config config;
  ASSERT_TRUE(set_key(config, "log.format", "json"));
  EXPECT_EQ(config.log.format, "json");
  EXPECT_EQ(set_error("log.format", "xml"),
            "key 'log.format': expected one of text, json, got 'xml'");
  // Names are case-sensitive, as they are in the code that compares them.
  EXPECT_EQ(set_error("log.level", "INFO"),
            "key 'log.level': expected one of trace, debug, info, warn, error, got 'INFO'");
  EXPECT_EQ(set_error("storage.driver", "gcs"),
            "key 'storage.driver': expected one of filesystem, s3, got 'gcs'");
  EXPECT_EQ(set_error("metadata.driver", "mysql"),
            "key 'metadata.driver': expected one of sqlite, postgres, got 'mysql'");
}

TEST(ConfigParsers, PathAndText) {
  Config config;
  ASSERT_TRUE(set_key(config, "metadata.sqlite_path", "/tmp/a b.db"));
  EXPECT_EQ(config.sqlite_path(), "/tmp/a b.db");
  ASSERT_TRUE(set_key(config, "metadata.sqlite_path", ""));
  EXPECT_EQ(config.sqlite_path(), "./data/berth.db");
  EXPECT_EQ(set_error("data", ""), "key 'data': expected a path, got an empty one, got ''");
}

TEST(ConfigParsers, ListenValid) {
  for (const std::string text : {"0.0.0.0:5000", ":5000", "[::]:5000", "[::1]:0", "127.0.0.1:0",
                                 "localhost:65535", "registry.example.com:443"}) {
    Config config;
    ASSERT_TRUE(set_key(config, "listen", text)) << text;
    EXPECT_EQ(config.listen, text);
  }
}

TEST(ConfigParsers, ListenInvalid) {
  for (const std::string text : {"5000", "host:", "host:65536", "host:-1", "host:http", "[::1]5000",
                                 "[]:5000", "[::1:5000", "a b:80", "host:000080"}) {
    EXPECT_EQ(set_error("listen", text),
              "key 'listen': expected host:port with a port from 0 to 65535, like 0.0.0.0:5000, "
              ":5000 or [::]:5000, got '" +
                  text + "'");
  }
  EXPECT_EQ(set_error("listen", "::1:5000"),
            "key 'listen': expected an IPv6 host in brackets, like [::1]:5000, got '::1:5000'");
  // The TLS listener cannot be switched off by emptying it: TLS is off without a certificate.
  EXPECT_THAT(set_error("tls.listen", ""), HasSubstr("expected host:port"));
}

TEST(ConfigValidate, PlainListenerMayBeOffOnlyWithTls) {
  Config config;
  config.listen = "";
  auto nowhere = validate(config);
  ASSERT_FALSE(nowhere);
  EXPECT_THAT(nowhere.error().message, HasSubstr("listen nowhere"));
  config.tls.certificate = "/c.pem";
  config.tls.key = "/k.pem";
  EXPECT_TRUE(validate(config));
  EXPECT_TRUE(config.tls_enabled());
}

TEST(ConfigValidate, CertificateAndKeyGoTogether) {
  Config config;
  config.tls.certificate = "/c.pem";
  auto result = validate(config);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("set both or neither"));
  EXPECT_FALSE(config.tls_enabled());
}

TEST(ConfigParsers, MessagesEscapeAndShortenValues) {
  EXPECT_EQ(set_error("log.level", "a\nb"),
            "key 'log.level': expected one of trace, debug, info, warn, error, got 'a\\x0ab'");
  const std::string message = set_error("log.level", std::string(500, 'x'));
  EXPECT_THAT(message, HasSubstr(std::string(80, 'x') + "...'"));
  EXPECT_LT(message.size(), 200u);
}

TEST(ConfigValidate, DefaultsAndUnusualValuesPass) {
  EXPECT_TRUE(validate(Config{}));
  auto result = validate(unusual_config());
  EXPECT_TRUE(result) << result.error().message;
}

TEST(ConfigValidate, EachRuleFailsWithTheKeyNamed) {
  struct Case {
    std::function<void(Config&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](Config& c) { c.storage.driver = "gcs"; },
       "key 'storage.driver': expected one of filesystem, s3, got 'gcs'"},
      {[](Config& c) { c.metadata.driver = "mysql"; },
       "key 'metadata.driver': expected one of sqlite, postgres, got 'mysql'"},
      {[](Config& c) { c.log.format = "xml"; },
       "key 'log.format': expected one of text, json, got 'xml'"},
      {[](Config& c) { c.log.level = "verbose"; },
       "key 'log.level': expected one of trace, debug, info, warn, error, got 'verbose'"},
      {[](Config& c) { c.listen = "localhost"; },
       "key 'listen': expected host:port with a port from 0 to 65535, like 0.0.0.0:5000, :5000 "
       "or [::]:5000, got 'localhost'"},
      {[](Config& c) { c.data.clear(); }, "key 'data': expected a path, got an empty one, got ''"},
      {[](Config& c) { c.http.max_manifest_bytes = 1023; },
       "key 'http.max_manifest_bytes': expected a byte size from 1KiB to 64MiB, got '1023'"},
      {[](Config& c) { c.http.max_manifest_bytes = 64 * 1024 * 1024 + 1; },
       "key 'http.max_manifest_bytes': expected a byte size from 1KiB to 64MiB, got '67108865'"},
      {[](Config& c) { c.http.max_header_bytes = 4095; },
       "key 'http.max_header_bytes': expected a byte size from 4KiB to 1MiB, got '4095'"},
      {[](Config& c) { c.http.blocking_threads = 5000; },
       "key 'http.blocking_threads': expected at most 4096 threads, got '5000'"},
      {[](Config& c) { c.auth.password_hash_threads = 257; },
       "key 'auth.password_hash_threads': expected at most 256 threads, got '257'"},
      {[](Config& c) { c.auth.password_hash_queue = 100'001; },
       "key 'auth.password_hash_queue': expected at most 100000, got '100001'"},
      {[](Config& c) { c.http.read_timeout = Duration::zero(); },
       "key 'http.read_timeout': expected a duration from 1ms to 3650d, got '0s'"},
      {[](Config& c) { c.http.write_timeout = Duration(-5); },
       "key 'http.write_timeout': expected a duration from 1ms to 3650d, got '-5ms'"},
      {[](Config& c) { c.http.drain_timeout = Duration::zero(); },
       "key 'http.drain_timeout': expected a duration from 1ms to 3650d, got '0s'"},
      {[](Config& c) { c.uploads.purge_interval = Duration::zero(); },
       "key 'uploads.purge_interval': expected a duration from 1ms to 3650d, got '0s'"},
      {[](Config& c) { c.http.trusted_proxies = "10.0.0.1, proxy.local"; },
       "key 'http.trusted_proxies': expected comma-separated IP addresses and CIDRs "
       "('proxy.local' is not an IP address or network), got '10.0.0.1, proxy.local'"},
      {[](Config& c) { c.metrics.listen = "localhost"; },
       "key 'metrics.listen': expected host:port with a port from 0 to 65535, like "
       "0.0.0.0:5000, :5000 or [::]:5000, got 'localhost'"},
      {[](Config& c) { c.ui.path = "ui"; },
       "key 'ui.path': expected a path starting with /, got 'ui'"},
      {[](Config& c) { c.ui.path = "/a//b"; },
       "key 'ui.path': expected no empty path segment, got '/a//b'"},
      {[](Config& c) { c.ui.path = "/a b"; },
       "key 'ui.path': expected letters, digits, '-', '.', '_', '~' and '/' only, got '/a b'"},
      {[](Config& c) { c.ui.path = "/ui/../x"; },
       "key 'ui.path': expected no '.' or '..' segment, got '/ui/../x'"},
      {[](Config& c) { c.ui.path = "/api/ui"; },
       "key 'ui.path': expected a path apart from the registry's and the API's (/api), got "
       "'/api/ui'"},
      {[](Config& c) { c.ui.path = "/v2"; },
       "key 'ui.path': expected a path apart from the registry's and the API's (/v2), got '/v2'"},
      {[](Config& c) { c.ui.session_idle = std::chrono::seconds(59); },
       "key 'ui.session_idle': expected a duration from 1m to 30d, got '59s'"},
      {[](Config& c) { c.ui.session_lifetime = Duration::zero(); },
       "key 'ui.session_lifetime': expected a duration from 1m to 365d, got '0s'"},
  };
  for (const Case& test : cases) {
    Config config;
    test.change(config);
    auto result = validate(config);
    ASSERT_FALSE(result) << test.message;
    EXPECT_EQ(result.error().code, kConfigInvalid);
    EXPECT_EQ(result.error().message, test.message);
  }
}

TEST(ConfigValidate, ListsEveryProblem) {
  Config config;
  config.log.format = "xml";
  config.http.idle_timeout = Duration::zero();
  auto result = validate(config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "key 'log.format': expected one of text, json, got 'xml'; key 'http.idle_timeout': "
            "expected a duration from 1ms to 3650d, got '0s'");
}

TEST(ConfigRender, DefaultsRenderAsReadableYaml) {
  const std::string yaml = render_yaml(Config{});
  EXPECT_THAT(yaml, HasSubstr("\nlisten: 0.0.0.0:5000\n"));
  EXPECT_THAT(yaml, HasSubstr("\nhttp:\n"));
  EXPECT_THAT(yaml, HasSubstr("\n  read_timeout: 1m\n"));
  EXPECT_THAT(yaml, HasSubstr("\n  max_manifest_bytes: 4MiB\n"));
  EXPECT_THAT(yaml, HasSubstr("\n  max_age: 1d\n"));
  EXPECT_THAT(yaml, HasSubstr("\n  root: \"\"\n"));
  EXPECT_THAT(yaml, HasSubstr("[BERTH_HTTP_READ_TIMEOUT]"));
  std::size_t start = 0;
  while (start < yaml.size()) {
    const auto end = yaml.find('\n', start);
    EXPECT_LE(end - start, 100u) << yaml.substr(start, end - start);
    start = end + 1;
  }
}

TEST(ConfigRender, RoundTripsToAnEqualConfig) {
  TempDir dir;
  for (const Config& original : {Config{}, unusual_config()}) {
    const auto file = dir.write("shown.yaml", render_yaml(original));
    auto loaded = load_config(file, env_of());
    ASSERT_TRUE(loaded) << loaded.error().message << "\n" << render_yaml(original);
    EXPECT_EQ(*loaded, original) << render_yaml(original);
  }
}

TEST(ConfigRender, RoundTripsAwkwardPaths) {
  TempDir dir;
  for (const std::string path :
       {"~",      "null",    "-rf",    "a: b", "a:",        "[x]",         "{x}",      "#x",
        "x #y",   "'q'",     "\"q\"",  "a\\b", "tab\there", "line\nbreak", "bell\x07", "ünï",
        "*alias", "&anchor", "!tag",   "%x",   "@x",        "`x",          "|",        ">",
        "? x",    " lead",   "trail ", "yes",  "0x10",      "1e3",         ".inf"}) {
    Config original;
    original.storage.root = path;
    const auto file = dir.write("shown.yaml", render_yaml(original));
    auto loaded = load_config(file, env_of());
    ASSERT_TRUE(loaded) << path << ": " << loaded.error().message;
    EXPECT_EQ(loaded->storage.root, path) << render_yaml(original);
  }
}

TEST(ConfigKeys, EveryKeyListedOnceWithDescriptionAndDerivedEnvName) {
  const auto keys = describe_keys();
  ASSERT_EQ(keys.size(), 77u);  // 65 + metrics 2 + the audit log's 3 + events 7
  std::set<std::string> names;
  std::set<std::string> envs;
  for (const KeyInfo& key : keys) {
    EXPECT_TRUE(names.insert(key.name).second) << "listed twice: " << key.name;
    EXPECT_TRUE(envs.insert(key.env).second) << "env name clash: " << key.env;
    EXPECT_FALSE(key.description.empty()) << key.name;
    std::string env = "BERTH_";
    for (char c : key.name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')
          << key.name;
      env += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(key.env, env);
  }
  for (const std::string expected : {"listen",
                                     "data",
                                     "log.format",
                                     "log.level",
                                     "log.access",
                                     "http.io_threads",
                                     "http.blocking_threads",
                                     "http.max_header_bytes",
                                     "http.max_manifest_bytes",
                                     "http.read_timeout",
                                     "http.write_timeout",
                                     "http.idle_timeout",
                                     "http.drain_timeout",
                                     "http.maintenance_threads",
                                     "http.lookup_threads",
                                     "http.body_min_rate",
                                     "http.max_connections",
                                     "http.trusted_proxies",
                                     "uploads.max_age",
                                     "uploads.purge_interval",
                                     "uploads.max_size",
                                     "stats.flush_interval",
                                     "retention.interval",
                                     "gc.interval",
                                     "gc.blob_grace",
                                     "gc.untagged_after",
                                     "gc.sweep_interval",
                                     "storage.driver",
                                     "storage.root",
                                     "storage.min_free",
                                     "metadata.driver",
                                     "metadata.sqlite_path",
                                     "metadata.postgres.url",
                                     "metadata.postgres.max_connections"}) {
    EXPECT_EQ(names.count(expected), 1u) << expected;
  }
}

TEST(ConfigKeys, DefaultTextIsTheDefaultValue) {
  const auto keys = describe_keys();
  auto find = [&](const std::string& name) {
    return std::ranges::find(keys, name, &KeyInfo::name)->default_value;
  };
  EXPECT_EQ(find("listen"), "0.0.0.0:5000");
  EXPECT_EQ(find("http.read_timeout"), "1m");
  EXPECT_EQ(find("http.max_header_bytes"), "64KiB");
  EXPECT_EQ(find("uploads.purge_interval"), "1h");
  EXPECT_EQ(find("stats.flush_interval"), "10s");
  EXPECT_EQ(find("retention.interval"), "10m");
  EXPECT_EQ(find("storage.root"), "");
  EXPECT_EQ(find("uploads.max_size"), "0");
  EXPECT_EQ(find("storage.min_free"), "100MiB");
  EXPECT_EQ(find("ui.enabled"), "true");
  EXPECT_EQ(find("ui.path"), "/");
  EXPECT_EQ(find("ui.session_idle"), "30m");
  EXPECT_EQ(find("ui.session_lifetime"), "12h");
  EXPECT_EQ(find("audit.retention"), "90d");
  EXPECT_EQ(find("audit.file"), "");
  EXPECT_EQ(find("audit.log"), "false");
  // Setting every key to its default text gives back the default config.
  Config config = unusual_config();
  for (const KeyInfo& key : keys) {
    ASSERT_TRUE(set_key(config, key.name, key.default_value)) << key.name;
  }
  EXPECT_EQ(config, Config{});
}

// The same text for one key through YAML, the environment and set_key must give the same
// Config, and (where the key has another legal value) not the default one.
TEST(ConfigKeys, EveryKeyIsReachableFromEverySource) {
  const std::map<std::string, std::string> values = {
      {"listen", "[::1]:0"},
      {"data", "/d"},
      {"log.format", "json"},
      {"log.level", "trace"},
      {"log.access", "false"},
      {"http.io_threads", "3"},
      {"http.blocking_threads", "17"},
      {"http.max_header_bytes", "5000"},
      {"http.max_manifest_bytes", "8MiB"},
      {"http.read_timeout", "1500ms"},
      {"http.write_timeout", "90m"},
      {"http.idle_timeout", "2d"},
      {"http.drain_timeout", "1s"},
      {"http.maintenance_threads", "4"},
      {"http.lookup_threads", "3"},
      {"http.body_min_rate", "100KiB"},
      {"http.max_connections", "100"},
      {"http.trusted_proxies", "127.0.0.1, 10.0.0.0/8"},
      {"uploads.max_age", "7d"},
      {"uploads.purge_interval", "5m"},
      {"uploads.max_size", "10GiB"},
      {"stats.flush_interval", "1m"},
      {"retention.interval", "1h"},
      {"gc.interval", "0s"},
      {"gc.blob_grace", "2h"},
      {"gc.untagged_after", "14d"},
      {"gc.sweep_interval", "1d"},
      {"storage.driver", "s3"},
      {"storage.root", "/r"},
      {"storage.min_free", "1GiB"},
      {"storage.s3.endpoint", "http://127.0.0.1:9002"},
      {"storage.s3.region", "eu-west-1"},
      {"storage.s3.bucket", "berth"},
      {"storage.s3.prefix", "registry/"},
      {"storage.s3.access_key", "AKIDEXAMPLE"},
      {"storage.s3.secret_key", "secret"},
      {"storage.s3.path_style", "true"},
      {"storage.s3.ca_file", "/ca.pem"},
      {"storage.s3.redirect", "true"},
      {"metadata.driver", "postgres"},
      {"metadata.postgres.url", "postgresql://berth@db/berth"},
      {"metadata.postgres.max_connections", "16"},
      {"metadata.sqlite_path", "/s.db"},
      {"auth.enabled", "true"},
      {"auth.htpasswd", "/etc/berth/htpasswd"},
      {"auth.realm", "https://registry.example/token"},
      {"auth.service", "registry.example"},
      {"auth.issuer", "registry.example"},
      {"auth.token_ttl", "15m"},
      {"auth.refresh_token_ttl", "7d"},
      {"auth.signing_key", "/k.pem"},
      {"auth.create_projects_on_push", "users"},
      {"auth.max_login_failures_per_address", "50"},
      {"auth.max_login_failures_per_user", "3"},
      {"auth.login_failure_window", "1h"},
      {"auth.password_hash_threads", "3"},
      {"auth.password_hash_queue", "0"},
      {"auth.cache_sync", "250ms"},
      {"tls.certificate", "/c.pem"},
      {"tls.key", "/k.pem"},
      {"tls.listen", "127.0.0.1:443"},
      {"tls.reload_check", "30s"},
      {"ui.enabled", "false"},
      {"ui.path", "/ui"},
      {"ui.session_idle", "10m"},
      {"ui.session_lifetime", "2h"},
      {"metrics.listen", "127.0.0.1:9090"},
      {"audit.retention", "30d"},
      {"audit.file", "/var/log/berth/audit.jsonl"},
      {"audit.log", "true"},
      {"events.max_attempts", "5"},
      {"events.backoff_base", "1s"},
      {"events.backoff_cap", "10m"},
      {"events.timeout", "3s"},
      {"events.concurrency", "2"},
      {"events.retention", "3d"},
      {"events.poll_interval", "250ms"},
  };
  TempDir dir;
  const auto keys = describe_keys();
  ASSERT_EQ(values.size(), keys.size());
  for (const KeyInfo& key : keys) {
    ASSERT_EQ(values.count(key.name), 1u) << key.name;
    const std::string& value = values.at(key.name);
    std::string nested;
    std::string indent;
    std::string rest = key.name;
    for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
      nested += indent + rest.substr(0, dot) + ":\n";
      indent += "  ";
      rest = rest.substr(dot + 1);
    }
    nested += indent + rest + ": \"" + value + "\"\n";
    auto from_yaml = load_config(dir.write("one.yaml", nested), env_of());
    ASSERT_TRUE(from_yaml) << key.name << ": " << from_yaml.error().message;
    auto from_env = load_config(std::nullopt, env_of({{key.env, value}}));
    ASSERT_TRUE(from_env) << key.name << ": " << from_env.error().message;
    Config from_set;
    ASSERT_TRUE(set_key(from_set, key.name, value)) << key.name;
    EXPECT_EQ(*from_yaml, from_set) << key.name;
    EXPECT_EQ(*from_env, from_set) << key.name;
    if (value != key.default_value) {
      EXPECT_NE(from_set, Config{}) << key.name;
    }
  }
}

}  // namespace
}  // namespace berth::config

namespace berth::config {
namespace {

TEST(ConfigProxies, ListOfProxyProjectsIsReadValidatedAndRendered) {
  TempDir dir;
  const auto file = dir.write("berth.yaml",
                              "proxies:\n"
                              "  - project: hub\n"
                              "    upstream: https://registry-1.docker.io\n"
                              "    username: me\n"
                              "    password: \"p: w\"\n"
                              "    manifest_ttl: 1m\n"
                              "    max_staleness: 2h\n"
                              "    concurrency: 4\n"
                              "    mirror: yes\n"
                              "    token_realms:\n"
                              "      - https://auth.docker.io/token\n"
                              "      - https://login.example.com:8443\n"
                              "  - project: ghcr\n"
                              "    token_realms: https://ghcr.io/token\n"
                              "    upstream: https://ghcr.io\n"
                              "    ca_file: /etc/ca.pem\n"
                              "    overlay: yes\n");
  auto config = load_config(file, env_of());
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->proxies.size(), 2u);
  EXPECT_EQ(config->proxies[0].project, "hub");
  EXPECT_EQ(config->proxies[0].password, "p: w");
  EXPECT_EQ(config->proxies[0].manifest_ttl, std::chrono::minutes(1));
  EXPECT_EQ(config->proxies[0].max_staleness, std::chrono::hours(2));
  EXPECT_EQ(config->proxies[0].concurrency, 4u);
  EXPECT_TRUE(config->proxies[0].mirror);
  EXPECT_FALSE(config->proxies[0].overlay);
  EXPECT_EQ(config->proxies[1].ca_file, "/etc/ca.pem");
  EXPECT_TRUE(config->proxies[1].overlay);
  EXPECT_FALSE(config->proxies[1].mirror);
  EXPECT_EQ(config->proxies[1].manifest_ttl, std::chrono::minutes(5));
  EXPECT_EQ(
      config->proxies[0].token_realms,
      (std::vector<std::string>{"https://auth.docker.io/token", "https://login.example.com:8443"}));
  EXPECT_EQ(config->proxies[1].token_realms, std::vector<std::string>{"https://ghcr.io/token"});
  EXPECT_TRUE(validate(*config));
  // render_yaml loads back to the same config, but for the password it does not show.
  const std::string yaml = render_yaml(*config);
  EXPECT_THAT(yaml, Not(HasSubstr("p: w")));
  const auto shown = dir.write("shown.yaml", yaml);
  auto again = load_config(shown, env_of());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->proxies[0].password, "");
  again->proxies[0].password = "p: w";
  EXPECT_EQ(*again, *config);
}

TEST(ConfigProxies, CredentialsInAnUpstreamUrlAreRefusedWithoutShowingThem) {
  Config config;
  ProxyConfig proxy;
  proxy.project = "hub";
  proxy.upstream = "http://user:hunter2@registry.example.com";
  proxy.token_realms = {"https://user:hunter3@auth.example.com/token", "ftp://auth.example.com"};
  config.proxies.push_back(proxy);
  auto invalid = validate(config);
  ASSERT_FALSE(invalid);
  const std::string& message = invalid.error().message;
  EXPECT_THAT(message, HasSubstr("'http://***@registry.example.com' carries credentials"));
  EXPECT_THAT(message, HasSubstr("username and password"));
  EXPECT_THAT(message, HasSubstr("token_realms takes http:// or https:// URLs without "
                                 "credentials, got 'https://***@auth.example.com/token'"));
  EXPECT_THAT(message, HasSubstr("got 'ftp://auth.example.com'"));
  EXPECT_THAT(message, Not(HasSubstr("hunter")));
}

TEST(ConfigRender, ShowsNoSecret) {
  // As built in code, before validate() would refuse the URLs: config show prints none of it.
  Config config;
  config.auth.realm = "https://robot:hunter1@auth.example.com/token";
  ProxyConfig proxy;
  proxy.project = "hub";
  proxy.upstream = "https://user:hunter2@registry.example.com";
  proxy.username = "user";
  proxy.password = "hunter3";
  proxy.token_realms = {"https://user:hunter4@auth.example.com"};
  config.proxies.push_back(proxy);
  const std::string yaml = render_yaml(config);
  EXPECT_THAT(yaml, Not(HasSubstr("hunter")));
  EXPECT_THAT(yaml, HasSubstr("realm: \"https://***@auth.example.com/token\""));
  EXPECT_THAT(yaml, HasSubstr("# password: set, not shown"));
  auto invalid = validate(config);
  ASSERT_FALSE(invalid);
  EXPECT_THAT(invalid.error().message, HasSubstr("key 'auth.realm'"));
  EXPECT_THAT(invalid.error().message, Not(HasSubstr("hunter")));
}

TEST(ConfigProxies, BadEntriesAreErrorsNamingTheKey) {
  TempDir dir;
  auto unknown =
      load_config(dir.write("a.yaml", "proxies:\n  - project: hub\n    upstrem: x\n"), env_of());
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("proxies.upstrem"), std::string::npos);
  auto bad_duration = load_config(
      dir.write("b.yaml", "proxies:\n  - project: hub\n    manifest_ttl: soon\n"), env_of());
  ASSERT_FALSE(bad_duration);
  EXPECT_NE(bad_duration.error().message.find("proxies.manifest_ttl"), std::string::npos);

  Config config;
  auto proxy = [](std::string project, std::string upstream) {
    ProxyConfig made;
    made.project = std::move(project);
    made.upstream = std::move(upstream);
    return made;
  };
  config.proxies.push_back(proxy("a/b", "ftp://x"));
  config.proxies.push_back(proxy("hub", "https://x"));
  config.proxies.push_back(proxy("hub", "https://y"));
  auto invalid = validate(config);
  ASSERT_FALSE(invalid);
  EXPECT_NE(invalid.error().message.find("one repository-name component"), std::string::npos);
  EXPECT_NE(invalid.error().message.find("http:// or https://"), std::string::npos);
  EXPECT_NE(invalid.error().message.find("proxied twice"), std::string::npos);
}

}  // namespace
}  // namespace berth::config
