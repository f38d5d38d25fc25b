// The configuration schema as one table. Each row is a key: its dotted name, what it means,
// and a typed codec that turns text into the Config field and back. Every source goes
// through the same rows: describe_keys() lists them, set_key() and the environment pass
// look them up by name, the YAML pass flattens nested maps into dotted names and looks
// them up too, render_yaml() prints them and validate() runs their rules. So a key cannot
// exist in one source and be missing from another, and its default text is printed from
// the default Config rather than written down twice.
#include "config/config.hpp"

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

#include "config/config_keys.hpp"
#include "config/webhooks_config.hpp"
#include "config/yaml_loader.hpp"
#include "core/names.hpp"
#include "core/url_credentials.hpp"

namespace berth::config {
namespace {

using detail::bool_codec;
using detail::byte_size_codec;
using detail::count_codec;
using detail::duration_codec;
using detail::fail;
using detail::find_key;
using detail::is_alpha;
using detail::is_digit;
using detail::Key;
using detail::keys;
using detail::load_yaml;
using detail::quote;
using detail::unknown_key;

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
    BERTH_TRY(load_yaml(config, *text, file->string()));
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
  detail::check_webhooks(config, also);
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
  out += detail::render_webhooks(config, yaml_scalar);
  return out;
}

}  // namespace berth::config
