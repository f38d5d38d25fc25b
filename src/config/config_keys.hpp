// The configuration schema as one table (see config.cpp): each row a Key with its dotted name,
// its BERTH_* variable, what it means, and its codec bound to the Config field. Internal to
// config/.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/config_codecs.hpp"

namespace berth::config::detail {

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

std::string env_name(std::string_view name);

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

const std::vector<std::string>& log_formats();

const std::vector<std::string>& log_levels();

// A key whose value is a credential: `config show` prints it redacted.
Key secret(Key key);

const std::vector<Key>& keys();

const Key* find_key(std::string_view name);

// True if `name` is a proper prefix section of some key, like "http" for "http.read_timeout".
bool is_section(std::string_view name);

// "unknown key 'htp.read_timeout' (did you mean 'http.read_timeout'?)": typos are the usual
// cause, and the nearest name is what the human wants to see.
std::string unknown_key(std::string_view name);

// The YAML pass. Nested maps become dotted names; each leaf is handed to its key's setter as
// the scalar's text, so YAML's own typing (is "yes" a bool? is 010 octal?) never matters.

}  // namespace berth::config::detail
