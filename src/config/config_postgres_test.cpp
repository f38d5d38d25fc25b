// metadata.postgres.*: the keys of the PostgreSQL metadata store from YAML and the environment,
// their rules, and the URL (which carries the password) redacted by `config show`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "config/config.hpp"
#include "config/config_test_support.hpp"

namespace berth::config {
namespace {

using test_support::env_of;

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConfigPostgres, KeysFromYamlAsTheIssueWritesThem) {
  std::string path = (std::filesystem::temp_directory_path() / "berth-pg-config-XXXXXX").string();
  ::close(::mkstemp(path.data()));
  std::ofstream(path) << "metadata:\n"
                         "  driver: postgres\n"
                         "  postgres:\n"
                         "    url: postgresql://berth:secret@127.0.0.1:5432/berth\n";
  auto config = load_config(path, env_of({}));
  std::filesystem::remove(path);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->metadata.driver, "postgres");
  EXPECT_EQ(config->metadata.postgres.url, "postgresql://berth:secret@127.0.0.1:5432/berth");
  EXPECT_EQ(config->metadata.postgres.max_connections, 8u);
  EXPECT_TRUE(validate(*config));
}

TEST(ConfigPostgres, TheUrlComesFromTheEnvironmentToo) {
  auto config = load_config(std::nullopt,
                            env_of({{"BERTH_METADATA_DRIVER", "postgres"},
                                    {"BERTH_METADATA_POSTGRES_URL", "postgresql://u:p@db/berth"},
                                    {"BERTH_METADATA_POSTGRES_MAX_CONNECTIONS", "3"}}));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->metadata.postgres.url, "postgresql://u:p@db/berth");
  EXPECT_EQ(config->metadata.postgres.max_connections, 3u);
}

TEST(ConfigPostgres, RulesNameTheKey) {
  Config config;
  config.metadata.driver = "postgres";
  auto result = validate(config);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("metadata.postgres.url must be set"));
  Config pool;
  EXPECT_FALSE(set_key(pool, "metadata.postgres.max_connections", "0"));
  config.metadata.driver = "sqlite";
  EXPECT_TRUE(validate(config)) << "the postgres keys matter only with the postgres driver";
}

TEST(ConfigPostgres, ConfigShowRedactsTheUrl) {
  Config config;
  config.metadata.driver = "postgres";
  config.metadata.postgres.url = "host=db user=berth password=sup3r-secret dbname=berth";
  std::string shown = render_yaml(config);
  EXPECT_THAT(shown, Not(HasSubstr("sup3r-secret")));
  EXPECT_THAT(shown, HasSubstr("    url: \"<redacted>\"\n"));
  config.metadata.postgres.url = "postgresql://berth:sup3r-secret@db/berth";
  shown = render_yaml(config);
  EXPECT_THAT(shown, Not(HasSubstr("sup3r-secret")));
}

}  // namespace
}  // namespace berth::config
