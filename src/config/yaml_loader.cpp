#include "config/yaml_loader.hpp"

#include <yaml-cpp/yaml.h>

#include <map>

#include "config/config_keys.hpp"

namespace berth::config::detail {
namespace {

// Whether the quoted scalar starting at `mark` ends past its line. No key takes text over
// several lines, and a missing closing quote makes YAML read the keys below into the value
// (reported as whatever that key's codec says about the mess), so this is the clearer error.
bool quote_runs_past_line(const std::string& text, const YAML::Mark& mark) {
  if (mark.is_null() || mark.pos < 0 || static_cast<std::size_t>(mark.pos) >= text.size()) {
    return false;
  }
  const char quote = text[static_cast<std::size_t>(mark.pos)];
  if (quote != '"' && quote != '\'') {
    return false;
  }
  for (std::size_t i = static_cast<std::size_t>(mark.pos) + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      return true;
    }
    if (quote == '"' && c == '\\') {
      ++i;  // an escape: the next character cannot close the string
    } else if (c == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside single quotes
      } else {
        return false;
      }
    }
  }
  return true;
}

class YamlLoader {
 public:
  YamlLoader(Config& config, std::string file) : config_(config), file_(std::move(file)) {}

  Result<void> load(const std::string& text) {
    text_ = &text;
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
      if (name == "webhooks") {
        if (auto result = webhooks(value); !result) {
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
    if (auto unclosed = unclosed_quote(value)) {
      return error(value.Mark(), where + *unclosed);
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
        if (auto unclosed = unclosed_quote(value)) {
          return error(value.Mark(), "key 'proxies." + field + "': " + *unclosed);
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

  // webhooks: a list of maps, one per global endpoint (config.hpp, WebhookConfig), read as
  // proxies are.
  Result<void> webhooks(const YAML::Node& list) {
    if (list.IsNull()) {
      return {};
    }
    if (!list.IsSequence()) {
      return error(list.Mark(),
                   "key 'webhooks': expected a list of endpoints, got a " + kind(list));
    }
    for (const auto& item : list) {
      if (!item.IsMap()) {
        return error(item.Mark(),
                     "key 'webhooks': expected a map per endpoint, got a " + kind(item));
      }
      WebhookConfig hook;
      for (const auto& entry : item) {
        const std::string field = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
        const YAML::Node& value = entry.second;
        const std::string where = "key 'webhooks." + field + "': ";
        if (field == "events") {
          if (auto result = scalars(value, where, hook.events); !result) {
            return result;
          }
          continue;
        }
        if (!value.IsScalar() && !value.IsNull()) {
          return error(value.Mark(), where + "expected a value, got a " + kind(value));
        }
        if (auto unclosed = unclosed_quote(value)) {
          return error(value.Mark(), where + *unclosed);
        }
        const std::string text = value.IsScalar() ? value.Scalar() : std::string();
        if (field == "url") {
          hook.url = text;
        } else if (field == "secret") {
          hook.secret = text;
        } else if (field == "format") {
          hook.format = text;
        } else if (field == "timeout") {
          auto parsed = duration_codec().parse(text);
          if (!parsed) {
            return error(value.Mark(), where + parsed.error());
          }
          hook.timeout = *parsed;
        } else {
          return error(entry.first.Mark(),
                       "unknown key " + quote("webhooks." + field) +
                           " (webhook keys: url, secret, events, format, timeout)");
        }
      }
      config_.webhooks.push_back(std::move(hook));
    }
    return {};
  }

  // A list of words ([push, delete]), or one word alone.
  Result<void> scalars(const YAML::Node& value, const std::string& where,
                       std::vector<std::string>& out) {
    if (value.IsScalar()) {
      out.push_back(value.Scalar());
      return {};
    }
    if (!value.IsSequence()) {
      return error(value.Mark(), where + "expected a list, got a " + kind(value));
    }
    for (const auto& word : value) {
      if (!word.IsScalar()) {
        return error(word.Mark(), where + "expected a word, got a " + kind(word));
      }
      out.push_back(word.Scalar());
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

  std::optional<std::string> unclosed_quote(const YAML::Node& value) const {
    if (text_ == nullptr || !value.IsScalar() || !quote_runs_past_line(*text_, value.Mark())) {
      return std::nullopt;
    }
    return "the quoted value does not end on its line: is its closing quote missing?";
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
  // The YAML being loaded, for quote_runs_past_line.
  const std::string* text_ = nullptr;
  // Flattened name → 0-based line where it was first set, to refuse a key given twice
  // (once nested and once dotted, or a repeated YAML key).
  std::map<std::string, int> first_line_;
};

}  // namespace

Result<void> load_yaml(Config& config, const std::string& text, std::string file) {
  YamlLoader loader(config, std::move(file));
  return loader.load(text);
}

}  // namespace berth::config::detail
