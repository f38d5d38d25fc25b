// Migration 10 on a SQLite database that already holds images: the manifests' total sizes are
// backfilled (an index's from its children's), their platforms are unknown (an empty list).
#include <gtest/gtest.h>

#include <string>

#include "meta/migrations.hpp"
#include "meta/sqlite_connection.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/temp_dir.hpp"

namespace berth::meta {
namespace {

using namespace std::chrono_literals;

std::string quoted_digest(char c) { return "'sha256:" + std::string(64, c) + "'"; }

TEST(SqliteBrowseStore, MigrationTenBackfillsTheSizesOfExistingManifests) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "berth.db").string();
  {
    auto connection = sqlite::Connection::open(path, 1000ms);
    ASSERT_TRUE(connection) << connection.error().message;
    ASSERT_TRUE((*connection)->exec("PRAGMA foreign_keys = ON; BEGIN", "test"));
    for (const auto& migration : sqlite::migrations()) {
      if (migration.version < 10) {
        ASSERT_TRUE((*connection)->exec(std::string(migration.sql), "create old schema"));
      }
    }
    // Config a (10 bytes) and layer b (100) named by image c (50); index d (30) lists c.
    const auto a = quoted_digest('a'), b = quoted_digest('b'), c = quoted_digest('c'),
               d = quoted_digest('d');
    ASSERT_TRUE(
        (*connection)
            ->exec("INSERT INTO repositories (id, name, created_at) VALUES (1, 'team/app', 0);"
                   "INSERT INTO blobs VALUES (" +
                       a + ", 10, 0), (" + b + ", 100, 0), (" + c + ", 50, 0), (" + d +
                       ", 30, 0);"
                       "INSERT INTO manifests (id, repository_id, digest, media_type, size,"
                       " created_at) VALUES (1, 1, " +
                       c + ", 'application/vnd.oci.image.manifest.v1+json', 50, 7), (2, 1, " + d +
                       ", 'application/vnd.oci.image.index.v1+json', 30, 8);"
                       "INSERT INTO manifest_blobs VALUES (1, " +
                       a + "), (1, " + b + ");INSERT INTO manifest_children VALUES (2, " + c +
                       ");INSERT INTO tags (repository_id, name, manifest_id, updated_at) "
                       "VALUES (1, 'image', 1, 7), (1, 'index', 2, 8);"
                       "PRAGMA user_version = 9; COMMIT;",
                   "fill old database"));
  }
  auto stores = open_sqlite_stores(SqliteOptions{.path = path, .readers = 1});
  ASSERT_TRUE(stores) << stores.error().message;
  auto page = stores->browse->tags(*core::RepositoryName::parse("team/app"), TagSort::kName, {});
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].tag, "image");
  EXPECT_EQ(page->items[0].size, 160u);
  EXPECT_TRUE(page->items[0].platforms.empty());
  EXPECT_EQ(page->items[1].size, 190u);
}

}  // namespace
}  // namespace berth::meta
