// The administration API answers a request it cannot honour as such: a wrong type is 400, an
// account or project that does not exist is 404, and a wrong method names the right one. Each
// case below was answered otherwise (a silent non-admin user, 403, 204, 200 [], no Allow).
#include <gtest/gtest.h>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::error_code;

TEST(AdminApiInputTest, AnAdminFlagThatIsNotABooleanIsABadRequest) {
  AuthServer server;
  const auto created =
      server.admin_api("POST", "/api/v1/users",
                       R"({"name":"carol","password":"carol-password-1","admin":"yes"})", 400);
  EXPECT_EQ(error_code(created), "INVALID_REQUEST") << describe(created);
  // Nothing was made of the refused request.
  server.admin_api("GET", "/api/v1/users/carol", "", 405);
  server.admin_api("PATCH", "/api/v1/users/carol", "{}", 404);

  server.admin_api("POST", "/api/v1/users", R"({"name":"dave","password":"dave-password-1"})", 201);
  const auto patched = server.admin_api("PATCH", "/api/v1/users/dave", R"({"admin":1})", 400);
  EXPECT_EQ(error_code(patched), "INVALID_REQUEST") << describe(patched);
}

TEST(AdminApiInputTest, ChangesAndListingsOfWhatDoesNotExistAreNotFound) {
  AuthServer server;
  const auto user = server.admin_api("PATCH", "/api/v1/users/nobody", "{}", 404);
  EXPECT_NE(user.body.find("no user nobody"), std::string::npos) << describe(user);
  const auto members = server.admin_api("GET", "/api/v1/projects/nothing/members", "", 404);
  EXPECT_NE(members.body.find("no project nothing"), std::string::npos) << describe(members);
  // An existing project's empty member list is still an empty list.
  server.create_project("empty", false);
  const auto none = server.admin_api("GET", "/api/v1/projects/empty/members", "", 200);
  EXPECT_EQ(none.body, "[]");
}

TEST(AdminApiInputTest, UnlockWithTheWrongMethodNamesPost) {
  AuthServer server;
  const auto wrong = server.admin_api("GET", "/api/v1/users/admin/unlock", "", 405);
  EXPECT_EQ(wrong.headers.get("Allow").value_or("(none)"), "POST") << describe(wrong);
}

}  // namespace
}  // namespace berth::authtest
