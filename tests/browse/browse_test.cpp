// The browse API with access control on: what each role sees and may do (reader, writer,
// owner, administrator, anonymous), through a real berth filled with real pushes, and bad
// input answered in the OCI error format.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <string>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

namespace json = boost::json;
using testing::error_code;

constexpr char kPassword[] = "browse-password-1";

class BrowseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new AuthServer(AuthServerOptions{.users = {{"reader1", kPassword},
                                                         {"writer1", kPassword},
                                                         {"maint1", kPassword},
                                                         {"owner1", kPassword}}});
    server_->create_project("team", false);
    server_->create_project("open", true);
    server_->set_member("team", "reader1", "reader");
    server_->set_member("team", "writer1", "writer");
    server_->set_member("team", "maint1", "maintainer");
    server_->set_member("team", "owner1", "owner");
    auto admin = server_->client();
    use_authorization(*admin, server_->admin_basic());
    image_ = new SmallImage(push_small_image(*admin, "team/app", "v1"));
    push_small_image(*admin, "team/app", "v2");
    push_small_image(*admin, "team/app", "build-10");
    push_small_image(*admin, "team/web", "latest");
    push_small_image(*admin, "open/tool", "1.0");
    // An index over the first image, for linux/amd64.
    auto child = testing::describe(testing::media_types::kOciManifest, image_->manifest);
    child.platform_os = "linux";
    child.platform_architecture = "amd64";
    index_ = new std::string(testing::make_index(
        {child}, testing::ManifestOptions().with_media_type(testing::media_types::kOciIndex)));
    auto put = admin->put("/v2/team/app/manifests/multi", *index_,
                          {{"Content-Type", std::string(testing::media_types::kOciIndex)}});
    ASSERT_EQ(put.status, 201u) << testing::describe(put);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete image_;
    delete index_;
  }

  // GET as `user` ("" anonymous, "admin" the administrator).
  HttpResponse get(const std::string& user, const std::string& path) { return as(user)->get(path); }
  HttpResponse post(const std::string& user, const std::string& path, const std::string& body) {
    return as(user)->post(path, body, {{"Content-Type", "application/json"}});
  }
  json::value body_of(const HttpResponse& response) { return json_of(response.body); }
  json::value ok(const std::string& user, const std::string& path) {
    auto response = get(user, path);
    EXPECT_EQ(response.status, 200u) << path << ": " << testing::describe(response);
    return response.status == 200 ? body_of(response) : json::value();
  }

  std::unique_ptr<HttpClient>& as(const std::string& user) {
    auto& http = clients_[user];
    if (!http) {
      http = server_->client();
      if (user == "admin") {
        use_authorization(*http, server_->admin_basic());
      } else if (!user.empty()) {
        use_authorization(*http, basic_auth(user, kPassword));
      }
    }
    return http;
  }

  static std::set<std::string> names(const json::value& list, const char* key = "name") {
    std::set<std::string> out;
    for (const auto& item : list.as_array()) {
      out.emplace(item.at(key).as_string());
    }
    return out;
  }

  static AuthServer* server_;
  static SmallImage* image_;
  static std::string* index_;
  std::map<std::string, std::unique_ptr<HttpClient>> clients_;
};

AuthServer* BrowseTest::server_ = nullptr;
SmallImage* BrowseTest::image_ = nullptr;
std::string* BrowseTest::index_ = nullptr;

TEST_F(BrowseTest, ProjectsShowKindFiguresAndOnlyWhatTheCallerMayPull) {
  auto all = ok("admin", "/api/v1/projects");
  EXPECT_EQ(names(all), (std::set<std::string>{"open", "team"}));
  for (const auto& project : all.as_array()) {
    if (project.at("name") == "team") {
      EXPECT_EQ(project.at("kind"), "hosted");
      EXPECT_TRUE(project.at("upstream").is_null());
      EXPECT_EQ(project.at("repositories"), 2);
      EXPECT_GT(project.at("bytes").as_int64(), 1024);
      EXPECT_TRUE(project.at("quota_bytes").is_null());
      EXPECT_TRUE(project.at("last_push").is_int64());
      EXPECT_EQ(project.at("public"), false);
    }
  }
  EXPECT_EQ(names(ok("", "/api/v1/projects")), std::set<std::string>{"open"})
      << "anonymous callers see public projects";
  EXPECT_EQ(names(ok("reader1", "/api/v1/projects")), (std::set<std::string>{"open", "team"}));

  auto reader = ok("reader1", "/api/v1/projects/team");
  EXPECT_EQ(reader.at("can"), json_of(R"({"pull":true,"push":false,"delete":false,)"
                                      R"("manage":false,"admin":false})"));
  EXPECT_EQ(ok("writer1", "/api/v1/projects/team").at("can").at("push"), true);
  EXPECT_EQ(ok("writer1", "/api/v1/projects/team").at("can").at("delete"), false);
  EXPECT_EQ(ok("owner1", "/api/v1/projects/team").at("can"),
            json_of(R"({"pull":true,"push":true,"delete":true,"manage":true,"admin":false})"));
  EXPECT_EQ(ok("admin", "/api/v1/projects/team").at("can").at("admin"), true);
  EXPECT_EQ(ok("", "/api/v1/projects/open").at("can").at("pull"), true);

  auto hidden = get("", "/api/v1/projects/team");
  EXPECT_EQ(hidden.status, 404u);
  EXPECT_EQ(error_code(hidden), "NOT_FOUND");
  EXPECT_EQ(get("reader1", "/api/v1/projects/nothing").status, 404u);
}

TEST_F(BrowseTest, RepositoriesArePagedSortedAndFiltered) {
  auto page = ok("reader1", "/api/v1/projects/team/repositories");
  EXPECT_EQ(page.at("total"), 2);
  ASSERT_EQ(page.at("items").as_array().size(), 2u);
  const auto& app = page.at("items").as_array()[0];
  EXPECT_EQ(app.at("name"), "team/app");
  EXPECT_EQ(app.at("tags"), 4);
  EXPECT_TRUE(app.at("last_push").is_int64());
  EXPECT_TRUE(app.at("last_pull").is_null());

  page = ok("reader1", "/api/v1/projects/team/repositories?q=we&sort=size&order=asc");
  EXPECT_EQ(page.at("total"), 1);
  EXPECT_EQ(names(page.at("items")), std::set<std::string>{"team/web"});
  page = ok("reader1", "/api/v1/projects/team/repositories?sort=tags&limit=1&offset=1");
  EXPECT_EQ(page.at("total"), 2);
  EXPECT_EQ(names(page.at("items")), std::set<std::string>{"team/web"});

  for (const std::string query :
       {"sort=colour", "order=up", "limit=501", "limit=0", "limit=-1", "offset=x"}) {
    auto bad = get("reader1", "/api/v1/projects/team/repositories?" + query);
    EXPECT_EQ(bad.status, 400u) << query;
    EXPECT_EQ(error_code(bad), "INVALID_REQUEST") << query;
  }
  EXPECT_EQ(get("", "/api/v1/projects/team/repositories").status, 404u);
  EXPECT_EQ(ok("", "/api/v1/projects/open/repositories").at("total"), 1);
}

TEST_F(BrowseTest, TagsCarrySizePlatformsAndArePagedServerSide) {
  auto page = ok("reader1", "/api/v1/repositories/team/app/-/tags");
  EXPECT_EQ(page.at("total"), 4);
  const auto& items = page.at("items").as_array();
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].at("tag"), "build-10") << "byte order";
  const auto& multi = items[1];
  EXPECT_EQ(multi.at("tag"), "multi");
  EXPECT_EQ(multi.at("media_type").as_string(), testing::media_types::kOciIndex);
  EXPECT_EQ(multi.at("platforms"), json_of(R"(["linux/amd64"])"));
  const auto& v1 = items[2];
  EXPECT_EQ(v1.at("digest"), json::value(image_->digest));
  EXPECT_EQ(v1.at("platforms"), json_of(R"(["linux/amd64"])")) << "from the image's config";
  EXPECT_GT(v1.at("size").as_int64(), 512) << "manifest, config and layer";
  EXPECT_GT(multi.at("size").as_int64(), v1.at("size").as_int64());
  EXPECT_TRUE(v1.at("last_pulled").is_null());
  EXPECT_EQ(v1.at("pulls"), 0);
  EXPECT_TRUE(v1.at("artifact_type").is_null());

  page = ok("reader1", "/api/v1/repositories/team/app/-/tags?sort=pushed&limit=1");
  EXPECT_EQ(page.at("total"), 4);
  EXPECT_EQ(names(page.at("items"), "tag"), std::set<std::string>{"multi"}) << "newest first";
  page = ok("reader1", "/api/v1/repositories/team/app/-/tags?q=v&sort=name&order=desc");
  EXPECT_EQ(page.at("total"), 2);
  EXPECT_EQ(page.at("items").as_array()[0].at("tag"), "v2");

  auto figures = ok("reader1", "/api/v1/repositories/team/app");
  EXPECT_EQ(figures.at("project"), "team");
  EXPECT_EQ(figures.at("tags"), 4);
  EXPECT_EQ(figures.at("manifests"), 4);
  EXPECT_EQ(figures.at("can").at("delete"), false);

  auto bad = get("reader1", "/api/v1/repositories/team/app/-/tags?sort=colour");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(error_code(bad), "INVALID_REQUEST");
  bad = get("reader1", "/api/v1/repositories/team/app/-/tags?limit=100000");
  EXPECT_EQ(error_code(bad), "INVALID_REQUEST");
  auto unknown = get("reader1", "/api/v1/repositories/team/none/-/tags");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(error_code(unknown), "NAME_UNKNOWN");
  // Invisible looks unknown.
  EXPECT_EQ(error_code(get("", "/api/v1/repositories/team/app/-/tags")), "NAME_UNKNOWN");
  for (const std::string name : {"team/../open/tool", "team//app", "Team/app", "team/%2e%2e"}) {
    auto refused = get("admin", "/api/v1/repositories/" + name + "/-/tags");
    EXPECT_EQ(refused.status, 400u) << name << ": " << testing::describe(refused);
    EXPECT_EQ(error_code(refused), "NAME_INVALID") << name;
  }
}

TEST_F(BrowseTest, AManifestPageHasEverythingInOneAnswer) {
  auto image = ok("reader1", "/api/v1/repositories/team/app/-/manifests/v1");
  EXPECT_EQ(image.at("digest"), json::value(image_->digest));
  EXPECT_EQ(image.at("kind"), "image");
  EXPECT_EQ(image.at("layers").as_array().size(), 1u);
  EXPECT_EQ(image.at("layers").as_array()[0].at("digest"), json::value(image_->layer_digest));
  const auto& config = image.at("config");
  ASSERT_TRUE(config.is_object());
  EXPECT_EQ(config.at("digest"), json::value(image_->config_digest));
  EXPECT_EQ(config.at("os"), "linux");
  EXPECT_EQ(config.at("architecture"), "amd64");
  EXPECT_TRUE(config.at("labels").as_object().contains("berth.test"));
  EXPECT_TRUE(config.at("history").as_array().empty());
  EXPECT_EQ(image.at("tags"), json_of(R"(["v1"])"));
  EXPECT_TRUE(image.at("referrers").as_array().empty());
  EXPECT_GT(image.at("total_size").as_int64(), image.at("size").as_int64());
  EXPECT_EQ(
      ok("reader1", "/api/v1/repositories/team/app/-/manifests/" + image_->digest).at("digest"),
      json::value(image_->digest));

  auto index = ok("reader1", "/api/v1/repositories/team/app/-/manifests/multi");
  EXPECT_EQ(index.at("kind"), "index");
  ASSERT_EQ(index.at("platforms").as_array().size(), 1u);
  EXPECT_EQ(index.at("platforms").as_array()[0].at("architecture"), "amd64");
  EXPECT_TRUE(index.at("platforms").as_array()[0].at("variant").is_null());
  EXPECT_TRUE(index.at("config").is_null());

  auto bad = get("reader1", "/api/v1/repositories/team/app/-/manifests/sha256:abc");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(error_code(bad), "DIGEST_INVALID");
  auto missing = get("reader1", "/api/v1/repositories/team/app/-/manifests/nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(error_code(missing), "MANIFEST_UNKNOWN");
}

TEST_F(BrowseTest, DeletingFollowsTheRegistrysRules) {
  auto admin = server_->client();
  use_authorization(*admin, server_->admin_basic());
  push_small_image(*admin, "team/gone", "a");
  push_small_image(*admin, "team/gone", "b");
  const auto kept = push_small_image(*admin, "team/gone", "v9");
  const std::string path = "/api/v1/repositories/team/gone/-/delete";
  const std::string body = R"({"tags":["a"]})";

  EXPECT_EQ(post("reader1", path, body).status, 403u) << "a reader may not delete";
  EXPECT_EQ(error_code(post("reader1", path, body)), "DENIED");
  EXPECT_EQ(post("writer1", path, body).status, 403u) << "nor a writer";
  EXPECT_EQ(post("", path, body).status, 404u) << "anonymous: not even visible";
  EXPECT_EQ(post("", "/api/v1/repositories/open/tool/-/delete", R"({"tags":["1.0"]})").status,
            401u);

  auto deleted = post("maint1", path, R"({"tags":["a","never"]})");
  ASSERT_EQ(deleted.status, 200u) << testing::describe(deleted);
  auto result = body_of(deleted);
  EXPECT_EQ(result.at("deleted_tags"), json_of(R"(["a"])"));
  ASSERT_EQ(result.at("failed").as_array().size(), 1u);
  EXPECT_EQ(result.at("failed").as_array()[0].at("reference"), "never");
  EXPECT_EQ(result.at("failed").as_array()[0].at("code"), "MANIFEST_UNKNOWN");

  // Immutable tags need an administrator, by tag and by digest, as a v2 DELETE.
  server_->admin_api("PUT", "/api/v1/projects/team/settings", R"({"immutable_tags":["v*"]})", 200);
  result =
      body_of(post("owner1", path, R"({"tags":["v9"],"manifests":[")" + kept.digest + R"("]})"));
  ASSERT_EQ(result.at("failed").as_array().size(), 2u) << result;
  EXPECT_EQ(result.at("failed").as_array()[0].at("code"), "DENIED");
  EXPECT_EQ(result.at("failed").as_array()[1].at("code"), "DENIED");
  result = body_of(post("admin", path, R"({"manifests":[")" + kept.digest + R"("]})"));
  EXPECT_EQ(result.at("deleted_manifests"), json::array({json::value(kept.digest)}));
  server_->admin_api("PUT", "/api/v1/projects/team/settings", R"({"immutable_tags":[]})", 200);

  for (const std::string refused : {R"([1])", R"({"tags":"a"})", R"({"tags":["bad tag"]})",
                                    R"({"manifests":["sha256:xyz"]})"}) {
    auto answer = post("maint1", path, refused);
    EXPECT_EQ(answer.status, 400u) << refused << ": " << testing::describe(answer);
  }
  EXPECT_EQ(ok("maint1", "/api/v1/repositories/team/gone/-/tags").at("total"), 1);
}

TEST_F(BrowseTest, SearchShowsOnlyWhatTheCallerMayPull) {
  auto all = ok("admin", "/api/v1/search?q=t");
  EXPECT_TRUE(names(all.at("repositories")).contains("team/app"));
  EXPECT_TRUE(names(all.at("repositories")).contains("open/tool"));
  auto anonymous = ok("", "/api/v1/search?q=t");
  EXPECT_EQ(names(anonymous.at("repositories")), std::set<std::string>{"open/tool"});
  auto tags = ok("reader1", "/api/v1/search?q=build");
  ASSERT_EQ(tags.at("tags").as_array().size(), 1u);
  EXPECT_EQ(tags.at("tags").as_array()[0].at("repository"), "team/app");
  EXPECT_EQ(tags.at("tags").as_array()[0].at("tag"), "build-10");
  EXPECT_EQ(error_code(get("reader1", "/api/v1/search?q=")), "INVALID_REQUEST");
  EXPECT_EQ(error_code(get("reader1", "/api/v1/search?q=a&limit=1000")), "INVALID_REQUEST");
}

TEST_F(BrowseTest, AdministratorsSeeTheSystemCollectionsAndProxies) {
  for (const std::string path : {"/api/v1/system", "/api/v1/gc", "/api/v1/proxies"}) {
    EXPECT_EQ(get("owner1", path).status, 403u) << path;
    EXPECT_EQ(get("", path).status, 401u) << path;
  }
  auto system = ok("admin", "/api/v1/system");
  EXPECT_EQ(system.at("metadata"), "sqlite");
  EXPECT_EQ(system.at("storage"), "filesystem");
  EXPECT_EQ(system.at("access_control"), true);
  EXPECT_GE(system.at("repositories").as_int64(), 3);
  EXPECT_GT(system.at("bytes").as_int64(), 0);
  EXPECT_FALSE(system.at("version").as_string().empty());
  EXPECT_TRUE(ok("admin", "/api/v1/proxies").as_array().empty());

  server_->admin_api("POST", "/api/v1/gc", R"({"dry_run":true})", 200);
  auto runs = ok("admin", "/api/v1/gc").at("runs").as_array();
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs[0].at("by"), "admin");
  EXPECT_EQ(runs[0].at("dry_run"), true);
  EXPECT_TRUE(runs[0].at("report").at("bytes_reclaimed").is_int64());
  EXPECT_GE(runs[0].at("finished").as_int64(), runs[0].at("started").as_int64());
}

TEST_F(BrowseTest, MaintainersAndOwnersManageTheirProjectsRobots) {
  auto create = [&](const std::string& user, const std::string& name, const std::string& scopes) {
    return post(user, "/api/v1/robots", R"({"name":")" + name + R"(","projects":)" + scopes + "}");
  };
  auto made = create("maint1", "team-ci", R"([{"project":"team","role":"writer"}])");
  ASSERT_EQ(made.status, 201u) << testing::describe(made);
  EXPECT_FALSE(body_of(made).at("token").as_string().empty());
  EXPECT_EQ(create("maint1", "team-boss", R"([{"project":"team","role":"owner"}])").status, 403u)
      << "no role above the maintainer's own";
  EXPECT_EQ(create("maint1", "elsewhere", R"([{"project":"open","role":"reader"}])").status, 403u);
  EXPECT_EQ(create("reader1", "mine", R"([{"project":"team","role":"reader"}])").status, 403u);
  server_->create_robot("both", {{"team", "reader"}, {"open", "reader"}});

  auto listed = ok("owner1", "/api/v1/robots?project=team");
  EXPECT_EQ(names(listed), (std::set<std::string>{"both", "team-ci"}));
  for (const auto& robot : listed.as_array()) {
    EXPECT_EQ(robot.at("projects").as_array().size(), 1u) << "only this project's scope";
  }
  EXPECT_EQ(get("owner1", "/api/v1/robots").status, 403u) << "a project must be named";
  EXPECT_EQ(get("reader1", "/api/v1/robots?project=team").status, 403u);
  EXPECT_EQ(names(ok("admin", "/api/v1/robots?project=open")), std::set<std::string>{"both"});

  EXPECT_EQ(post("maint1", "/api/v1/robots/both/revoke", "").status, 403u)
      << "a robot of another project too is not the maintainer's";
  EXPECT_EQ(post("maint1", "/api/v1/robots/team-ci/revoke", "").status, 204u);
  EXPECT_EQ(as("owner1")->del("/api/v1/robots/team-ci").status, 204u);
}

}  // namespace
}  // namespace berth::authtest
