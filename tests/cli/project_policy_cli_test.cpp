// `berth project settings | usage | tags | retention` against the data directory of a berth that
// is serving (open mode, so pushes need no credentials): what the commands print, that the
// server honours settings changed on the command line at the next push, that the commands and
// the admin API show the same JSON, and what a retention run deletes.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "berth_process.hpp"
#include "registry_client.hpp"

namespace berth::testing {
namespace {

namespace json = boost::json;

#define EXPECT_COMMAND_OK(result) \
  EXPECT_EQ((result).status, 0) << "stdout: " << (result).out << "\nstderr: " << (result).err

class ProjectPolicyCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Pull statistics are written every flush interval: short, so a test sees them soon.
    BerthOptions options;
    options.env["BERTH_STATS_FLUSH_INTERVAL"] = "100ms";
    server_ = std::make_unique<BerthProcess>(options);
    registry_ = std::make_unique<RegistryClient>("127.0.0.1", server_->port());
  }

  CommandResult berth(std::vector<std::string> args, std::string_view input = {}) {
    args.push_back("--data");
    args.push_back(server_->data().string());
    return run_berth(args, input);
  }

  // A file in the test's scratch directory.
  std::string write_file(const std::string& name, const std::string& text) {
    const auto path = scratch_.path() / name;
    std::ofstream(path) << text;
    return path.string();
  }

  // The admin API's answer, which must be 200.
  std::string admin_get(const std::string& path) {
    auto response = registry_->http().get(path);
    EXPECT_EQ(response.status, 200u) << describe(response);
    return response.body;
  }

  // PUT of a manifest naming blobs already pushed, with its answer.
  HttpResponse put_manifest(const std::string& repo, const std::string& tag,
                            const std::string& layer_bytes) {
    const std::string config = random_bytes(64);
    registry_->push_blob(repo, config);
    registry_->push_blob(repo, layer_bytes);
    const auto manifest = make_image_manifest(describe(media_types::kOciConfig, config),
                                              {describe(media_types::kOciLayer, layer_bytes)});
    return registry_->http().put("/v2/" + repo + "/manifests/" + tag, manifest,
                                 {{"Content-Type", std::string(media_types::kOciManifest)}});
  }

  // A monolithic blob upload (POST ?digest= with the bytes), with its answer.
  HttpResponse upload(const std::string& repo, const std::string& bytes) {
    return registry_->http().post("/v2/" + repo + "/blobs/uploads/?digest=" + sha256_digest(bytes),
                                  bytes, {{"Content-Type", "application/octet-stream"}});
  }

  static void expect_denied(const HttpResponse& response) {
    EXPECT_EQ(response.status, 403u) << describe(response);
    EXPECT_EQ(error_code(response), "DENIED") << describe(response);
  }

  static json::object object_of(const std::string& text) { return json::parse(text).as_object(); }

  static std::uint64_t image_bytes(const PushedImage& image) {
    std::uint64_t bytes = image.config.bytes.size() + image.manifest.size();
    for (const auto& layer : image.layers) {
      bytes += layer.bytes.size();
    }
    return bytes;
  }

  TempDir scratch_;
  std::unique_ptr<BerthProcess> server_;
  std::unique_ptr<RegistryClient> registry_;
};

TEST_F(ProjectPolicyCliTest, SettingsSetOnTheCommandLineGovernTheNextPush) {
  const auto first = registry_->push_image("ci/app", "1.0", ImageOptions().with_layers(1));

  const auto set = berth({"project", "settings", "set", "ci", "--immutable", "1.*", "--immutable",
                          "release-*", "--quota-repositories", "1"});
  EXPECT_COMMAND_OK(set);
  EXPECT_NE(set.out.find(R"("immutable_tags": ["1.*", "release-*"])"), std::string::npos)
      << set.out;
  // The command line and the admin API show the same settings, to the byte.
  const auto shown = berth({"project", "settings", "show", "ci", "--json"});
  EXPECT_COMMAND_OK(shown);
  EXPECT_EQ(shown.out,
            R"({"immutable_tags":["1.*","release-*"],"quota":{"bytes":null,"repositories":1},)"
            R"("retention":null})"
            "\n");
  EXPECT_EQ(shown.out, admin_get("/api/v1/projects/ci/settings") + "\n");

  // An immutable tag may not be pushed over; other tags may.
  const auto over = put_manifest("ci/app", "1.0", random_bytes(128));
  expect_denied(over);
  EXPECT_NE(over.body.find("immutable"), std::string::npos) << over.body;
  EXPECT_EQ(registry_->get_manifest("ci/app", "1.0").body, first.manifest);
  EXPECT_EQ(put_manifest("ci/app", "2.0", random_bytes(128)).status, 201u);
  // One repository at most: a second one is refused when its first blob comes.
  expect_denied(upload("ci/other", random_bytes(64)));

  // A flag changes only its key.
  EXPECT_COMMAND_OK(berth({"project", "settings", "set", "ci", "--quota-repositories", "none"}));
  const auto after_flag = object_of(berth({"project", "settings", "show", "ci", "--json"}).out);
  EXPECT_EQ(after_flag.at("immutable_tags").as_array().size(), 2u);
  EXPECT_TRUE(after_flag.at("quota").at("repositories").is_null());

  // A file replaces the settings whole: the patterns are gone, and 1.0 may move.
  const auto file = write_file("ci.json", R"({"quota": {"bytes": 1073741824}})");
  const auto replaced = berth({"project", "settings", "set", "ci", file, "--json"});
  EXPECT_COMMAND_OK(replaced);
  EXPECT_EQ(replaced.out,
            R"({"immutable_tags":[],"quota":{"bytes":1073741824,"repositories":null},)"
            R"("retention":null})"
            "\n");
  EXPECT_EQ(put_manifest("ci/app", "1.0", random_bytes(128)).status, 201u);

  // From stdin, with a flag on top; the output is the settings show prints, and parses back.
  const auto from_stdin = berth({"project", "settings", "set", "ci", "-", "--quota-bytes", "10GiB"},
                                R"({"immutable_tags": ["v*"]})");
  EXPECT_COMMAND_OK(from_stdin);
  EXPECT_EQ(from_stdin.out, berth({"project", "settings", "show", "ci"}).out);
  const auto parsed = object_of(from_stdin.out);
  EXPECT_EQ(parsed.at("quota").at("bytes").as_int64(), std::int64_t{10} << 30);
  EXPECT_EQ(parsed.at("immutable_tags").as_array(), json::array({"v*"}));
}

TEST_F(ProjectPolicyCliTest, UsageCountsEachBlobOnceAndQuotaBytesRefuseAPush) {
  const auto image = registry_->push_image("team/web", "1", ImageOptions().with_layers(2));
  // The same layers again in a second repository (by mount): counted once.
  for (const auto& layer : image.layers) {
    const auto mount = registry_->http().post(
        "/v2/team/api/blobs/uploads/?mount=" + layer.digest + "&from=team/web", "");
    ASSERT_EQ(mount.status, 201u) << describe(mount);
  }
  const std::uint64_t bytes = image_bytes(image);

  const auto usage = berth({"project", "usage", "team", "--json"});
  EXPECT_COMMAND_OK(usage);
  EXPECT_EQ(usage.out, admin_get("/api/v1/projects/team/usage") + "\n");
  const auto figures = object_of(usage.out);
  EXPECT_EQ(figures.at("bytes").as_int64(), static_cast<std::int64_t>(bytes));
  EXPECT_EQ(figures.at("repositories").as_int64(), 2);

  // A quota just above the usage: the next blob that would pass it is refused at upload start.
  EXPECT_COMMAND_OK(
      berth({"project", "settings", "set", "team", "--quota-bytes", std::to_string(bytes + 100)}));
  const auto text = berth({"project", "usage", "team"});
  EXPECT_COMMAND_OK(text);
  EXPECT_NE(text.out.find("bytes         " + std::to_string(bytes) + " bytes ("), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("quota " + std::to_string(bytes + 100) + " bytes"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("repositories  2\tno quota"), std::string::npos) << text.out;
  const auto refused = upload("team/web", random_bytes(4096));
  expect_denied(refused);
  EXPECT_NE(refused.body.find("would exceed the quota by 3996 bytes"), std::string::npos)
      << refused.body;
  EXPECT_EQ(object_of(berth({"project", "usage", "team", "--json"}).out).at("bytes").as_int64(),
            static_cast<std::int64_t>(bytes));
}

TEST_F(ProjectPolicyCliTest, RetentionIsPreviewedStoredEnabledAndRun) {
  std::vector<PushedImage> images;
  for (int i = 1; i <= 5; ++i) {
    images.push_back(registry_->push_image("cache/app", "t" + std::to_string(i),
                                           ImageOptions().with_layers(1).with_layer_size(1000)));
  }
  const auto policy = write_file("keep3.json", R"({"rules": {"keep_last": 3}})");

  // No policy stored yet: only --policy previews.
  const auto none = berth({"project", "retention", "preview", "cache"});
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.err.find("project cache has no retention policy"), std::string::npos) << none.err;
  const auto tried = berth({"project", "retention", "preview", "cache", "--policy", policy});
  EXPECT_COMMAND_OK(tried);
  EXPECT_NE(tried.out.find("tag       cache/app:t1  pushed 20"), std::string::npos) << tried.out;
  EXPECT_NE(tried.out.find("tag       cache/app:t2  pushed 20"), std::string::npos) << tried.out;
  EXPECT_NE(tried.out.find("(keep_last)"), std::string::npos) << tried.out;
  EXPECT_NE(tried.out.find("manifest  cache/app@" + images[0].digest), std::string::npos);
  EXPECT_NE(tried.out.find("manifest  cache/app@" + images[1].digest), std::string::npos);
  const std::uint64_t freed = image_bytes(images[0]) + image_bytes(images[1]);
  EXPECT_NE(tried.out.find("the policy would delete 2 tags and 2 manifests of project cache, "
                           "freeing " +
                           std::to_string(freed) + " bytes"),
            std::string::npos)
      << tried.out;
  EXPECT_EQ(registry_->list_tags("cache/app").size(), 5u) << "a preview deleted something";

  // Stored (disabled, as written), the stored policy previews the same as the API's preview.
  EXPECT_COMMAND_OK(berth({"project", "settings", "set", "cache", "--retention", policy}));
  const auto stored = berth({"project", "retention", "preview", "cache", "--json"});
  EXPECT_COMMAND_OK(stored);
  auto cli_plan = object_of(stored.out);
  auto api_plan = object_of(admin_get("/api/v1/projects/cache/retention/preview"));
  cli_plan.erase("now");
  api_plan.erase("now");
  EXPECT_EQ(cli_plan, api_plan);
  EXPECT_EQ(cli_plan.at("freed_bytes").as_int64(), static_cast<std::int64_t>(freed));

  EXPECT_FALSE(object_of(berth({"project", "settings", "show", "cache", "--json"}).out)
                   .at("retention")
                   .at("enabled")
                   .as_bool());
  const auto enabled = berth({"project", "retention", "enable", "cache"});
  EXPECT_COMMAND_OK(enabled);
  EXPECT_EQ(enabled.out, "the retention policy of project cache is enabled: it runs every 1d\n");
  const auto settings = object_of(berth({"project", "settings", "show", "cache", "--json"}).out);
  EXPECT_TRUE(settings.at("retention").at("enabled").as_bool());
  EXPECT_EQ(settings.at("retention").at("rules").at("keep_last").as_int64(), 3);

  const std::int64_t usage_before =
      object_of(berth({"project", "usage", "cache", "--json"}).out).at("bytes").as_int64();
  const auto run = berth({"project", "retention", "run", "cache"});
  EXPECT_COMMAND_OK(run);
  EXPECT_NE(run.out.find("deleted 2 tags and 2 manifests of project cache (0 skipped"),
            std::string::npos)
      << run.out;
  EXPECT_EQ(registry_->list_tags("cache/app"), (std::vector<std::string>{"t3", "t4", "t5"}));
  EXPECT_EQ(registry_->get_manifest("cache/app", images[0].digest).status, 404u);
  EXPECT_EQ(registry_->get_manifest("cache/app", images[1].digest).status, 404u);
  for (std::size_t i = 2; i < images.size(); ++i) {
    registry_->verify_image("cache/app", images[i]);
  }

  // Once garbage collection has removed what nothing references, the usage is down by exactly
  // the bytes the plan said.
  const auto gc = berth({"gc", "--grace", "0"});
  EXPECT_COMMAND_OK(gc);
  EXPECT_EQ(object_of(berth({"project", "usage", "cache", "--json"}).out).at("bytes").as_int64(),
            usage_before - static_cast<std::int64_t>(freed));

  // Nothing more to do; disabled, it still runs when asked.
  EXPECT_COMMAND_OK(berth({"project", "retention", "disable", "cache"}));
  const auto again = berth({"project", "retention", "run", "cache", "--json"});
  EXPECT_COMMAND_OK(again);
  EXPECT_EQ(object_of(again.out).at("deleted_tags").as_int64(), 0);
}

TEST_F(ProjectPolicyCliTest, TagsShowPullStatistics) {
  const auto image = registry_->push_image("stats/app", "1", ImageOptions().with_layers(1));
  registry_->push_image("stats/app", "2", ImageOptions().with_layers(1));
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(registry_->get_manifest("stats/app", "1").status, 200u);
  }
  ASSERT_EQ(registry_->get_manifest("stats/app", image.digest).status, 200u);

  // Written in batches: wait for the server's next flush.
  json::array tags;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    const auto listed = berth({"project", "tags", "stats", "--json"});
    ASSERT_EQ(listed.status, 0) << listed.err;
    tags = json::parse(listed.out).as_array();
    ASSERT_EQ(tags.size(), 2u) << listed.out;
    if (tags[0].at("pull_count").as_int64() == 3) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  const auto& pulled = tags[0].as_object();
  EXPECT_EQ(pulled.at("tag").as_string(), "1");
  EXPECT_EQ(pulled.at("digest").as_string(), image.digest);
  EXPECT_EQ(pulled.at("pull_count").as_int64(), 3);      // by tag and by digest
  EXPECT_EQ(pulled.at("tag_pull_count").as_int64(), 2);  // by this tag
  EXPECT_TRUE(pulled.at("last_pulled").is_int64());
  EXPECT_GE(pulled.at("last_pulled").as_int64(), pulled.at("pushed").as_int64());
  EXPECT_TRUE(tags[1].at("last_pulled").is_null());

  const auto text = berth({"project", "tags", "stats"});
  EXPECT_COMMAND_OK(text);
  EXPECT_EQ(text.out.substr(0, text.out.find('\n')),
            "TAG          PUSHED                LAST PULLED            PULLS  BY TAG  DIGEST");
  EXPECT_NE(text.out.find("\nstats/app:1  20"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("      3       2  " + image.digest + "\n"), std::string::npos)
      << text.out;
}

TEST_F(ProjectPolicyCliTest, CommandsRefuseBadInputAndChangeNothing) {
  registry_->push_image("ci/app", "1", ImageOptions().with_layers(1));
  EXPECT_COMMAND_OK(berth({"project", "settings", "set", "ci", "--immutable", "v*"}));
  const auto before = berth({"project", "settings", "show", "ci", "--json"}).out;

  auto refused = [&](std::vector<std::string> args, const std::string& message,
                     std::string_view input = {}) {
    const auto result = berth(args, input);
    EXPECT_NE(result.status, 0) << result.out;
    EXPECT_NE(result.err.find(message), std::string::npos)
        << "expected '" << message << "' in: " << result.err;
  };
  refused({"project", "settings", "set", "ci", "--quota-bytes", "10GB"}, "decimal units");
  refused({"project", "settings", "set", "ci", "--quota-repositories", "x1"},
          "--quota-repositories: expected a whole number");
  refused({"project", "settings", "set", "ci", "--immutable", "a b"}, "'immutable_tags[0]'");
  refused({"project", "settings", "set", "ci"}, "nothing to set");
  refused({"project", "settings", "set", "ci", "-"}, "settings: expected a JSON object", "[1]");
  refused({"project", "settings", "set", "ci", "-"}, "unknown key 'quotas'", R"({"quotas": {}})");
  refused({"project", "settings", "set", "ci", (scratch_.path() / "missing.json").string()},
          "cannot read");
  refused({"project", "settings", "set", "ci", "--retention", write_file("bad.json", "{")},
          "not JSON");
  refused({"project", "settings", "set", "ci", "--retention",
           write_file("negative.json", R"({"rules": {"keep_last": -1}})")},
          "retention policy: ");
  refused({"project", "retention", "preview", "ci", "--policy", write_file("empty.json", "{}")},
          "retention policy: ");
  refused({"project", "retention", "enable", "ci"}, "project ci has no retention policy");
  refused({"project", "retention", "run", "ci"}, "project ci has no retention policy");
  EXPECT_EQ(berth({"project", "settings", "show", "ci", "--json"}).out, before);

  refused({"project", "usage", "nosuch"}, "no project nosuch");
  refused({"project", "settings", "set", "nosuch", "--quota-bytes", "1"}, "no project nosuch");
  const auto elsewhere =
      run_berth({"project", "usage", "ci", "--data", (scratch_.path() / "nodata").string()});
  EXPECT_EQ(elsewhere.status, 1);
  EXPECT_NE(elsewhere.err.find("there is no database at"), std::string::npos) << elsewhere.err;
  EXPECT_FALSE(std::filesystem::exists(scratch_.path() / "nodata"))
      << "a wrong --data made a new, empty registry";
}

}  // namespace
}  // namespace berth::testing
