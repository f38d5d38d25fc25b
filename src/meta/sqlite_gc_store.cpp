// The GcStore on SQLite: the store of sql_gc_store.hpp over sqlite::Database, and its
// statements as SQLite spells them, for the tests of their query plans.
#include "meta/sqlite_gc_store.hpp"

#include <array>
#include <utility>

#include "meta/sql_gc_store.hpp"

namespace berth::meta::sqlite {
namespace {

using namespace sql::gc;

constexpr std::array kStatements = {
    GcStatement{"unreachable manifests", Db::sql(kUnreachableManifests), "m tags live"},
    GcStatement{"find manifest", Db::sql(sql::kManifestIds), ""},
    GcStatement{"manifest live", Db::sql(kManifestLive), "up CONSTANT"},
    GcStatement{"delete manifest", Db::sql(kDeleteManifest), ""},
    GcStatement{"delete own link", Db::sql(kDeleteOwnLink), ""},
    GcStatement{"unreferenced links", Db::sql(kUnreferencedLinks), "rb"},
    GcStatement{"delete unreferenced link", Db::sql(kDeleteUnreferencedLink), ""},
    GcStatement{"orphan blobs", Db::sql(kOrphanBlobs), "b"},
    GcStatement{"blob referenced", Db::sql(kBlobReferenced), "CONSTANT"},
    GcStatement{"delete blob", Db::sql(kDeleteBlob), ""},
    GcStatement{"insert tombstone", Db::sql(kInsertTombstone), ""},
    GcStatement{"tombstones", Db::sql(kTombstones), "blob_tombstones"},
    GcStatement{"clear tombstone", Db::sql(kClearTombstone), ""},
    GcStatement{"blob known", Db::sql(kBlobKnown), "CONSTANT"},
    GcStatement{"acquire lease", Db::sql(kAcquireLease), ""},
    GcStatement{"release lease", Db::sql(kReleaseLease), ""},
    // The dry run reads everything, once.
    GcStatement{"plan", Db::sql(kPlan), "*"},
};

}  // namespace

std::shared_ptr<GcStore> make_gc_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::gc::BasicGcStore<Db>>(std::move(database));
}

std::span<const GcStatement> gc_statements() { return kStatements; }

}  // namespace berth::meta::sqlite
