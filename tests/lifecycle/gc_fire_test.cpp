// Garbage collection under fire. Client threads, each owning two repositories, push images and
// multi-platform indexes, move tags, tag old (possibly collectable) manifests again, mount
// layers from one of their repositories into the other, delete tags and manifests, and pull
// their tagged images, in a loop; meanwhile garbage collection runs all the time: through POST
// /api/v1/gc, and as `berth gc --data DIR` in processes beside the server. The grace for blobs
// is short (gc.blob_grace=5s), and untagged manifests go after a second
// (gc.untagged_after=1s), so collection races tagging old manifests again, mounts, deletes and
// pulls.
//
// A fresh push (new blobs, then the manifest naming them) and a collection never overlap, so a
// fresh push must always be acknowledged. Were they to overlap, a push slowed past the grace
// (or, for an index's untagged children, past gc.untagged_after) by a loaded machine could
// lose what it uploaded to a collection, as those limits allow, and the test could only forgive
// refusals by how long the push took. The test keeps them apart with the "gc" lease that every
// collector must hold (CollectionWindows): it holds the lease itself while fresh pushes run,
// and lets it go for a window every period.
//
// Each thread keeps a ledger of what the server acknowledged in its repositories, and knows at
// every moment what must be there: every tag names the manifest last acknowledged for it, and
// that manifest, the children of an index and every blob they name read back byte for byte.
// Every pull during the fire checks that. Tagging again a manifest that is untagged may fail
// (garbage collection may have taken it: that is its job) but must never be acknowledged for
// an image that is not whole; a fresh push must always be acknowledged.
//
// Afterwards: every tag of every ledger resolves to a whole image and the tag lists are exactly
// the ledgers'; manifests deleted are gone. Then, once the grace has passed, one more `berth gc`
// and a dry run through the API that finds nothing, and on disk exactly the blobs the remaining
// images need, each hashing to its name: no unreferenced blob older than the grace remains.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>

#include "lifecycle_support.hpp"

namespace berth::testing::lifecycle {
namespace {

namespace json = boost::json;

constexpr auto kGrace = 5s;
constexpr auto kFire = 20s;
constexpr std::size_t kWorkers = 4;

const std::map<std::string, std::string> kServerGc = {
    {"BERTH_GC_INTERVAL", "1s"}, {"BERTH_GC_BLOB_GRACE", "5s"}, {"BERTH_GC_UNTAGGED_AFTER", "1s"}};

// Alternates pushing windows, in which the test holds the "gc" lease (collectors, the server's
// schedule included, find it taken and try again later) and fresh pushes may start, with
// collection windows, which open once the fresh pushes under way have finished and in which the
// lease is free. A collection still running when its window closes keeps the next pushing
// window from opening until it ends. Pushes that are not fresh (tagging old manifests again,
// mounts, deletes, pulls) go on all the time, racing the collections.
class CollectionWindows {
 public:
  explicit CollectionWindows(fs::path data) : data_(std::move(data)) {}

  // Lock and unlock_shared bracket a fresh push (std::shared_lock).
  void lock_shared() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return pushing_; });
    ++fresh_pushes_;
  }
  void unlock_shared() {
    std::lock_guard lock(mutex_);
    --fresh_pushes_;
    changed_.notify_all();
  }

  // The windows, until `stop`; then a last pushing window for good (the workers finish their
  // step), whose lease finish() gives back.
  void run(const std::atomic<bool>& stop) {
    while (true) {
      hold_lease();
      set_pushing(true);
      if (stop.load()) {
        return;
      }
      std::this_thread::sleep_for(600ms);
      set_pushing(false);
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return fresh_pushes_ == 0; });
      }
      release_gc_lease(data_, kHolder);
      ++collection_windows_;
      std::this_thread::sleep_for(400ms);
    }
  }
  void finish() { release_gc_lease(data_, kHolder); }

  std::size_t collection_windows() const { return collection_windows_; }

 private:
  static constexpr std::string_view kHolder = "gc-fire-test";

  void hold_lease() {
    // A collection that started in the last window finishes first.
    if (!eventually([&] { return try_hold_gc_lease(data_, kHolder, 5min); }, 120s)) {
      throw std::runtime_error("no collection ever let go of the gc lease");
    }
  }
  void set_pushing(bool pushing) {
    std::lock_guard lock(mutex_);
    pushing_ = pushing;
    changed_.notify_all();
  }

  fs::path data_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool pushing_ = false;          // guarded by mutex_
  std::size_t fresh_pushes_ = 0;  // guarded by mutex_
  std::atomic<std::size_t> collection_windows_{0};
};
const std::vector<std::string> kCliGc = {"--grace", "5s", "--untagged-after", "1s"};

// A manifest a worker pushed and the server acknowledged.
struct Pushed {
  std::string repo;
  std::string digest;
  std::string bytes;
  std::string media_type;
  // Set for images.
  std::optional<PushedImage> image;
  // For indexes: the children's keys (repo@digest).
  std::vector<std::string> children;
};

std::string key_of(const std::string& repo, const std::string& digest) {
  return repo + "@" + digest;
}

class Worker {
 public:
  Worker(std::size_t index, std::uint16_t port, CollectionWindows& windows)
      : index_(index),
        windows_(windows),
        random_(0x6c1f00d + index),
        registry_("127.0.0.1", port),
        repos_{"fire/w" + std::to_string(index) + "-a", "fire/w" + std::to_string(index) + "-b"} {}

  void run(const std::atomic<bool>& stop) {
    while (!stop.load()) {
      try {
        step();
      } catch (const std::exception& e) {
        problem(std::string("exception: ") + e.what());
      }
      if (problems_.size() > 20) {
        return;
      }
    }
  }

  // After the fire: everything the ledger says is there.
  void verify() {
    for (const auto& repo : repos_) {
      std::vector<std::string> expected;
      for (const auto& [tag_key, digest] : tags_) {
        if (tag_key.starts_with(repo + " ")) {
          expected.push_back(tag_key.substr(repo.size() + 1));
        }
      }
      auto listed = registry_.list_tags(repo);
      std::sort(listed.begin(), listed.end());
      std::sort(expected.begin(), expected.end());
      if (listed != expected) {
        problem("tags of " + repo + " are " + json::serialize(json::value_from(listed)) +
                ", the ledger says " + json::serialize(json::value_from(expected)));
      }
    }
    for (const auto& [tag_key, digest] : tags_) {
      const auto space = tag_key.find(' ');
      check_whole(tag_key.substr(0, space), tag_key.substr(space + 1),
                  manifests_.at(key_of(tag_key.substr(0, space), digest)));
    }
    for (const auto& key : deleted_) {
      const auto at = key.find('@');
      const auto response =
          registry_.http().head("/v2/" + key.substr(0, at) + "/manifests/" + key.substr(at + 1));
      if (response.status != 404) {
        problem("deleted manifest " + key + " answers " + std::to_string(response.status));
      }
    }
  }

  // The blobs the live manifests store (config, layers, manifests' own bytes).
  void add_live_digests(std::map<std::string, std::uint64_t>& digests) const {
    for (const auto& key : live()) {
      const auto& pushed = manifests_.at(key);
      digests[pushed.digest] = pushed.bytes.size();
      if (pushed.image) {
        const auto stored = stored_digests(*pushed.image);
        digests.insert(stored.begin(), stored.end());
      }
    }
  }

  // Untagged manifests that are no child of a tagged index: collectable.
  std::vector<std::string> collectable() const {
    const auto alive = live();
    std::vector<std::string> keys;
    for (const auto& [key, pushed] : manifests_) {
      if (!alive.contains(key)) {
        keys.push_back(key);
      }
    }
    return keys;
  }

  const std::vector<std::string>& problems() const { return problems_; }
  std::string stats() const {
    return "worker " + std::to_string(index_) + ": " + std::to_string(pushes_) + " pushes, " +
           std::to_string(indexes_) + " indexes, " + std::to_string(mounts_) + " mounts, " +
           std::to_string(retags_) + " re-tags (" + std::to_string(retags_collected_) +
           " of collected manifests refused), " + std::to_string(tag_deletes_) + " tag deletes, " +
           std::to_string(manifest_deletes_) + " manifest deletes, " + std::to_string(pulls_) +
           " pulls";
  }
  RegistryClient& registry() { return registry_; }

 private:
  void problem(std::string text) {
    problems_.push_back("worker " + std::to_string(index_) + ": " + std::move(text));
  }

  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }
  const std::string& some_repo() { return repos_[pick(2)]; }

  // Keys of the manifests that must be there: tagged ones and the children of tagged indexes.
  std::set<std::string> live() const {
    std::set<std::string> keys;
    for (const auto& [tag_key, digest] : tags_) {
      const auto repo = tag_key.substr(0, tag_key.find(' '));
      const auto key = key_of(repo, digest);
      keys.insert(key);
      for (const auto& child : manifests_.at(key).children) {
        keys.insert(child);
      }
    }
    return keys;
  }

  std::vector<std::string> tag_keys() const {
    std::vector<std::string> keys;
    for (const auto& [tag_key, digest] : tags_) {
      keys.push_back(tag_key);
    }
    return keys;
  }

  std::string new_tag() { return "t" + std::to_string(next_tag_++); }

  // The tag to push to: usually a new one, sometimes one that moves.
  std::string tag_for(const std::string& repo) {
    if (pick(4) == 0) {
      for (const auto& tag_key : tag_keys()) {
        if (tag_key.starts_with(repo + " ") && pick(3) == 0) {
          return tag_key.substr(repo.size() + 1);
        }
      }
    }
    return new_tag();
  }

  void record(Pushed pushed, const std::string& tag) {
    const auto key = key_of(pushed.repo, pushed.digest);
    deleted_.erase(key);
    if (!tag.empty()) {
      tags_[pushed.repo + " " + tag] = pushed.digest;
    }
    manifests_[key] = std::move(pushed);
  }

  void step() {
    const auto choice = pick(100);
    if (choice < 25) {
      push_image();
    } else if (choice < 35) {
      push_multi_platform();
    } else if (choice < 45) {
      push_with_mount();
    } else if (choice < 60) {
      retag();
    } else if (choice < 70) {
      delete_tag();
    } else if (choice < 75) {
      delete_manifest();
    } else {
      pull();
    }
  }

  // A fresh push must be acknowledged: no collection runs while it does.
  template <class Push>
  void fresh(std::string_view what, Push push) {
    std::shared_lock no_collection(windows_);
    try {
      push();
    } catch (const RegistryClientError& e) {
      problem(std::string(what) + " refused although its blobs were fresh: " + e.what());
    }
  }

  std::vector<PushedBlob> new_layers() {
    std::vector<PushedBlob> layers;
    const std::size_t n = 1 + pick(2);
    for (std::size_t i = 0; i < n; ++i) {
      layers.push_back(new_layer(64 + pick(16 * 1024)));
    }
    return layers;
  }

  static Pushed of(const std::string& repo, const PushedImage& image) {
    return Pushed{repo, image.digest, image.manifest, image.media_type, image, {}};
  }

  void push_image() {
    const auto& repo = some_repo();
    const auto tag = tag_for(repo);
    fresh("push of " + repo + ":" + tag, [&] {
      const auto image = push_image_of(registry_, repo, tag, new_layers(), true);
      record(of(repo, image), tag);
      ++pushes_;
    });
  }

  void push_multi_platform() {
    const auto& repo = some_repo();
    const auto tag = tag_for(repo);
    fresh("index push of " + repo + ":" + tag, [&] {
      const auto index = push_index(registry_, repo, tag, 2, 64 + pick(4096));
      Pushed pushed{repo,           index.digest,
                    index.manifest, std::string(media_types::kOciIndex),
                    std::nullopt,   {}};
      for (const auto& child : index.children) {
        pushed.children.push_back(key_of(repo, child.digest));
        record(of(repo, child), "");
      }
      record(std::move(pushed), tag);
      ++indexes_;
    });
  }

  // Mounts a layer of a live image of one repository into the other and pushes an image there
  // that uses it: the source is live, so the mount must succeed.
  void push_with_mount() {
    const auto from = pick(2);
    const auto& source = repos_[from];
    const auto& target = repos_[1 - from];
    std::vector<const Pushed*> images;
    for (const auto& key : live()) {
      const auto& pushed = manifests_.at(key);
      if (pushed.repo == source && pushed.image && !pushed.image->layers.empty()) {
        images.push_back(&pushed);
      }
    }
    if (images.empty()) {
      return push_image();
    }
    const auto layer = images[pick(images.size())]->image->layers[0];
    const auto tag = tag_for(target);
    // The mount links the layer anew: inside the fresh push, as its uploads are.
    fresh("push over a mount into " + target + ":" + tag, [&] {
      const auto mounted = registry_.http().post(
          "/v2/" + target + "/blobs/uploads/?mount=" + layer.digest + "&from=" + source, "");
      if (mounted.status != 201) {
        return problem("mount of live " + layer.digest + " from " + source + " answered " +
                       describe(mounted).substr(0, 300));
      }
      auto layers = new_layers();
      for (const auto& fresh_layer : layers) {
        registry_.push_blob(target, fresh_layer.bytes);
      }
      layers.insert(layers.begin(), layer);
      const auto image = push_image_of(registry_, target, tag, layers, false);
      record(of(target, image), tag);
      ++mounts_;
    });
  }

  // Tags a manifest again, maybe one that is untagged and collectable.
  void retag() {
    if (manifests_.empty()) {
      return push_image();
    }
    auto it = manifests_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(pick(manifests_.size())));
    const Pushed pushed = it->second;
    const auto key = it->first;
    const bool was_live = live().contains(key);
    const auto tag = tag_for(pushed.repo);
    const auto response = registry_.http().put("/v2/" + pushed.repo + "/manifests/" + tag,
                                               pushed.bytes, {{"Content-Type", pushed.media_type}});
    ++retags_;
    if (response.status == 201) {
      record(pushed, tag);
      return;
    }
    const auto code = error_code(response);
    const bool collected =
        (response.status == 400 && (code == "MANIFEST_BLOB_UNKNOWN" || code == "MANIFEST_UNKNOWN" ||
                                    code == "BLOB_UNKNOWN")) ||
        response.status == 503;
    if (was_live || !collected) {
      return problem(std::string(was_live ? "live" : "untagged") + " manifest " + key +
                     " tagged again as " + tag + " answered " + describe(response).substr(0, 300));
    }
    // Garbage collection took it (or is taking it): it is gone for the ledger too.
    ++retags_collected_;
    manifests_.erase(key);
  }

  // A tag of the ledger picked at random, as (repository, tag); nullopt when there is none.
  std::optional<std::pair<std::string, std::string>> some_tag() {
    const auto keys = tag_keys();
    if (keys.empty()) {
      return std::nullopt;
    }
    const auto& tag_key = keys[pick(keys.size())];
    const auto space = tag_key.find(' ');
    return std::pair(tag_key.substr(0, space), tag_key.substr(space + 1));
  }

  void delete_tag() {
    const auto picked = some_tag();
    if (!picked) {
      return push_image();
    }
    const auto& [repo, tag] = *picked;
    const auto response = registry_.http().del("/v2/" + repo + "/manifests/" + tag);
    if (response.status != 202) {
      return problem("DELETE tag " + repo + ":" + tag + " answered " +
                     describe(response).substr(0, 300));
    }
    tags_.erase(repo + " " + tag);
    ++tag_deletes_;
  }

  void delete_manifest() {
    const auto picked = some_tag();
    if (!picked) {
      return push_image();
    }
    const auto& [repo, tag] = *picked;
    const auto digest = tags_.at(repo + " " + tag);
    // Not a child of an index: deleting it would break the index, which is not the point here.
    for (const auto& [key, pushed] : manifests_) {
      if (std::find(pushed.children.begin(), pushed.children.end(), key_of(repo, digest)) !=
          pushed.children.end()) {
        return delete_tag();
      }
    }
    const auto response = registry_.http().del("/v2/" + repo + "/manifests/" + digest);
    if (response.status != 202) {
      return problem("DELETE manifest " + repo + "@" + digest + " answered " +
                     describe(response).substr(0, 300));
    }
    for (auto it = tags_.begin(); it != tags_.end();) {
      it = it->first.starts_with(repo + " ") && it->second == digest ? tags_.erase(it)
                                                                     : std::next(it);
    }
    manifests_.erase(key_of(repo, digest));
    deleted_.insert(key_of(repo, digest));
    ++manifest_deletes_;
  }

  void pull() {
    const auto picked = some_tag();
    if (!picked) {
      return push_image();
    }
    const auto& [repo, tag] = *picked;
    check_whole(repo, tag, manifests_.at(key_of(repo, tags_.at(repo + " " + tag))));
    ++pulls_;
  }

  // The manifest reads back by `reference` byte for byte, and so does everything it needs.
  void check_whole(const std::string& repo, const std::string& reference, const Pushed& pushed) {
    if (pushed.image) {
      if (auto wrong = image_problem(registry_, repo, reference, *pushed.image); !wrong.empty()) {
        problem(wrong);
      }
      return;
    }
    const auto response = registry_.get_manifest(repo, reference);
    if (response.status != 200 || response.body != pushed.bytes) {
      return problem("index " + repo + ":" + reference + " answered " +
                     describe(response).substr(0, 300));
    }
    for (const auto& child : pushed.children) {
      const auto found = manifests_.find(child);
      if (found == manifests_.end()) {
        // Tagging the child again was refused as collected, yet the index was acknowledged.
        problem("index " + repo + ":" + reference + " was acknowledged without its child " + child);
        continue;
      }
      const auto& image = *found->second.image;
      if (auto wrong = image_problem(registry_, repo, image.digest, image); !wrong.empty()) {
        problem("child of " + repo + ":" + reference + ": " + wrong);
      }
    }
  }

  std::size_t index_;
  CollectionWindows& windows_;
  std::mt19937_64 random_;
  RegistryClient registry_;
  std::array<std::string, 2> repos_;
  std::map<std::string, Pushed> manifests_;
  // "repo tag" → digest.
  std::map<std::string, std::string> tags_;
  // Keys of manifests deleted by digest (and not pushed again).
  std::set<std::string> deleted_;
  std::vector<std::string> problems_;
  std::size_t next_tag_ = 0;
  std::size_t pushes_ = 0, indexes_ = 0, mounts_ = 0, retags_ = 0, retags_collected_ = 0,
              tag_deletes_ = 0, manifest_deletes_ = 0, pulls_ = 0;
};

// Collections beside the workers: through the admin API and as `berth gc` processes. Counts
// what they removed; anything but a report or "already running" is a problem.
class Collectors {
 public:
  Collectors(std::uint16_t port, fs::path data)
      : http_("127.0.0.1", port), data_(std::move(data)) {}

  void run_api(const std::atomic<bool>& stop) {
    AdminApi admin(http_);
    while (!stop.load()) {
      try {
        const auto response = admin.try_gc(false);
        if (response.status == 200) {
          count(json_object(response.body), api_runs_);
        } else if (response.status != 409) {
          problem("POST /api/v1/gc answered " + describe(response).substr(0, 300));
        }
      } catch (const std::exception& e) {
        problem(std::string("POST /api/v1/gc: ") + e.what());
      }
      std::this_thread::sleep_for(150ms);
    }
  }

  void run_cli(const std::atomic<bool>& stop) {
    while (!stop.load()) {
      auto args = kCliGc;
      args.insert(args.begin(), {"gc", "--json"});
      const auto result = berth_on(data_, args);
      if (result.status == 0) {
        count(json_object(result.out), cli_runs_);
      } else if (result.status != 75) {
        problem("berth gc exited " + std::to_string(result.status) + ": " + result.out +
                result.err);
      }
    }
  }

  std::vector<std::string> problems() const {
    std::lock_guard lock(mutex_);
    return problems_;
  }
  std::string stats() const {
    std::lock_guard lock(mutex_);
    std::string text = std::to_string(api_runs_) + " collections through the API, " +
                       std::to_string(cli_runs_) + " by berth gc, removing";
    for (const auto& [kind, n] : removed_) {
      text += " " + std::to_string(n) + " " + kind;
    }
    return text;
  }
  std::size_t removed(const std::string& kind) const {
    std::lock_guard lock(mutex_);
    auto it = removed_.find(kind);
    return it == removed_.end() ? 0 : it->second;
  }

 private:
  void count(const json::object& report, std::size_t& runs) {
    std::lock_guard lock(mutex_);
    ++runs;
    for (const auto& item : report.at("removed").as_array()) {
      ++removed_[std::string(item.at("kind").as_string())];
    }
    for (const auto& error : report.at("errors").as_array()) {
      problems_.push_back("collection error: " + json::serialize(error));
    }
  }
  void problem(std::string text) {
    std::lock_guard lock(mutex_);
    problems_.push_back(std::move(text));
  }

  HttpClient http_;
  fs::path data_;
  // Guards everything below.
  mutable std::mutex mutex_;
  std::size_t api_runs_ = 0;
  std::size_t cli_runs_ = 0;
  std::map<std::string, std::size_t> removed_;
  std::vector<std::string> problems_;
};

TEST(GcUnderFire, AcknowledgedImagesSurviveAndNothingUnreferencedRemains) {
  CrashableBerth berth(kServerGc);
  berth.start();
  CollectionWindows windows(berth.data());
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t i = 0; i < kWorkers; ++i) {
    workers.push_back(std::make_unique<Worker>(i, berth.port(), windows));
  }
  Collectors collectors(berth.port(), berth.data());

  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    threads.emplace_back([&stop, w = worker.get()] { w->run(stop); });
  }
  threads.emplace_back([&] { collectors.run_api(stop); });
  threads.emplace_back([&] { collectors.run_cli(stop); });
  std::string windows_failure;
  threads.emplace_back([&] {
    try {
      windows.run(stop);
    } catch (const std::exception& e) {
      windows_failure = e.what();
    }
  });
  std::this_thread::sleep_for(kFire);
  stop = true;
  for (auto& thread : threads) {
    thread.join();
  }
  windows.finish();
  ASSERT_EQ(windows_failure, "");
  const auto quiet_since = std::chrono::steady_clock::now();
  std::cout << windows.collection_windows() << " collection windows; " << collectors.stats()
            << "\n";
  for (const auto& worker : workers) {
    std::cout << worker->stats() << "\n";
  }

  // Nothing went wrong during the fire, and collection did real work beside the pushes.
  for (const auto& worker : workers) {
    EXPECT_TRUE(worker->problems().empty()) << ::testing::PrintToString(worker->problems());
  }
  EXPECT_TRUE(collectors.problems().empty()) << ::testing::PrintToString(collectors.problems());
  EXPECT_GT(collectors.removed("link"), 0u) << collectors.stats();
  EXPECT_GT(collectors.removed("blob"), 0u) << collectors.stats();

  // Everything the ledgers say is there, is.
  for (auto& worker : workers) {
    worker->verify();
    EXPECT_TRUE(worker->problems().empty()) << ::testing::PrintToString(worker->problems());
  }

  // Once the grace has passed since the last push, one more collection leaves exactly what the
  // remaining images need.
  std::this_thread::sleep_until(quiet_since + kGrace + 1500ms);
  const auto last = gc_on(berth.data(), kCliGc);
  EXPECT_TRUE(last.at("errors").as_array().empty()) << json::serialize(last);
  HttpClient http("127.0.0.1", berth.port());
  const auto dry = AdminApi(http).gc(true);
  EXPECT_TRUE(dry.at("removed").as_array().empty())
      << "left after the last collection: " << ::testing::PrintToString(removed_items(dry));
  std::map<std::string, std::uint64_t> needed;
  for (const auto& worker : workers) {
    worker->add_live_digests(needed);
  }
  const auto on_disk = blob_files(berth.data());
  std::vector<std::string> extra;
  std::vector<std::string> lost;
  for (const auto& [digest, size] : on_disk) {
    if (!needed.contains(digest)) {
      extra.push_back(digest);
    }
  }
  for (const auto& [digest, size] : needed) {
    if (on_disk.find(digest) == on_disk.end() || on_disk.at(digest) != size) {
      lost.push_back(digest);
    }
  }
  EXPECT_TRUE(extra.empty()) << extra.size() << " blob files nothing needs remain, e.g. "
                             << extra.front();
  EXPECT_TRUE(lost.empty()) << lost.size() << " needed blob files are gone, e.g. " << lost.front();
  const auto files = crash::check_blob_files(berth.data());
  EXPECT_TRUE(files.problems.empty()) << ::testing::PrintToString(files.problems);
  // Untagged manifests went with them.
  for (auto& worker : workers) {
    for (const auto& key : worker->collectable()) {
      const auto at = key.find('@');
      EXPECT_FALSE(worker->registry().manifest_exists(key.substr(0, at), key.substr(at + 1)))
          << "untagged " << key << " outlived gc.untagged_after";
    }
    worker->registry().http().close();
  }
  http.close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  EXPECT_EQ(crash::find_sanitizer_report(berth.logs()), "");
}

// Reachability as a collection sees it, deterministically: a referrer lives with its tagged
// subject and goes with it; an index keeps its children; an untagged image, and a referrer of
// it, go once untagged for longer than gc.untagged_after. The dry run lists exactly what the
// run then removes.
TEST(GcReachability, ReferrersLiveWithTheirSubjectAndTheDryRunIsWhatTheRunRemoves) {
  CrashableBerth berth({{"BERTH_GC_INTERVAL", "0"},
                        {"BERTH_GC_BLOB_GRACE", "0"},
                        {"BERTH_GC_UNTAGGED_AFTER", "1s"}});
  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  AdminApi admin(registry.http());
  const std::string repo = "reach/app";
  auto referrer_of = [&](const PushedImage& subject) {
    const auto payload = random_bytes(100);
    registry.push_blob(repo, payload);
    registry.push_blob(repo, "{}");
    PushedImage referrer;
    referrer.config = {"{}", sha256_digest("{}")};
    referrer.layers = {{payload, sha256_digest(payload)}};
    referrer.media_type = std::string(media_types::kOciManifest);
    referrer.manifest = make_image_manifest(describe(media_types::kOciEmpty, "{}"),
                                            {describe("application/octet-stream", payload)},
                                            ManifestOptions()
                                                .with_artifact_type("application/vnd.example.sbom")
                                                .with_subject(subject.descriptor));
    referrer.digest = registry.push_manifest(repo, sha256_digest(referrer.manifest),
                                             referrer.manifest, referrer.media_type);
    return referrer;
  };
  const auto options = ImageOptions().with_layers(1).with_layer_size(300);
  const auto subject = registry.push_image(repo, "s", options);
  const auto sbom = referrer_of(subject);
  const auto untagged = registry.push_image(repo, "", options);
  const auto stray_sbom = referrer_of(untagged);
  const auto index = push_index(registry, repo, "i");
  std::this_thread::sleep_for(1500ms);

  const auto dry = admin.gc(true);
  const auto run = admin.gc(false);
  auto planned = removed_items(dry);
  auto removed = removed_items(run);
  std::sort(planned.begin(), planned.end());
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(planned, removed);
  std::vector<std::string> manifests;
  for (const auto& item : removed) {
    if (item.starts_with("manifest ")) {
      manifests.push_back(item);
    }
  }
  std::vector<std::string> expected = {"manifest " + repo + "@" + untagged.digest,
                                       "manifest " + repo + "@" + stray_sbom.digest};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(manifests, expected);

  EXPECT_EQ(image_problem(registry, repo, "s", subject), "");
  EXPECT_EQ(image_problem(registry, repo, sbom.digest, sbom), "");
  const auto referrers = registry.http().get("/v2/" + repo + "/referrers/" + subject.digest);
  ASSERT_EQ(referrers.status, 200u) << describe(referrers);
  EXPECT_NE(referrers.body.find(sbom.digest), std::string::npos) << referrers.body;
  EXPECT_EQ(registry.get_manifest(repo, "i").body, index.manifest);
  for (const auto& child : index.children) {
    EXPECT_EQ(image_problem(registry, repo, child.digest, child), "");
  }
  EXPECT_FALSE(registry.manifest_exists(repo, untagged.digest));
  EXPECT_FALSE(registry.manifest_exists(repo, stray_sbom.digest));
  EXPECT_FALSE(registry.blob_exists(repo, untagged.layers[0].digest));

  // Untag the subject: it and its referrer go together, once untagged long enough.
  ASSERT_EQ(registry.http().del("/v2/" + repo + "/manifests/s").status, 202u);
  std::this_thread::sleep_for(1500ms);
  const auto second = admin.gc(false);
  EXPECT_TRUE(second.at("errors").as_array().empty()) << json::serialize(second);
  EXPECT_FALSE(registry.manifest_exists(repo, subject.digest));
  EXPECT_FALSE(registry.manifest_exists(repo, sbom.digest));
  EXPECT_FALSE(registry.blob_exists(repo, sbom.layers[0].digest));
  EXPECT_EQ(registry.get_manifest(repo, "i").body, index.manifest);
  EXPECT_TRUE(admin.gc(true).at("removed").as_array().empty());

  registry.http().close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

}  // namespace
}  // namespace berth::testing::lifecycle
