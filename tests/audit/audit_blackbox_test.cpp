// The audit log end to end, against a real `berth serve` with access control on: a push, a tag
// delete, a failed sign-in, a project and a member change, found again by GET /api/v1/audit
// filtered by user, project, action and time, paged; administrators only; the JSON-lines copy
// (audit.file); and `berth audit` on the same data directory, which also records the account
// commands' own changes.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kAlicePassword = "alice-secret-1";
constexpr std::string_view kBobPassword = "bob-secret-12";

std::string utc(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// "action target" of each entry, newest first.
std::vector<std::string> summary(const json::array& entries) {
  std::vector<std::string> out;
  for (const auto& value : entries) {
    const auto& e = value.as_object();
    out.push_back(std::string(e.at("action").as_string()) + " " +
                  std::string(e.at("target").as_string()));
  }
  return out;
}

class AuditBlackbox : public ::testing::Test {
 protected:
  void SetUp() override {
    before_ = std::chrono::system_clock::now() - 2s;
    server_ = std::make_unique<AuthServer>(AuthServerOptions{
        .env = {{"BERTH_AUDIT_FILE", (scratch_.path() / "audit.jsonl").string()}},
        .users = {{"alice", std::string(kAlicePassword)}, {"bob", std::string(kBobPassword)}}});
  }

  // The page the admin gets for `query`, which must answer 200.
  json::object audit(const std::string& query) {
    auto response = server_->admin_api("GET", "/api/v1/audit" + query, "", 200);
    return json_of(response.body).as_object();
  }

  json::array entries(const std::string& query) { return audit(query).at("entries").as_array(); }

  // Waits until the entries of `query` are `count` (they are written off the request path).
  json::array wait_for(const std::string& query, std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (true) {
      auto found = entries(query);
      if (found.size() >= count || std::chrono::steady_clock::now() > deadline) {
        return found;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  // The actions of the audit file's whole lines, once it holds `wanted` (or at the deadline).
  // The server copies a batch to the file after committing it, so the API may show entries
  // the file has not got yet, or has half of.
  std::vector<std::string> audit_file_actions(const std::vector<std::string>& wanted) {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (true) {
      std::ifstream file(scratch_.path() / "audit.jsonl");
      const std::string text((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
      std::vector<std::string> actions;
      for (std::size_t start = 0, end = 0; (end = text.find('\n', start)) != std::string::npos;
           start = end + 1) {
        actions.push_back(std::string(
            json_of(text.substr(start, end - start)).as_object().at("action").as_string()));
      }
      const bool complete = std::ranges::all_of(
          wanted, [&](const std::string& action) { return std::ranges::count(actions, action); });
      if (complete || std::chrono::steady_clock::now() > deadline) {
        return actions;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  // The changes the tests look for, made by the admin, alice and a stranger.
  void make_changes() {
    server_->create_project("app", false);
    server_->set_member("app", "alice", "writer");
    auto alice = server_->client();
    use_authorization(*alice, basic_auth("alice", kAlicePassword));
    push_small_image(*alice, "app/web", "1.0");
    auto admin = server_->client();
    use_authorization(*admin, server_->admin_basic());
    auto deleted = admin->del("/v2/app/web/manifests/1.0");
    ASSERT_EQ(deleted.status, 202u) << deleted.body;
    auto stranger = server_->client();
    auto refused = stranger->get("/v2/", authorization(basic_auth("mallory", "guess-1234")));
    ASSERT_EQ(refused.status, 401u);
  }

  TempDir scratch_;
  std::chrono::system_clock::time_point before_;
  std::unique_ptr<AuthServer> server_;
};

TEST_F(AuditBlackbox, FiltersFindExactlyTheChangesMade) {
  make_changes();
  const auto by_project = wait_for("?project=app", 4);
  EXPECT_EQ(summary(by_project),
            (std::vector<std::string>{"tag.delete app/web:1.0", "manifest.push app/web:1.0",
                                      "member.update alice", "project.create app"}));

  const auto by_alice = entries("?user=alice");
  ASSERT_EQ(by_alice.size(), 1u) << json::serialize(by_alice);
  const auto& push = by_alice[0].as_object();
  EXPECT_EQ(push.at("action").as_string(), "manifest.push");
  EXPECT_EQ(push.at("project").as_string(), "app");
  EXPECT_EQ(push.at("remote").as_string(), "127.0.0.1");
  EXPECT_EQ(push.at("result").as_string(), "ok");
  EXPECT_EQ(push.at("status").as_int64(), 201);

  const auto sign_ins = wait_for("?action=signin", 1);
  ASSERT_EQ(sign_ins.size(), 1u) << json::serialize(sign_ins);
  const auto& failed = sign_ins[0].as_object();
  EXPECT_EQ(failed.at("user").as_string(), "mallory");
  EXPECT_EQ(failed.at("result").as_string(), "failed");
  EXPECT_EQ(failed.at("remote").as_string(), "127.0.0.1");

  EXPECT_EQ(summary(entries("?action=tag.delete&user=admin")),
            (std::vector<std::string>{"tag.delete app/web:1.0"}));
  const auto after = utc(std::chrono::system_clock::now() + 2s);
  EXPECT_TRUE(entries("?since=" + after).empty());
  EXPECT_TRUE(entries("?until=" + utc(before_)).empty());
  EXPECT_EQ(entries("?project=app&since=" + utc(before_) + "&until=" + after).size(), 4u);
}

// Refused changes are recorded too: the answer came from fail(), not from a handler's send()
// (before, only the latter set the status the audit used, and this delete was not recorded).
TEST_F(AuditBlackbox, ARefusedTagDeleteIsRecordedAsFailed) {
  make_changes();
  auto bob = server_->client();
  auto refused =
      bob->del("/v2/app/web/manifests/2.0", authorization(basic_auth("bob", kBobPassword)));
  ASSERT_EQ(refused.status, 403u) << refused.body;
  const auto deletes = wait_for("?action=tag.delete&user=bob", 1);
  ASSERT_EQ(deletes.size(), 1u) << json::serialize(deletes);
  const auto& entry = deletes[0].as_object();
  EXPECT_EQ(entry.at("target").as_string(), "app/web:2.0");
  EXPECT_EQ(entry.at("result").as_string(), "failed");
  EXPECT_EQ(entry.at("status").as_int64(), 403);
}

// docker and containerd fetch an access token per pull session: before, each one was a signin
// entry (a database write per pull). Only the fetch that creates an offline token is one.
TEST_F(AuditBlackbox, OnlyATokenFetchThatCreatesAnOfflineTokenIsASignIn) {
  auto alice = server_->client();
  const std::pair<std::string, std::string> credentials{"alice", std::string(kAlicePassword)};
  for (int i = 0; i < 3; ++i) {
    (void)fetch_token(*alice,
                      TokenQuery{.basic = credentials, .scopes = {"repository:app/web:pull"}});
  }
  (void)fetch_token(*alice, TokenQuery{.basic = credentials, .offline = true});
  // Written in queue order: once the last is there, the others would be too.
  const auto sign_ins = wait_for("?action=signin&user=alice", 1);
  ASSERT_EQ(sign_ins.size(), 1u) << json::serialize(sign_ins);
  EXPECT_EQ(sign_ins[0].as_object().at("target").as_string(), "offline token");
  EXPECT_EQ(sign_ins[0].as_object().at("result").as_string(), "ok");
}

TEST_F(AuditBlackbox, PagesFollowTheCursor) {
  make_changes();
  ASSERT_EQ(wait_for("?project=app", 4).size(), 4u);
  const auto first = audit("?project=app&n=3");
  EXPECT_EQ(first.at("entries").as_array().size(), 3u);
  ASSERT_TRUE(first.at("next").is_string());
  const auto second = audit("?project=app&n=3&cursor=" + std::string(first.at("next").as_string()));
  EXPECT_EQ(summary(second.at("entries").as_array()),
            (std::vector<std::string>{"project.create app"}));
  EXPECT_TRUE(second.at("next").is_null());
  EXPECT_EQ(summary(entries("?project=app&n=1&page=2")),
            (std::vector<std::string>{"manifest.push app/web:1.0"}));
}

TEST_F(AuditBlackbox, OnlyAdministratorsReadIt) {
  auto alice = server_->client();
  auto denied = alice->get("/api/v1/audit", authorization(basic_auth("alice", kAlicePassword)));
  EXPECT_EQ(denied.status, 403u) << denied.body;
  auto anonymous = alice->get("/api/v1/audit");
  EXPECT_EQ(anonymous.status, 401u) << anonymous.body;
  auto bad = server_->admin_api("GET", "/api/v1/audit?since=yesterday", "", 400);
  EXPECT_NE(bad.body.find("since"), std::string::npos) << bad.body;
}

TEST_F(AuditBlackbox, TheFileCopyAndTheCommandLineShowTheSameEntries) {
  make_changes();
  ASSERT_EQ(wait_for("?project=app", 4).size(), 4u);
  const auto actions = audit_file_actions({"manifest.push", "tag.delete"});
  EXPECT_NE(std::find(actions.begin(), actions.end(), "manifest.push"), actions.end());
  EXPECT_NE(std::find(actions.begin(), actions.end(), "tag.delete"), actions.end());

  const std::string data = server_->data().string();
  auto table = run_berth({"audit", "--data", data, "--project", "app"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("TIME"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("manifest.push"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("alice"), std::string::npos) << table.out;

  // The refused sign-in came last and may be in a later batch than the project's entries.
  ASSERT_FALSE(wait_for("?action=signin", 1).empty());
  auto as_json = run_berth({"audit", "--data", data, "--action", "signin", "--json"});
  ASSERT_EQ(as_json.status, 0) << as_json.err;
  EXPECT_EQ(json_of(as_json.out).as_object().at("user").as_string(), "mallory") << as_json.out;

  // The account commands record their changes as the CLI's user.
  auto created = run_berth({"project", "create", "--data", data, "cli-made"});
  ASSERT_EQ(created.status, 0) << created.err;
  auto mine = run_berth({"audit", "--data", data, "--project", "cli-made", "--json"});
  ASSERT_EQ(mine.status, 0) << mine.err;
  const auto entry = json_of(mine.out).as_object();
  EXPECT_EQ(entry.at("action").as_string(), "project.create");
  EXPECT_TRUE(std::string(entry.at("user").as_string()).starts_with("cli:")) << mine.out;

  // So does `berth gc` (its result, whether or not the server's collection held the lease).
  (void)run_berth({"gc", "--data", data});
  auto collected = run_berth({"audit", "--data", data, "--action", "gc.run", "--json"});
  ASSERT_EQ(collected.status, 0) << collected.err;
  EXPECT_TRUE(
      std::string(json_of(collected.out).as_object().at("user").as_string()).starts_with("cli:"))
      << collected.out;

  auto bad = run_berth({"audit", "--data", data, "--since", "someday"});
  EXPECT_EQ(bad.status, 2) << bad.err;
}

}  // namespace
}  // namespace berth::authtest
