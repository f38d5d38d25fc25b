// The browse API with access control off (the default): everything is open to everyone,
// deleting included, as the registry itself is.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

TEST(BrowseOpenTest, EverythingIsOpenWithoutAccessControl) {
  BerthProcess berth;
  auto http = std::make_unique<HttpClient>("127.0.0.1", berth.port());
  push_small_image(*http, "team/app", "v1");
  push_small_image(*http, "team/app", "v2");

  auto projects = http->get("/api/v1/projects");
  ASSERT_EQ(projects.status, 200u) << testing::describe(projects);
  auto list = json_of(projects.body).as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("name"), "team");
  auto project = json_of(http->get("/api/v1/projects/team").body);
  EXPECT_EQ(project.at("can"), json_of(R"({"pull":true,"push":true,"delete":true,)"
                                       R"("manage":true,"admin":true})"));
  EXPECT_EQ(json_of(http->get("/api/v1/repositories/team/app/-/tags").body).at("total"), 2);
  EXPECT_EQ(http->get("/api/v1/system").status, 200u);

  auto deleted = http->post("/api/v1/repositories/team/app/-/delete", R"({"tags":["v1"]})",
                            {{"Content-Type", "application/json"}});
  ASSERT_EQ(deleted.status, 200u) << testing::describe(deleted);
  EXPECT_EQ(json_of(deleted.body).at("deleted_tags"), json_of(R"(["v1"])"));
  EXPECT_EQ(json_of(http->get("/api/v1/repositories/team/app/-/tags").body).at("total"), 1);
}

}  // namespace
}  // namespace berth::authtest
