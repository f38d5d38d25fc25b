#include "core/image_config.hpp"

#include <boost/json.hpp>

namespace berth::core {

namespace json = boost::json;

namespace {

std::optional<std::string> string_of(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return std::nullopt;
  }
  return std::string(v->get_string());
}

std::optional<std::vector<std::string>> strings_of(const json::object& object,
                                                   std::string_view key) {
  const json::value* v = object.if_contains(key);
  if (v == nullptr || !v->is_array()) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : v->get_array()) {
    if (item.is_string()) {
      out.emplace_back(item.get_string());
    }
  }
  return out;
}

void read_runtime(const json::object& config, ImageConfig& out) {
  out.env = strings_of(config, "Env").value_or(std::vector<std::string>{});
  out.entrypoint = strings_of(config, "Entrypoint");
  out.cmd = strings_of(config, "Cmd");
  out.working_dir = string_of(config, "WorkingDir");
  out.user = string_of(config, "User");
  if (const auto* labels = config.if_contains("Labels"); labels != nullptr && labels->is_object()) {
    for (const auto& [key, value] : labels->get_object()) {
      if (value.is_string()) {
        out.labels.emplace(std::string(key), std::string(value.get_string()));
      }
    }
  }
}

void read_history(const json::object& root, ImageConfig& out) {
  const auto* history = root.if_contains("history");
  if (history == nullptr || !history->is_array()) {
    return;
  }
  for (const auto& item : history->get_array()) {
    if (!item.is_object()) {
      continue;
    }
    const auto& entry = item.get_object();
    const auto* empty = entry.if_contains("empty_layer");
    out.history.push_back(HistoryEntry{
        .created = string_of(entry, "created"),
        .created_by = string_of(entry, "created_by").value_or(""),
        .empty_layer = empty != nullptr && empty->is_bool() && empty->get_bool(),
        .comment = string_of(entry, "comment"),
    });
  }
}

}  // namespace

bool is_image_config_media_type(std::string_view media_type) {
  return media_type == "application/vnd.oci.image.config.v1+json" ||
         media_type == "application/vnd.docker.container.image.v1+json";
}

Result<ImageConfig> parse_image_config(std::string_view bytes) {
  boost::system::error_code ec;
  auto value = json::parse(bytes, ec);
  if (ec || !value.is_object()) {
    return fail(ErrorCode::kManifestInvalid, "the image config is not a JSON object");
  }
  const auto& root = value.get_object();
  ImageConfig out;
  out.platform =
      Platform{string_of(root, "os").value_or(""), string_of(root, "architecture").value_or(""),
               string_of(root, "variant").value_or("")};
  out.created = string_of(root, "created");
  if (const auto* config = root.if_contains("config"); config != nullptr && config->is_object()) {
    read_runtime(config->get_object(), out);
  }
  read_history(root, out);
  return out;
}

}  // namespace berth::core
