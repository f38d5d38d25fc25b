// Tests of Docker token scope parsing, formatting and the allows() check.
#include "auth/scope.hpp"

#include <gtest/gtest.h>

namespace berth::auth {
namespace {

using Actions = std::vector<std::string>;

std::vector<Access> parse_ok(std::string_view text) {
  auto parsed = parse_scope(text);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << parsed.error().message;
  return parsed.value_or(std::vector<Access>{});
}

TEST(ParseScope, RepositoryWithActions) {
  auto scopes = parse_ok("repository:samalba/my-app:pull,push");
  ASSERT_EQ(scopes.size(), 1u);
  EXPECT_EQ(scopes[0], (Access{"repository", "samalba/my-app", Actions{"pull", "push"}}));
}

TEST(ParseScope, ActionsAreSortedAndUnique) {
  auto scopes = parse_ok("repository:a/b:push,pull,push,delete");
  ASSERT_EQ(scopes.size(), 1u);
  EXPECT_EQ(scopes[0].actions, (Actions{"delete", "pull", "push"}));
}

TEST(ParseScope, Wildcard) {
  auto scopes = parse_ok("repository:a/b:*");
  ASSERT_EQ(scopes.size(), 1u);
  EXPECT_EQ(scopes[0].actions, Actions{"*"});
}

TEST(ParseScope, Catalog) {
  auto scopes = parse_ok("registry:catalog:*");
  ASSERT_EQ(scopes.size(), 1u);
  EXPECT_EQ(scopes[0], (Access{"registry", "catalog", Actions{"*"}}));
}

TEST(ParseScope, ResourceClassIsIgnored) {
  auto scopes = parse_ok("repository(plugin):x:pull");
  ASSERT_EQ(scopes.size(), 1u);
  EXPECT_EQ(scopes[0], (Access{"repository", "x", Actions{"pull"}}));
}

TEST(ParseScope, SeveralSpaceSeparatedScopes) {
  auto scopes = parse_ok("repository:a:pull  registry:catalog:* repository:b/c:push ");
  ASSERT_EQ(scopes.size(), 3u);
  EXPECT_EQ(scopes[0], (Access{"repository", "a", Actions{"pull"}}));
  EXPECT_EQ(scopes[1], (Access{"registry", "catalog", Actions{"*"}}));
  EXPECT_EQ(scopes[2], (Access{"repository", "b/c", Actions{"push"}}));
}

TEST(ParseScope, SameResourceTwiceMerges) {
  auto scopes = parse_ok("repository:a:pull repository:b:pull repository:a:push");
  ASSERT_EQ(scopes.size(), 2u);
  EXPECT_EQ(scopes[0], (Access{"repository", "a", Actions{"pull", "push"}}));
  EXPECT_EQ(scopes[1], (Access{"repository", "b", Actions{"pull"}}));
}

TEST(ParseScope, UnknownActionsAreDropped) {
  auto scopes = parse_ok("repository:a:pull,frobnicate,PUSH,,");
  ASSERT_EQ(scopes.size(), 1u);
  EXPECT_EQ(scopes[0].actions, Actions{"pull"});

  auto none = parse_ok("repository:a:");
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].actions.empty());
}

TEST(ParseScope, UnknownTypesAndRegistryResourcesAreDropped) {
  EXPECT_TRUE(parse_ok("plugin:x:pull").empty());
  EXPECT_TRUE(parse_ok("registry:other:*").empty());
  EXPECT_TRUE(parse_ok("repository(plugin:x:pull").empty());
  EXPECT_TRUE(parse_ok(":x:pull").empty());
  // An unknown type's name is not checked against the repository grammar.
  EXPECT_TRUE(parse_ok("plugin:NOT/a//name:pull").empty());
}

TEST(ParseScope, EmptyIsNoScope) {
  EXPECT_TRUE(parse_ok("").empty());
  EXPECT_TRUE(parse_ok("   ").empty());
}

TEST(ParseScope, InvalidRepositoryNameIsAnError) {
  for (std::string_view bad : {"repository:UPPER:pull", "repository::pull", "repository:a//b:pull",
                               "repository:../etc:pull"}) {
    auto parsed = parse_scope(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code, core::ErrorCode::kNameInvalid) << bad;
  }
}

// A registry host with a port in the name: the name is what lies between the first and the
// last ':', "localhost:5000/foo", which the OCI grammar refuses.
TEST(ParseScope, HostAndPortInNameIsRefused) {
  auto parsed = parse_scope("repository:localhost:5000/foo:pull");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, core::ErrorCode::kNameInvalid);
}

TEST(ParseScope, MissingPartsAreAnError) {
  for (std::string_view bad : {"repository", "repository:a", "pull", "repository:a:pull x"}) {
    EXPECT_FALSE(parse_scope(bad).has_value()) << bad;
  }
}

TEST(FormatScope, RoundTrips) {
  const Access access{"repository", "ci/app", Actions{"pull", "push"}};
  EXPECT_EQ(format_scope(access), "repository:ci/app:pull,push");
  auto again = parse_ok(format_scope(access));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], access);
  EXPECT_EQ(format_scope(Access{"registry", "catalog", Actions{"*"}}), "registry:catalog:*");
  EXPECT_EQ(format_scope(Access{"repository", "a", {}}), "repository:a:");
}

TEST(Allows, ExactActions) {
  const std::vector<Access> granted = {{"repository", "a/b", Actions{"pull"}}};
  EXPECT_TRUE(allows(granted, "repository", "a/b", "pull"));
  EXPECT_FALSE(allows(granted, "repository", "a/b", "push"));
  EXPECT_FALSE(allows(granted, "repository", "a/c", "pull"));
  EXPECT_FALSE(allows(granted, "repository", "a", "pull"));
  EXPECT_FALSE(allows(granted, "registry", "a/b", "pull"));
  EXPECT_FALSE(allows({}, "repository", "a/b", "pull"));
}

TEST(Allows, WildcardGrantsEveryAction) {
  const std::vector<Access> granted = {{"repository", "a/b", Actions{"*"}}};
  EXPECT_TRUE(allows(granted, "repository", "a/b", "pull"));
  EXPECT_TRUE(allows(granted, "repository", "a/b", "push"));
  EXPECT_TRUE(allows(granted, "repository", "a/b", "delete"));
  EXPECT_TRUE(allows(granted, "repository", "a/b", "*"));
  EXPECT_FALSE(allows(granted, "repository", "a/b", "frobnicate"));
  EXPECT_FALSE(allows(granted, "repository", "a/bc", "pull"));
}

TEST(Allows, PullPushIsNotWildcard) {
  const std::vector<Access> granted = {{"repository", "a", Actions{"delete", "pull", "push"}}};
  EXPECT_FALSE(allows(granted, "repository", "a", "*"));
}

TEST(Allows, CatalogNeedsTheWildcard) {
  EXPECT_TRUE(allows({{"registry", "catalog", Actions{"*"}}}, "registry", "catalog", "*"));
  EXPECT_FALSE(allows({{"registry", "catalog", Actions{"pull"}}}, "registry", "catalog", "*"));
  EXPECT_FALSE(allows({{"repository", "catalog", Actions{"*"}}}, "registry", "catalog", "*"));
}

TEST(Allows, ActionsAcrossSeveralEntriesOfOneResource) {
  const std::vector<Access> granted = {{"repository", "a", Actions{"pull"}},
                                       {"repository", "a", Actions{"push"}}};
  EXPECT_TRUE(allows(granted, "repository", "a", "pull"));
  EXPECT_TRUE(allows(granted, "repository", "a", "push"));
  EXPECT_FALSE(allows(granted, "repository", "a", "delete"));
}

}  // namespace
}  // namespace berth::auth
