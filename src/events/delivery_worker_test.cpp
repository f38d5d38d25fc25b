// The delivery worker's loop over a fake outbox: when it runs a round again, which deliveries
// it starts. Sends go to a local port that refuses connections (each attempt fails at once).
#include "events/delivery_worker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <thread>

#include "testing/fake_clock.hpp"

namespace berth::events {
namespace {

using core::Result;
using namespace std::chrono_literals;

// An OutboxStore in memory that does what a test tells it: fan_out() reports full rounds as
// often as `full_fan_outs` says, the `pending` deliveries are due until recorded.
class FakeOutbox final : public meta::OutboxStore {
 public:
  Result<void> append(const std::vector<meta::OutboxEvent>&) override { return {}; }
  Result<std::size_t> fan_out(const std::vector<meta::EventRoute>&, core::TimePoint,
                              std::size_t limit) override {
    std::lock_guard lock(mutex_);
    ++fan_outs_;
    if (full_fan_outs_ > 0) {
      --full_fan_outs_;
      return limit;
    }
    return 0;
  }
  Result<std::vector<meta::Delivery>> due_deliveries(core::TimePoint, std::size_t limit,
                                                     std::size_t per_endpoint) override {
    std::lock_guard lock(mutex_);
    std::vector<meta::Delivery> due;
    std::map<std::string, std::size_t> taken;
    for (const auto& d : pending_) {
      if (due.size() < limit && taken[d.endpoint]++ < per_endpoint) {
        due.push_back(d);
      }
    }
    return due;
  }
  Result<bool> claim(const std::string&, const std::string& owner, core::TimePoint,
                     core::TimePoint) override {
    std::lock_guard lock(mutex_);
    claims_.push_back(owner);
    return true;
  }
  Result<void> record_attempt(const std::string& id, const std::string& owner, core::TimePoint,
                              bool, std::optional<int>, const std::string&,
                              std::optional<core::TimePoint> retry_at) override {
    std::lock_guard lock(mutex_);
    std::erase_if(pending_, [&](const meta::Delivery& d) { return d.id == id; });
    recorded_.push_back(id);
    recorded_owners_.push_back(owner);
    retried_ += retry_at ? 1 : 0;
    return {};
  }
  Result<std::vector<meta::Delivery>> list_deliveries(const meta::DeliveryFilter&) override {
    return std::vector<meta::Delivery>{};
  }
  Result<std::optional<meta::Delivery>> get_delivery(const std::string&) override {
    return std::optional<meta::Delivery>();
  }
  Result<bool> redeliver(const std::string&, core::TimePoint) override { return false; }
  Result<std::size_t> prune(core::TimePoint) override { return std::size_t{0}; }
  Result<void> add_webhook(const meta::Webhook&) override { return {}; }
  Result<std::vector<meta::Webhook>> list_webhooks(const std::string&) override {
    std::lock_guard lock(mutex_);
    return webhooks_;
  }
  Result<bool> delete_webhook(const std::string&, const std::string&) override { return false; }

  void add_webhook_of(const std::string& project, std::vector<std::string> events) {
    meta::Webhook hook;
    hook.id = "h" + std::to_string(webhooks_.size());
    hook.project = project;
    hook.events = std::move(events);
    std::lock_guard lock(mutex_);
    webhooks_.push_back(std::move(hook));
  }
  void set_full_fan_outs(std::size_t n) {
    std::lock_guard lock(mutex_);
    full_fan_outs_ = n;
  }
  void add_pending(const std::string& id, const std::string& endpoint) {
    meta::Delivery d;
    d.id = id;
    d.endpoint = endpoint;
    d.event.id = "e-" + id;
    d.event.type = "push";
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(d));
  }
  std::size_t fan_outs() {
    std::lock_guard lock(mutex_);
    return fan_outs_;
  }
  std::size_t recorded() {
    std::lock_guard lock(mutex_);
    return recorded_.size();
  }
  // The owners the claims named, and those the recorded attempts named, in order.
  std::pair<std::vector<std::string>, std::vector<std::string>> owners() {
    std::lock_guard lock(mutex_);
    return {claims_, recorded_owners_};
  }
  // Attempts recorded with a next attempt (not dead).
  std::size_t retried() {
    std::lock_guard lock(mutex_);
    return retried_;
  }

 private:
  std::mutex mutex_;  // guards everything below
  std::size_t full_fan_outs_ = 0;
  std::size_t fan_outs_ = 0;
  std::vector<meta::Delivery> pending_;
  std::vector<std::string> recorded_;
  std::vector<meta::Webhook> webhooks_;
  std::size_t retried_ = 0;
  std::vector<std::string> claims_;
  std::vector<std::string> recorded_owners_;
};

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Port 1 on the loopback: nothing listens there, a connection is refused at once.
constexpr const char* kRefusing = "http://127.0.0.1:1/hook";

WorkerOptions options() {
  WorkerOptions o;
  o.endpoints = {Endpoint{.url = kRefusing, .secret = "s", .events = {}}};
  o.max_attempts = 1;
  o.timeout = 2s;
  // Only what the worker does on its own shows: no round comes from the poll interval.
  o.poll_interval = std::chrono::hours(1);
  return o;
}

class DeliveryWorkerTest : public ::testing::Test {
 protected:
  FakeOutbox store_;
  testing::FakeClock clock_;
};

// Regression: a round that fanned out its limit of events waited for the poll interval before
// the next one (at most 200 events per interval).
TEST_F(DeliveryWorkerTest, AFullFanOutRoundIsFollowedByTheNextAtOnce) {
  store_.set_full_fan_outs(2);
  DeliveryWorker worker(store_, clock_, options());
  worker.start();
  EXPECT_TRUE(eventually([&] { return store_.fan_outs() >= 3; })) << store_.fan_outs();
}

// Regression: an attempt that ended freed its endpoint's slot, but the next delivery waited for
// the poll interval.
TEST_F(DeliveryWorkerTest, AFreedSlotStartsTheEndpointsNextDeliveryAtOnce) {
  for (const auto* id : {"d1", "d2", "d3"}) {
    store_.add_pending(id, config_endpoint_key(kRefusing));
  }
  auto o = options();
  o.concurrency = 1;
  DeliveryWorker worker(store_, clock_, std::move(o));
  worker.start();
  EXPECT_TRUE(eventually([&] { return store_.recorded() == 3; })) << store_.recorded();
}

// Regression: the delivery of a deleted webhook (or of an endpoint gone from the config) was
// tried max_attempts times over an hour before it was dead.
TEST_F(DeliveryWorkerTest, ADeliveryWhoseEndpointIsGoneIsDeadAtOnce) {
  store_.add_pending("gone", config_endpoint_key("http://127.0.0.1:1/removed"));
  store_.add_pending("deleted-webhook", "project:h1");
  auto o = options();
  o.max_attempts = 12;
  DeliveryWorker worker(store_, clock_, std::move(o));
  (void)worker.run_round();
  EXPECT_EQ(store_.recorded(), 2u);
  EXPECT_EQ(store_.retried(), 0u);
}

// Regression: the lease owner was one per process, so the late outcome of an attempt whose
// lease had lapsed was recorded over the attempt of a newer claim by the same process.
TEST_F(DeliveryWorkerTest, EachClaimHasItsOwnLeaseToken) {
  store_.add_pending("a", config_endpoint_key(kRefusing));
  store_.add_pending("b", config_endpoint_key(kRefusing));
  DeliveryWorker worker(store_, clock_, options());
  worker.start();
  ASSERT_TRUE(eventually([&] { return store_.recorded() == 2; }));
  auto [claims, recorded] = store_.owners();
  ASSERT_EQ(claims.size(), 2u);
  EXPECT_NE(claims[0], claims[1]);
  std::ranges::sort(claims);
  std::ranges::sort(recorded);
  EXPECT_EQ(claims, recorded);
}

// What nobody subscribes to is neither built nor written: the registry asks wants() first.
TEST_F(DeliveryWorkerTest, ItWantsWhatTheEndpointsAndTheProjectWebhooksSubscribeTo) {
  auto o = options();
  o.endpoints[0].events = {"gc_finished"};
  store_.add_webhook_of("team", {"push", "delete"});
  store_.add_webhook_of("everything", {});
  DeliveryWorker worker(store_, clock_, std::move(o));
  // Before the first snapshot, everything: nothing is lost at start.
  EXPECT_TRUE(worker.wants("pull", "team"));
  worker.subscriptions_changed();
  EXPECT_TRUE(worker.wants("push", "team"));
  EXPECT_TRUE(worker.wants("delete", "team"));
  EXPECT_FALSE(worker.wants("pull", "team"));
  EXPECT_FALSE(worker.wants("push", "other"));
  EXPECT_TRUE(worker.wants("pull", "everything"));
  EXPECT_TRUE(worker.wants("quota_exceeded", "everything"));
  EXPECT_TRUE(worker.wants("gc_finished", ""));
  EXPECT_TRUE(worker.wants("gc_finished", "other"));
  EXPECT_FALSE(worker.wants("retention_finished", "other"));
  // A webhook added here counts once this process says so.
  store_.add_webhook_of("other", {"pull"});
  EXPECT_FALSE(worker.wants("pull", "other"));
  worker.subscriptions_changed();
  EXPECT_TRUE(worker.wants("pull", "other"));
}

}  // namespace
}  // namespace berth::events
