// The fixture of the black-box tests of berth serve on PostgreSQL: a schema of its own on the
// test server (the ctest fixture "postgres", or one started when run by hand), and the
// environment that points a replica at it, as an operator would configure one.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "berth_process.hpp"
#include "testing/postgres.hpp"

namespace berth::testing {

class PostgresReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& server = Postgres::shared();
    ASSERT_TRUE(server.error().empty()) << server.error();
    if (!server.skip_reason().empty()) {
      GTEST_SKIP() << server.skip_reason();
    }
    schema_ = std::make_unique<PostgresSchema>(server.url());
    ASSERT_TRUE(schema_->error().empty()) << schema_->error();
  }

  // The environment of a replica on the test's database. The URL names a password that the
  // trust-authenticated test server ignores, to check that it is never logged.
  std::map<std::string, std::string> environment() const {
    std::string url = schema_->url();
    url.insert(url.find("://") + 3 + std::string("postgres").size(), ":" + std::string(kPassword));
    return {{"BERTH_METADATA_DRIVER", "postgres"}, {"BERTH_METADATA_POSTGRES_URL", url}};
  }

  BerthOptions options() const {
    BerthOptions options;
    options.env = environment();
    return options;
  }

  // Another replica beside `first`: the same database, and `first`'s blobs (its storage root,
  // as replicas share a bucket), with a data directory of its own.
  BerthOptions replica_of(const BerthProcess& first, const BerthOptions& base) const {
    BerthOptions replica = base;
    replica.env["BERTH_STORAGE_ROOT"] = first.data().string();
    return replica;
  }

  static constexpr const char* kPassword = "pg-pass-never-logged";
  std::unique_ptr<PostgresSchema> schema_;
};

}  // namespace berth::testing
