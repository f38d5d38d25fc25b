// Password checks run on their own bounded pool: a storm of Basic logins neither delays other
// requests (they are served by the blocking pool, which no bcrypt check occupies) nor queues
// without bound (past the pool's threads and queue, a login is answered 429 at once).
//
// The test is about order, not speed: while password checks are still running, with the pool
// shown to be full (a login was refused for it), an unrelated bearer request is answered.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;
using testing::error_code;

constexpr char kSlowPassword[] = "slow-password-1";
// The cost the server itself hashes with: a check takes a fraction of a second or more, long
// enough for the requests below to overlap it.
constexpr int kSlowCost = 12;

struct Event {
  std::string what;
  unsigned status = 0;
};

// One bcrypt thread, three waiting: the fifth and sixth concurrent login find the pool full.
constexpr int kLogins = 6;

AuthServerOptions one_password_thread() {
  AuthServerOptions options;
  options.env["BERTH_AUTH_PASSWORD_HASH_THREADS"] = "1";
  options.env["BERTH_AUTH_PASSWORD_HASH_QUEUE"] = "3";
  options.env["BERTH_HTTP_BLOCKING_THREADS"] = "2";
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "1000";
  options.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "1000";
  options.users = {{"reader", "reader-password-1"}};
  return options;
}

// Logins of "slow" (a cost-12 hash) on kLogins connections at once, recorded as they end.
class PasswordStorm {
 public:
  explicit PasswordStorm(AuthServer& server) : clients_(connected_clients(server, kLogins)) {
    seed_user(server.data(), "slow", kSlowPassword, false, kSlowCost);
  }

  // Starts the logins and returns once one was refused for a full pool (false: none was).
  bool fill() {
    for (int i = 0; i < kLogins; ++i) {
      logins_.emplace_back([this, i] {
        record("login",
               get_token(*clients_[i], TokenQuery{.basic = std::make_pair("slow", kSlowPassword)}));
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (!saw_refusal() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return saw_refusal();
  }

  void record(std::string what, const HttpResponse& response) {
    std::lock_guard lock(mutex_);
    events_.push_back(Event{std::move(what), response.status});
    if (response.status == 429u) {
      refused_ = response;
    }
  }

  // Waits for every login, then returns what happened, in order.
  std::vector<Event> finish() {
    logins_.clear();
    std::lock_guard lock(mutex_);
    return events_;
  }
  HttpResponse refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }

 private:
  bool saw_refusal() {
    std::lock_guard lock(mutex_);
    return std::any_of(events_.begin(), events_.end(),
                       [](const Event& event) { return event.status == 429u; });
  }

  std::vector<std::unique_ptr<HttpClient>> clients_;
  std::vector<std::jthread> logins_;
  std::mutex mutex_;
  std::vector<Event> events_;
  HttpResponse refused_;
};

// Regression: one blocking pool ran request disk I/O, SQLite and bcrypt; 16 concurrent Basic
// logins made an unrelated bearer tags/list wait 1.5 s for a pool thread.
TEST(PasswordPoolTest, ASaturatedPasswordPoolRefusesAtOnceAndDelaysNothingElse) {
  AuthServer server(one_password_thread());
  server.create_project("team", false);
  server.set_member("team", "reader", "reader");
  auto bearer = server.client();
  const std::string token =
      fetch_token(*bearer, TokenQuery{.basic = std::make_pair("reader", "reader-password-1"),
                                      .scopes = {repo_scope("team/app", "pull")}});

  PasswordStorm storm(server);
  ASSERT_TRUE(storm.fill()) << "no login was refused: the password checks queue without bound";
  // The pool is full now, with checks running and waiting.
  storm.record("bearer", bearer->get("/v2/team/app/tags/list", authorization(bearer_auth(token))));

  const auto events = storm.finish();
  const auto at = std::find_if(events.begin(), events.end(),
                               [](const Event& event) { return event.what == "bearer"; });
  ASSERT_NE(at, events.end());
  EXPECT_EQ(at->status, 404u) << "the bearer request (an empty repository) was not served";
  EXPECT_TRUE(std::any_of(at + 1, events.end(), [](const Event& event) {
    return event.what == "login" && event.status == 200u;
  })) << "the bearer request was answered only after every password check had finished";
  const auto ok = std::count_if(events.begin(), events.end(),
                                [](const Event& event) { return event.status == 200u; });
  const auto busy = std::count_if(events.begin(), events.end(),
                                  [](const Event& event) { return event.status == 429u; });
  EXPECT_EQ(ok + busy, kLogins) << "every login is checked or refused, nothing else";
  EXPECT_GE(ok, 4) << "the logins the pool had room for";
  const HttpResponse refused = storm.refused();
  EXPECT_EQ(error_code(refused), "TOOMANYREQUESTS") << describe(refused);
  EXPECT_EQ(refused.header("Retry-After"), "1") << describe(refused);
  EXPECT_NE(refused.body.find("checking too many passwords"), std::string::npos) << refused.body;
}

// Regression: robot tokens (a SHA-256 compare) queued behind users' bcrypt checks, so a fleet
// of CI robots fetching tokens got 429 for a pool that never hashes their secrets.
TEST(PasswordPoolTest, RobotsSignInWhileThePasswordPoolIsFull) {
  AuthServer server(one_password_thread());
  server.create_project("team", false);
  const std::string robot = server.create_robot("ci", {{"team", "reader"}});

  PasswordStorm storm(server);
  ASSERT_TRUE(storm.fill()) << "no login was refused: the pool never filled";
  auto client = server.client();
  const auto token = get_token(*client, TokenQuery{.basic = std::make_pair("robot$ci", robot),
                                                   .scopes = {repo_scope("team/app", "pull")}});
  EXPECT_EQ(token.status, 200u) << describe(token);
  auto basic = client->get("/v2/team/app/tags/list", authorization(basic_auth("robot$ci", robot)));
  EXPECT_EQ(basic.status, 404u) << "a robot's Basic request while the pool is full: "
                                << describe(basic);
  (void)storm.finish();
}

}  // namespace
}  // namespace berth::authtest
