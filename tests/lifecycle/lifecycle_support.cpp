// Helpers of the lifecycle black-box tests (see lifecycle_support.hpp).
#include "lifecycle_support.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "auth_support.hpp"
#include "data_dir_query.hpp"

namespace berth::testing::lifecycle {

namespace json = boost::json;

namespace {

// A short, single-line account of a response for messages.
std::string brief(const HttpResponse& response) {
  std::string text = describe(response).substr(0, 400);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

HttpResponse expect_status(HttpResponse response, unsigned status, std::string_view what) {
  if (response.status != status) {
    throw std::runtime_error(std::string(what) + " answered " + brief(response));
  }
  return response;
}

std::string project_path(std::string_view project, std::string_view rest) {
  return "/api/v1/projects/" + std::string(project) + "/" + std::string(rest);
}

const HttpHeaders& json_content() {
  static const HttpHeaders headers = {{"Content-Type", "application/json"}};
  return headers;
}

// Runs `sql` on <data>/berth.db (waiting for the server's locks); the rows changed.
int run_sql(const fs::path& data, const std::string& sql) {
  sqlite3* db = nullptr;
  const auto path = (data / "berth.db").string();
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 30000);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const int changed = sqlite3_changes(db);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  if (rc != SQLITE_OK) {
    throw std::runtime_error(sql + " on " + path + ": " + message);
  }
  return changed;
}

}  // namespace

json::object json_object(std::string_view body) {
  auto value = authtest::json_of(body);
  if (!value.is_object()) {
    throw std::runtime_error("not a JSON object: " + std::string(body));
  }
  return std::move(value.as_object());
}

// ---------------------------------------------------------------------------- admin API

HttpResponse AdminApi::put_settings(std::string_view project, std::string_view settings) {
  return http_.put(project_path(project, "settings"), settings, json_content());
}

Usage AdminApi::usage(std::string_view project) {
  const auto response = expect_status(http_.get(project_path(project, "usage")), 200, "GET usage");
  const auto body = json_object(response.body);
  return Usage{body.at("bytes").to_number<std::uint64_t>(),
               body.at("repositories").to_number<std::uint64_t>()};
}

json::object AdminApi::preview(std::string_view project) {
  return json_object(expect_status(http_.get(project_path(project, "retention/preview")), 200,
                                   "GET retention/preview")
                         .body);
}

json::object AdminApi::preview(std::string_view project, std::string_view policy) {
  return json_object(
      expect_status(http_.post(project_path(project, "retention/preview"), policy, json_content()),
                    200, "POST retention/preview")
          .body);
}

json::object AdminApi::run_retention(std::string_view project) {
  return json_object(
      expect_status(http_.post(project_path(project, "retention/run"), "", json_content()), 200,
                    "POST retention/run")
          .body);
}

HttpResponse AdminApi::try_gc(bool dry_run) {
  return http_.post("/api/v1/gc", dry_run ? R"({"dry_run":true})" : R"({"dry_run":false})",
                    json_content());
}

json::object AdminApi::gc(bool dry_run) {
  HttpResponse response;
  const bool done = eventually(
      [&] {
        response = try_gc(dry_run);
        return response.status != 409;
      },
      60s);
  if (!done) {
    throw std::runtime_error("POST /api/v1/gc kept answering 409");
  }
  return json_object(expect_status(std::move(response), 200, "POST /api/v1/gc").body);
}

std::vector<std::string> removed_items(const json::object& report) {
  std::vector<std::string> items;
  for (const auto& item : report.at("removed").as_array()) {
    const auto& object = item.as_object();
    std::string line(object.at("kind").as_string());
    line += " ";
    if (const auto* repository = object.if_contains("repository")) {
      line += std::string(repository->as_string()) + "@";
    }
    line += std::string(object.at("digest").as_string());
    items.push_back(std::move(line));
  }
  return items;
}

// ---------------------------------------------------------------------------- commands

CommandResult berth_on(const fs::path& data, std::vector<std::string> args) {
  args.push_back("--data");
  args.push_back(data.string());
  return run_berth(args);
}

json::object gc_on(const fs::path& data, std::vector<std::string> args) {
  args.insert(args.begin(), {"gc", "--json"});
  CommandResult result;
  const bool done = eventually(
      [&] {
        result = berth_on(data, args);
        return result.status != 75;
      },
      60s);
  if (!done || result.status != 0) {
    throw std::runtime_error("berth gc exited " + std::to_string(result.status) +
                             "\nstdout: " + result.out + "\nstderr: " + result.err);
  }
  return json_object(result.out);
}

// ---------------------------------------------------------------------------- disk

std::map<std::string, std::uint64_t> blob_files(const fs::path& data) {
  std::map<std::string, std::uint64_t> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(data / "blobs", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) {
      continue;
    }
    // blobs/<algorithm>/<xx>/<hex>
    const auto algorithm = it->path().parent_path().parent_path().filename().string();
    std::error_code size_ec;
    const auto size = fs::file_size(it->path(), size_ec);
    if (!size_ec) {
      files[algorithm + ":" + it->path().filename().string()] = size;
    }
  }
  return files;
}

bool expire_gc_lease(const fs::path& data) {
  return run_sql(data, "UPDATE leases SET expires_at = 0 WHERE name = 'gc'") > 0;
}

void leave_tombstone_of_a_killed_collector(const fs::path& data, std::string_view digest) {
  const std::string quoted = "'" + std::string(digest) + "'";
  run_sql(data,
          "BEGIN IMMEDIATE;"
          "INSERT INTO leases (name, holder, expires_at) VALUES ('gc', 'killed-collector', "
          "4102444800000) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
          "expires_at = excluded.expires_at;"
          "DELETE FROM blobs WHERE digest = " +
              quoted +
              ";"
              "INSERT INTO blob_tombstones (digest, created_at) VALUES (" +
              quoted +
              ", 0);"
              "COMMIT;");
}

bool try_hold_gc_lease(const fs::path& data, std::string_view holder, std::chrono::seconds ttl) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto expires = now + std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  const std::string quoted = "'" + std::string(holder) + "'";
  return run_sql(data, "INSERT INTO leases (name, holder, expires_at) VALUES ('gc', " + quoted +
                           ", " + std::to_string(expires) +
                           ") ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                           "expires_at = excluded.expires_at WHERE leases.holder = excluded.holder "
                           "OR leases.expires_at <= " +
                           std::to_string(now)) > 0;
}

void release_gc_lease(const fs::path& data, std::string_view holder) {
  run_sql(data, "DELETE FROM leases WHERE name = 'gc' AND holder = '" + std::string(holder) + "'");
}

bool gc_lease_row_exists(const fs::path& data) {
  // An update that changes nothing still counts the row it matched.
  return run_sql(data, "UPDATE leases SET holder = holder WHERE name = 'gc'") > 0;
}

std::size_t tombstone_count(const fs::path& data) {
  return static_cast<std::size_t>(query_number(data, "SELECT count(*) FROM blob_tombstones"));
}

// ---------------------------------------------------------------------------- images

PushedBlob new_layer(std::size_t size) {
  PushedBlob layer;
  layer.bytes = random_bytes(size);
  layer.digest = sha256_digest(layer.bytes);
  return layer;
}

PushedImage push_image_of(RegistryClient& registry, std::string_view repo, std::string_view tag,
                          std::vector<PushedBlob> layers, bool upload_layers) {
  PushedImage image;
  image.media_type = std::string(media_types::kOciManifest);
  image.config.bytes = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},)"
                       R"("config":{"Labels":{"berth.lifecycle":")" +
                       random_token(16) + R"("}}})";
  image.config.digest = registry.push_blob(repo, image.config.bytes);
  std::vector<Descriptor> descriptors;
  for (const auto& layer : layers) {
    if (upload_layers) {
      registry.push_blob(repo, layer.bytes);
    }
    descriptors.push_back(describe(media_types::kOciLayer, layer.bytes));
  }
  image.layers = std::move(layers);
  image.manifest =
      make_image_manifest(describe(media_types::kOciConfig, image.config.bytes), descriptors);
  const std::string digest = sha256_digest(image.manifest);
  image.digest = registry.push_manifest(repo, tag.empty() ? std::string_view(digest) : tag,
                                        image.manifest, image.media_type);
  image.descriptor = describe(image.media_type, image.manifest);
  return image;
}

PushedIndex push_index(RegistryClient& registry, std::string_view repo, std::string_view tag,
                       std::size_t children, std::size_t layer_size) {
  static constexpr const char* kArchitectures[] = {"amd64", "arm64", "s390x", "ppc64le"};
  PushedIndex index;
  std::vector<Descriptor> descriptors;
  for (std::size_t i = 0; i < children; ++i) {
    auto child = push_image_of(registry, repo, "", {new_layer(layer_size)}, true);
    auto descriptor = child.descriptor;
    descriptor.platform_os = "linux";
    descriptor.platform_architecture = kArchitectures[i % std::size(kArchitectures)];
    descriptors.push_back(std::move(descriptor));
    index.children.push_back(std::move(child));
  }
  index.manifest =
      make_index(descriptors, ManifestOptions().with_media_type(media_types::kOciIndex));
  index.digest = registry.push_manifest(repo, tag, index.manifest, media_types::kOciIndex);
  return index;
}

std::map<std::string, std::uint64_t> push_blobs(std::uint16_t port, const std::string& repo,
                                                std::size_t count, std::size_t size,
                                                std::size_t threads) {
  std::map<std::string, std::uint64_t> pushed;
  std::mutex mutex;
  std::exception_ptr failure;
  std::vector<std::thread> pushers;
  for (std::size_t t = 0; t < threads; ++t) {
    pushers.emplace_back([&, t] {
      try {
        RegistryClient registry("127.0.0.1", port);
        for (std::size_t i = t; i < count; i += threads) {
          const auto bytes = random_bytes(size);
          const auto digest = registry.push_blob(repo, bytes);
          std::lock_guard lock(mutex);
          pushed[digest] = bytes.size();
        }
      } catch (...) {
        std::lock_guard lock(mutex);
        failure = std::current_exception();
      }
    });
  }
  for (auto& pusher : pushers) {
    pusher.join();
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  return pushed;
}

std::map<std::string, std::uint64_t> stored_digests(const PushedImage& image) {
  std::map<std::string, std::uint64_t> digests;
  digests[image.config.digest] = image.config.bytes.size();
  for (const auto& layer : image.layers) {
    digests[layer.digest] = layer.bytes.size();
  }
  digests[image.digest] = image.manifest.size();
  return digests;
}

std::uint64_t total_size(const std::map<std::string, std::uint64_t>& digests) {
  std::uint64_t total = 0;
  for (const auto& [digest, size] : digests) {
    total += size;
  }
  return total;
}

Usage expected_usage(HttpClient& http, const std::vector<std::string>& repos,
                     const std::map<std::string, std::uint64_t>& candidates) {
  Usage usage;
  std::set<std::string> linked;
  for (const auto& repo : repos) {
    bool holds_any = false;
    for (const auto& [digest, size] : candidates) {
      const auto response = http.head("/v2/" + repo + "/blobs/" + digest);
      if (response.status != 200 && response.status != 404) {
        throw std::runtime_error("HEAD " + repo + "@" + digest + " answered " + brief(response));
      }
      if (response.status == 200) {
        holds_any = true;
        if (linked.insert(digest).second) {
          usage.bytes += size;
        }
      }
    }
    usage.repositories += holds_any ? 1 : 0;
  }
  return usage;
}

std::string image_problem(RegistryClient& registry, std::string_view repo,
                          std::string_view reference, const PushedImage& image) {
  const std::string where = std::string(repo) + ":" + std::string(reference);
  const auto manifest = registry.get_manifest(repo, reference);
  if (manifest.status != 200) {
    return "manifest " + where + " answered " + brief(manifest);
  }
  if (manifest.body != image.manifest) {
    return "manifest " + where + " reads back other bytes than " + image.digest;
  }
  std::vector<const PushedBlob*> blobs = {&image.config};
  for (const auto& layer : image.layers) {
    blobs.push_back(&layer);
  }
  for (const auto* blob : blobs) {
    const auto response =
        registry.http().get("/v2/" + std::string(repo) + "/blobs/" + blob->digest);
    if (response.status != 200) {
      return "blob " + blob->digest + " of " + where + " answered " + brief(response);
    }
    if (response.body != blob->bytes) {
      return "blob " + blob->digest + " of " + where + " reads back other bytes";
    }
  }
  return "";
}

}  // namespace berth::testing::lifecycle
