// Retention over HTTP: a policy previewed before it is stored (POST .../retention/preview), then
// stored through PUT .../settings and previewed again (GET), then run (POST .../retention/run).
// The preview lists exactly the tags and manifests the run deletes, and the bytes it frees: the
// test computes all three itself from what it pushed, checks the run's outcome against the
// preview, the registry's tags and manifests against both, and the project's usage after a
// garbage collection against the freed bytes. A multi-platform index that is kept keeps its
// children; one that is deleted takes its children with it. Excluded tags, immutable tags and a
// layer shared with a kept image are kept.
#include <gtest/gtest.h>

#include <thread>

#include "lifecycle_support.hpp"

namespace berth::testing::lifecycle {
namespace {

namespace json = boost::json;

// Garbage collection on demand with no grace; pull statistics written every 100 ms.
const std::map<std::string, std::string> kServer = {{"BERTH_GC_INTERVAL", "0"},
                                                    {"BERTH_GC_BLOB_GRACE", "0"},
                                                    {"BERTH_STATS_FLUSH_INTERVAL", "100ms"}};

// "<repository><separator><key>" of every entry of a plan's `list` ("tags": "ret/app r1";
// "manifests": "ret/app@sha256:..."), in the plan's order.
std::vector<std::string> plan_entries(const json::object& plan, std::string_view list,
                                      std::string_view key, std::string_view separator) {
  std::vector<std::string> entries;
  for (const auto& entry : plan.at(list).as_array()) {
    entries.push_back(std::string(entry.at("repository").as_string()) + std::string(separator) +
                      std::string(entry.at(key).as_string()));
  }
  return entries;
}

std::vector<std::string> plan_tags(const json::object& plan) {
  return plan_entries(plan, "tags", "tag", " ");
}

std::vector<std::string> plan_manifests(const json::object& plan) {
  return plan_entries(plan, "manifests", "digest", "@");
}

std::uint64_t number(const json::object& object, std::string_view key) {
  return object.at(key).to_number<std::uint64_t>();
}

// What one manifest stores, by digest: an image's config, layers and own bytes, or an index's
// own bytes (its children are manifests of their own).
using Stored = std::map<std::string, std::uint64_t>;

Stored index_digests(const PushedIndex& index) { return {{index.digest, index.manifest.size()}}; }

TEST(RetentionOverHttp, PreviewListsExactlyWhatTheRunDeletesAndTheBytesItFrees) {
  CrashableBerth berth(kServer);
  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  AdminApi admin(registry.http());
  const std::string app = "ret/app";
  const std::string other = "ret/other";

  // Pushed in this order; tag names sort in push order too, so ties cannot reorder them.
  const auto r1 = push_index(registry, app, "r1");
  const auto r2 = push_image_of(registry, app, "r2", {new_layer(900), new_layer(300)}, true);
  const auto r3 = push_image_of(registry, app, "r3", {new_layer(400)}, true);
  const auto r4 = push_image_of(registry, app, "r4", {new_layer(500)}, true);
  const auto keep = push_image_of(registry, app, "keep-me", {new_layer(600)}, true);
  const auto r5 = push_index(registry, app, "r5");
  // r6 shares r2's first layer: deleting r2 does not free it.
  const auto r6 = push_image_of(registry, app, "r6", {r2.layers[0], new_layer(700)}, true);
  const auto o1 = push_image_of(registry, other, "o1", {new_layer(800)}, true);
  const auto o2 = push_image_of(registry, other, "o2", {new_layer(810)}, true);
  const auto o3 = push_image_of(registry, other, "o3", {new_layer(820)}, true);

  // keep_last 2 per repository, never keep-*; r3 is immutable. Candidates in ret/app are r1, r2,
  // r4, r5 and r6: r5 and r6 stay. In ret/other o2 and o3 stay.
  const std::string policy =
      R"({"enabled":false,"include":["*"],"exclude":["keep-*"],"rules":{"keep_last":2}})";
  const std::vector<std::string> doomed_tags = {app + " r1", app + " r2", app + " r4",
                                                other + " o1"};
  std::vector<std::string> doomed_manifests = {app + "@" + r1.digest,
                                               app + "@" + r1.children[0].digest,
                                               app + "@" + r1.children[1].digest,
                                               app + "@" + r2.digest,
                                               app + "@" + r4.digest,
                                               other + "@" + o1.digest};
  std::sort(doomed_manifests.begin(), doomed_manifests.end());
  Stored freed;
  for (const Stored& stored :
       {index_digests(r1), stored_digests(r1.children[0]), stored_digests(r1.children[1]),
        stored_digests(r2), stored_digests(r4), stored_digests(o1)}) {
    freed.insert(stored.begin(), stored.end());
  }
  Stored kept;
  for (const Stored& stored : {stored_digests(r3), stored_digests(keep), index_digests(r5),
                               stored_digests(r5.children[0]), stored_digests(r5.children[1]),
                               stored_digests(r6), stored_digests(o2), stored_digests(o3)}) {
    kept.insert(stored.begin(), stored.end());
  }
  for (const auto& [digest, size] : kept) {
    freed.erase(digest);
  }
  ASSERT_EQ(freed.count(r2.layers[0].digest), 0u);

  // r3 is protected first; then a preview of the policy before it is stored.
  const auto protect = admin.put_settings("ret", R"({"immutable_tags":["r3"]})");
  ASSERT_EQ(protect.status, 200u) << describe(protect);
  const auto tried = admin.preview("ret", policy);
  EXPECT_EQ(plan_tags(tried), doomed_tags) << json::serialize(tried);
  EXPECT_EQ(plan_manifests(tried), doomed_manifests) << json::serialize(tried);
  EXPECT_EQ(number(tried, "freed_blobs"), freed.size()) << json::serialize(tried);
  EXPECT_EQ(number(tried, "freed_bytes"), total_size(freed)) << json::serialize(tried);
  for (const auto& tag : tried.at("tags").as_array()) {
    EXPECT_EQ(json::serialize(tag.at("reasons")), R"(["keep_last"])");
  }

  // Stored (not enabled: no schedule), the stored policy previews the same.
  const auto stored =
      admin.put_settings("ret", R"({"immutable_tags":["r3"],"retention":)" + policy + "}");
  ASSERT_EQ(stored.status, 200u) << describe(stored);
  const auto preview = admin.preview("ret");
  EXPECT_EQ(plan_tags(preview), plan_tags(tried));
  EXPECT_EQ(plan_manifests(preview), plan_manifests(tried));
  EXPECT_EQ(number(preview, "freed_bytes"), number(tried, "freed_bytes"));
  // Nothing was deleted by previewing.
  EXPECT_EQ(image_problem(registry, app, "r2", r2), "");

  const auto usage_before = admin.usage("ret");
  const auto outcome = admin.run_retention("ret");
  EXPECT_EQ(plan_tags(outcome), plan_tags(preview)) << json::serialize(outcome);
  EXPECT_EQ(plan_manifests(outcome), plan_manifests(preview)) << json::serialize(outcome);
  EXPECT_EQ(number(outcome, "deleted_tags"), doomed_tags.size()) << json::serialize(outcome);
  EXPECT_EQ(number(outcome, "deleted_manifests"), doomed_manifests.size())
      << json::serialize(outcome);
  EXPECT_EQ(number(outcome, "skipped_tags"), 0u);
  EXPECT_EQ(number(outcome, "skipped_manifests"), 0u);
  EXPECT_EQ(number(outcome, "freed_bytes"), total_size(freed)) << json::serialize(outcome);

  // The registry agrees: exactly the planned tags and manifests are gone.
  auto app_tags = registry.list_tags(app);
  std::sort(app_tags.begin(), app_tags.end());
  EXPECT_EQ(app_tags, (std::vector<std::string>{"keep-me", "r3", "r5", "r6"}));
  EXPECT_EQ(registry.list_tags(other), (std::vector<std::string>{"o2", "o3"}));
  for (const auto& manifest : doomed_manifests) {
    const auto at = manifest.find('@');
    EXPECT_FALSE(registry.manifest_exists(manifest.substr(0, at), manifest.substr(at + 1)))
        << manifest << " was planned for deletion but is still there";
  }
  // The kept index keeps its children; kept images are whole (r6 with r2's layer).
  EXPECT_EQ(registry.get_manifest(app, "r5").body, r5.manifest);
  for (const auto& child : r5.children) {
    EXPECT_EQ(image_problem(registry, app, child.digest, child), "");
  }
  EXPECT_EQ(image_problem(registry, app, "r3", r3), "");
  EXPECT_EQ(image_problem(registry, app, "keep-me", keep), "");
  EXPECT_EQ(image_problem(registry, app, "r6", r6), "");
  EXPECT_EQ(image_problem(registry, other, "o2", o2), "");
  EXPECT_EQ(image_problem(registry, other, "o3", o3), "");

  // Once garbage collection has removed the links, usage has dropped by the freed bytes.
  const auto report = admin.gc(false);
  EXPECT_TRUE(report.at("errors").as_array().empty()) << json::serialize(report);
  const auto usage_after = admin.usage("ret");
  EXPECT_EQ(usage_before.bytes - usage_after.bytes, total_size(freed));
  EXPECT_EQ(usage_after.bytes, total_size(kept));
  EXPECT_EQ(usage_after.repositories, 2u);
  // ... and no bytes of them are left on disk; every kept one is.
  const auto files = blob_files(berth.data());
  for (const auto& [digest, size] : freed) {
    EXPECT_EQ(files.count(digest), 0u) << digest << " was freed but its file remains";
  }
  for (const auto& [digest, size] : kept) {
    EXPECT_EQ(files.count(digest), 1u) << digest << " is needed but its file is gone";
  }

  // Pull statistics reach the plan. The kept images were all pulled above; once that shows,
  // a pull of keep-me by tag and of r6 by digest (which counts for the tags on that manifest:
  // clients resolve a tag, then fetch by digest) move their last pull, and r5's stays.
  const std::string everything = R"({"include":["*"],"rules":{"keep_last":0}})";
  auto last_pulls = [&] {
    std::map<std::string, std::int64_t> pulls;
    const auto plan = admin.preview("ret", everything);
    for (const auto& tag : plan.at("tags").as_array()) {
      const auto& last = tag.at("last_pulled");
      pulls[std::string(tag.at("tag").as_string())] =
          last.is_null() ? 0 : last.to_number<std::int64_t>();
    }
    return pulls;
  };
  std::map<std::string, std::int64_t> before;
  EXPECT_TRUE(eventually(
      [&] {
        before = last_pulls();
        return before["r5"] > 0 && before["r6"] > 0 && before["keep-me"] > 0;
      },
      30s))
      << ::testing::PrintToString(before);
  std::this_thread::sleep_for(10ms);
  ASSERT_EQ(registry.get_manifest(app, "keep-me").status, 200u);
  ASSERT_EQ(registry.get_manifest(app, r6.digest).status, 200u);
  std::map<std::string, std::int64_t> after;
  EXPECT_TRUE(eventually(
      [&] {
        after = last_pulls();
        return after["keep-me"] > before["keep-me"] && after["r6"] > before["r6"];
      },
      30s))
      << ::testing::PrintToString(after);
  EXPECT_EQ(after["r5"], before["r5"]);

  // Run again, the policy finds nothing more to delete.
  const auto again = admin.preview("ret");
  EXPECT_TRUE(again.at("tags").as_array().empty()) << json::serialize(again);
  EXPECT_TRUE(again.at("manifests").as_array().empty()) << json::serialize(again);

  registry.http().close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

}  // namespace
}  // namespace berth::testing::lifecycle
