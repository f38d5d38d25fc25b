// What must hold across replicas on one PostgreSQL, not only within one process, tested with
// real `berth serve` processes: login throttling counts the guesses sent to every replica, and
// an unlock on one lifts the lockout on all.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth_support.hpp"
#include "postgres_replicas.hpp"

namespace berth::testing {
namespace {

using authtest::authorization;
using authtest::basic_auth;

using PostgresClusterTest = PostgresReplicasTest;

constexpr char kAdminPassword[] = "cluster-admin-password-1";

TEST_F(PostgresClusterTest, GuessesSpreadOverReplicasAreCountedTogether) {
  BerthOptions base = options();
  base.env["BERTH_AUTH_ENABLED"] = "true";
  base.env["BERTH_ADMIN_PASSWORD"] = kAdminPassword;
  base.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER"] = "3";
  base.env["BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS"] = "1000";
  base.env["BERTH_AUTH_LOGIN_FAILURE_WINDOW"] = "1h";
  BerthProcess first(base);
  BerthProcess second(replica_of(first, base));
  HttpClient on_first("127.0.0.1", first.port());
  HttpClient on_second("127.0.0.1", second.port());
  HttpClient* replicas[] = {&on_first, &on_second};

  // Round robin, as a balancer would spread them: one replica's limit in all.
  for (int i = 0; i < 3; ++i) {
    auto guess = replicas[i % 2]->get(
        "/v2/", authorization(basic_auth("admin", "guess-" + std::to_string(i))));
    EXPECT_EQ(guess.status, 401u) << "guess " << i;
  }
  for (auto* replica : replicas) {
    auto right = replica->get("/v2/", authorization(basic_auth("admin", kAdminPassword)));
    EXPECT_EQ(right.status, 429u) << "a replica let a fourth attempt through";
  }

  // The administrator, from an address that has not failed, lifts the lockout on the first
  // replica; the second lets the user in at once.
  HttpClient elsewhere("127.0.0.1", first.port());
  elsewhere.set_source_address("127.0.0.2");
  auto unlocked = elsewhere.post("/api/v1/users/admin/unlock", "",
                                 authorization(basic_auth("admin", kAdminPassword)));
  EXPECT_LT(unlocked.status, 300u) << unlocked.body;
  auto after = on_second.get("/v2/", authorization(basic_auth("admin", kAdminPassword)));
  EXPECT_EQ(after.status, 200u) << after.body;

  EXPECT_EQ(second.stop(), 0) << second.log();
  EXPECT_EQ(first.stop(), 0) << first.log();
}

}  // namespace
}  // namespace berth::testing
