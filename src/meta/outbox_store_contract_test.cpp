// The OutboxStore contract suite (outbox_store.hpp), on SQLite and PostgreSQL: events ride in
// the transactions of the changes they tell of (and vanish with a refused one), fan out into
// one delivery per wanting endpoint, are claimed by exactly one worker, retried, declared dead,
// redelivered under the same id, pruned; project webhooks are added, listed and deleted.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "testing/store_openers.hpp"

namespace berth::meta {
namespace {

core::TimePoint at(std::int64_t ms) { return core::from_unix_ms(ms); }
core::RepositoryName repo(const std::string& name) {
  return core::RepositoryName::parse(name).value();
}
core::Digest digest(const std::string& bytes) { return core::Digest::of(bytes); }

OutboxEvent event(const std::string& type, const std::string& repository, std::int64_t when) {
  OutboxEvent e;
  e.id = random_event_id();
  e.type = type;
  e.time = at(when);
  e.project = std::string(repo(repository).project());
  e.repository = repository;
  e.origin = EventOrigin{.actor = "alice",
                         .remote_addr = "10.0.0.1",
                         .user_agent = "docker",
                         .request_id = "r1",
                         .method = "PUT",
                         .host = "h"};
  return e;
}

const std::vector<EventRoute> kAll{EventRoute{"config:http://all", {}}};

class OutboxStoreContract : public StoresContract {
 protected:
  OutboxStore& store() { return *stores_.outbox; }
  MetadataStore& metadata() { return *stores_.metadata; }

  std::vector<Delivery> due(std::int64_t when) {
    return store().due_deliveries(at(when), 100, 100).value();
  }

  // A webhook of `project` that wants every event.
  static Webhook webhook(std::string id, std::string project, std::string url = "http://hook") {
    return Webhook{.id = std::move(id),
                   .project = std::move(project),
                   .url = std::move(url),
                   .secret = "s",
                   .events = {},
                   .format = "cloudevents",
                   .created = at(1),
                   .created_by = "alice"};
  }

  // An image manifest of `repository` naming one blob, linked first.
  ManifestPut image(const std::string& repository, const std::string& content) {
    const BlobRef layer{digest("layer-" + content), 10};
    EXPECT_TRUE(metadata().link_blob(repo(repository), layer, at(1)));
    return ManifestPut{repo(repository),
                       ManifestRecord{digest(content), "application/vnd.oci.image.manifest.v1+json",
                                      100, "", std::nullopt, "", at(1)},
                       {layer},
                       {},
                       {}};
  }
};

TEST_P(OutboxStoreContract, APushWritesItsEventInItsTransactionAndARefusedOneWritesNone) {
  auto put = image("app/web", "m1");
  put.tags.push_back(core::Tag::parse("v1").value());
  auto pushed = event(event_type::kPush, "app/web", 5);
  pushed.digest = put.manifest.digest.str();
  pushed.tag = "v1";
  pushed.size = 100;
  put.events = {pushed};
  ASSERT_TRUE(metadata().put_manifest(put).value().stored());

  auto refused = image("app/web", "m2");
  refused.blobs.push_back(BlobRef{digest("missing"), 1});
  refused.events = {event(event_type::kPush, "app/web", 6)};
  ASSERT_FALSE(metadata().put_manifest(refused).value().stored());

  EXPECT_EQ(store().fan_out(kAll, at(10), 100).value(), 1u);
  auto deliveries = due(10);
  ASSERT_EQ(deliveries.size(), 1u);
  const auto& e = deliveries[0].event;
  EXPECT_EQ(e.id, pushed.id);
  EXPECT_EQ(e.type, "push");
  EXPECT_EQ(e.project, "app");
  EXPECT_EQ(e.repository, "app/web");
  EXPECT_EQ(e.digest, put.manifest.digest.str());
  EXPECT_EQ(e.tag, "v1");
  EXPECT_EQ(e.size, std::optional<std::uint64_t>(100));
  EXPECT_EQ(e.time, at(5));
  EXPECT_EQ(e.origin.actor, "alice");
  EXPECT_EQ(e.origin.user_agent, "docker");
  EXPECT_EQ(deliveries[0].endpoint, "config:http://all");
  EXPECT_EQ(deliveries[0].attempts, 0);
}

TEST_P(OutboxStoreContract, DeletesAndMountsWriteEventsOnlyWhenTheyChangeSomething) {
  auto put = image("app/web", "m1");
  put.tags.push_back(core::Tag::parse("v1").value());
  ASSERT_TRUE(metadata().put_manifest(put).value().stored());
  const auto tag = core::Tag::parse("v1").value();
  ASSERT_TRUE(metadata().delete_tag(repo("app/web"), tag, {event("delete", "app/web", 2)}).value());
  ASSERT_FALSE(
      metadata().delete_tag(repo("app/web"), tag, {event("delete", "app/web", 3)}).value());
  ASSERT_TRUE(
      metadata()
          .delete_manifest(repo("app/web"), put.manifest.digest, {event("delete", "app/web", 4)})
          .value());
  ASSERT_FALSE(
      metadata()
          .delete_manifest(repo("app/web"), put.manifest.digest, {event("delete", "app/web", 5)})
          .value());
  const auto layer = digest("layer-m1");
  ASSERT_TRUE(metadata()
                  .mount_blob(repo("app/copy"), layer, repo("app/web"), at(6),
                              {event("mount", "app/copy", 6)})
                  .value());
  ASSERT_FALSE(metadata()
                   .mount_blob(repo("app/copy"), digest("nothing"), repo("app/web"), at(7),
                               {event("mount", "app/copy", 7)})
                   .value());
  EXPECT_EQ(store().fan_out(kAll, at(10), 100).value(), 3u);
  std::vector<std::int64_t> times;
  for (const auto& d : due(10)) {
    times.push_back(core::to_unix_ms(d.event.time));
  }
  std::ranges::sort(times);
  EXPECT_EQ(times, (std::vector<std::int64_t>{2, 4, 6}));
}

TEST_P(OutboxStoreContract, FanOutFollowsTheTypesOfRoutesAndProjectWebhooks) {
  ASSERT_TRUE(store().add_webhook(Webhook{.id = "h1",
                                          .project = "app",
                                          .url = "http://hook",
                                          .secret = "s",
                                          .events = {"push"},
                                          .format = "distribution",
                                          .created = at(1),
                                          .created_by = "alice"}));
  ASSERT_TRUE(store().append(
      {event("push", "app/web", 1), event("pull", "app/web", 2), event("push", "other/x", 3)}));
  const std::vector<EventRoute> routes{EventRoute{"config:http://deletes", {"delete", "pull"}}};
  EXPECT_EQ(store().fan_out(routes, at(10), 100).value(), 3u);
  EXPECT_EQ(store().fan_out(routes, at(10), 100).value(), 0u);
  auto deliveries = due(10);
  ASSERT_EQ(deliveries.size(), 2u);
  std::map<std::string, std::string> by_endpoint;
  for (const auto& d : deliveries) {
    by_endpoint[d.endpoint] = d.event.type;
  }
  EXPECT_EQ(by_endpoint["project:h1"], "push");
  EXPECT_EQ(by_endpoint["config:http://deletes"], "pull");
  for (const auto& d : deliveries) {
    if (d.endpoint == "project:h1") {
      ASSERT_TRUE(d.webhook);
      EXPECT_EQ(d.webhook->url, "http://hook");
      EXPECT_EQ(d.webhook->secret, "s");
      EXPECT_EQ(d.webhook->format, "distribution");
    }
  }
}

// Regression: the oldest due deliveries were listed whatever their endpoint, and a dead
// endpoint's backlog hid every other endpoint's deliveries.
TEST_P(OutboxStoreContract, DueDeliveriesAreTheOldestFewOfEachEndpoint) {
  std::vector<OutboxEvent> events;
  for (int i = 0; i < 5; ++i) {
    events.push_back(event("pull", "app/web", 1 + i));
  }
  events.push_back(event("push", "app/web", 10));
  ASSERT_TRUE(store().append(events));
  const std::vector<EventRoute> routes{EventRoute{"config:http://dead", {"pull"}},
                                       EventRoute{"config:http://live", {"push"}}};
  ASSERT_EQ(store().fan_out(routes, at(20), 100).value(), 6u);
  // fan_out stamps every delivery at `now`: the ids order them; any two of the dead endpoint.
  auto due = store().due_deliveries(at(20), 3, 2).value();
  ASSERT_EQ(due.size(), 3u);
  std::map<std::string, int> per_endpoint;
  for (const auto& d : due) {
    ++per_endpoint[d.endpoint];
  }
  EXPECT_EQ(per_endpoint["config:http://dead"], 2);
  EXPECT_EQ(per_endpoint["config:http://live"], 1);
  // A leased delivery is not due and leaves its place to the next one.
  const auto leased = due[0].endpoint == "config:http://dead" ? due[0].id : due[1].id;
  ASSERT_TRUE(store().claim(leased, "w", at(20), at(100)).value());
  auto after = store().due_deliveries(at(21), 100, 2).value();
  EXPECT_EQ(after.size(), 3u);
  EXPECT_TRUE(std::ranges::none_of(after, [&](const Delivery& d) { return d.id == leased; }));
}

// fan_out marks the events it handled with one UPDATE (up to the last it read): those beyond
// its limit, even of the same time, wait for the next call.
TEST_P(OutboxStoreContract, FanOutHandlesItsLimitAndLeavesTheRestWaiting) {
  ASSERT_TRUE(store().append(
      {event("push", "app/web", 1), event("push", "app/web", 1), event("push", "app/web", 1)}));
  EXPECT_EQ(store().fan_out(kAll, at(10), 2).value(), 2u);
  EXPECT_EQ(due(10).size(), 2u);
  EXPECT_EQ(store().fan_out(kAll, at(10), 2).value(), 1u);
  EXPECT_EQ(store().fan_out(kAll, at(10), 2).value(), 0u);
  EXPECT_EQ(due(10).size(), 3u);
}

TEST_P(OutboxStoreContract, OneClaimWinsAndALeaseHidesTheDeliveryUntilItEnds) {
  ASSERT_TRUE(store().append({event("push", "app/web", 1)}));
  ASSERT_EQ(store().fan_out(kAll, at(10), 100).value(), 1u);
  const auto id = due(10).at(0).id;
  EXPECT_TRUE(store().claim(id, "w1", at(10), at(100)).value());
  EXPECT_FALSE(store().claim(id, "w2", at(11), at(100)).value());
  EXPECT_TRUE(due(50).empty());
  // The lease ran out (w1 died): w2 takes it.
  ASSERT_EQ(due(100).size(), 1u);
  EXPECT_TRUE(store().claim(id, "w2", at(100), at(200)).value());
  // w1's late outcome is ignored; w2's counts.
  ASSERT_TRUE(store().record_attempt(id, "w1", at(101), true, 200, "", std::nullopt));
  EXPECT_EQ(store().get_delivery(id).value()->state, DeliveryState::kPending);
  ASSERT_TRUE(store().record_attempt(id, "w2", at(102), true, 204, "", std::nullopt));
  auto done = store().get_delivery(id).value();
  EXPECT_EQ(done->state, DeliveryState::kDelivered);
  EXPECT_EQ(done->attempts, 2);
  EXPECT_EQ(done->last_status, std::optional<int>(204));
}

// Regression: redelivering cleared the lease of an attempt in flight; a second attempt could
// start beside it, and the first one's outcome was then ignored.
TEST_P(OutboxStoreContract, RedeliveryLeavesAnAttemptInFlightAlone) {
  ASSERT_TRUE(store().append({event("push", "app/web", 1)}));
  ASSERT_EQ(store().fan_out(kAll, at(10), 100).value(), 1u);
  const auto id = due(10).at(0).id;
  ASSERT_TRUE(store().claim(id, "attempt-1", at(10), at(100)).value());
  EXPECT_FALSE(store().redeliver(id, at(50)).value());
  ASSERT_TRUE(store().record_attempt(id, "attempt-1", at(60), true, 200, "", std::nullopt));
  EXPECT_EQ(store().get_delivery(id).value()->state, DeliveryState::kDelivered);
  // Done, it may be sent again.
  EXPECT_TRUE(store().redeliver(id, at(70)).value());
}

TEST_P(OutboxStoreContract, FailuresRetryThenDieAndRedeliveryKeepsTheId) {
  ASSERT_TRUE(store().append({event("push", "app/web", 1)}));
  ASSERT_EQ(store().fan_out(kAll, at(10), 100).value(), 1u);
  const auto id = due(10).at(0).id;
  ASSERT_TRUE(store().claim(id, "w", at(10), at(1000)).value());
  ASSERT_TRUE(store().record_attempt(id, "w", at(11), false, 500, "boom", at(50)));
  EXPECT_TRUE(due(49).empty());
  ASSERT_EQ(due(50).size(), 1u);
  ASSERT_TRUE(store().claim(id, "w", at(50), at(1000)).value());
  ASSERT_TRUE(
      store().record_attempt(id, "w", at(51), false, std::nullopt, "refused", std::nullopt));
  EXPECT_TRUE(due(10'000).empty());
  auto dead =
      store()
          .list_deliveries(DeliveryFilter{
              .state = DeliveryState::kDead, .project = "", .limit = 100, .webhooks_only = false})
          .value();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, id);
  EXPECT_EQ(dead[0].attempts, 2);
  EXPECT_EQ(dead[0].last_error, "refused");
  EXPECT_FALSE(dead[0].last_status);
  EXPECT_TRUE(store()
                  .list_deliveries(DeliveryFilter{.state = DeliveryState::kDead,
                                                  .project = "other",
                                                  .limit = 100,
                                                  .webhooks_only = false})
                  .value()
                  .empty());

  EXPECT_TRUE(store().redeliver(id, at(60)).value());
  EXPECT_FALSE(store().redeliver("nope", at(60)).value());
  auto again = due(60);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, id);
  EXPECT_EQ(again[0].attempts, 0);
}

// A project owner lists the deliveries of the project's webhooks, not those to the config's
// endpoints (the administrator's URLs).
TEST_P(OutboxStoreContract, AWebhooksOnlyFilterLeavesTheConfigEndpointsOut) {
  ASSERT_TRUE(store().add_webhook(webhook("h1", "app")));
  ASSERT_TRUE(store().append({event("push", "app/web", 1)}));
  ASSERT_EQ(store().fan_out(kAll, at(10), 100).value(), 1u);
  DeliveryFilter filter{
      .state = std::nullopt, .project = "app", .limit = 100, .webhooks_only = false};
  EXPECT_EQ(store().list_deliveries(filter).value().size(), 2u);
  filter.webhooks_only = true;
  auto own = store().list_deliveries(filter).value();
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0].endpoint, "project:h1");
}

TEST_P(OutboxStoreContract, PruneDropsOldFinishedDeliveriesAndTheirEvents) {
  ASSERT_TRUE(store().append({event("push", "app/web", 1), event("push", "app/web", 2)}));
  ASSERT_EQ(store().fan_out(kAll, at(10), 100).value(), 2u);
  auto deliveries = due(10);
  ASSERT_EQ(deliveries.size(), 2u);
  ASSERT_TRUE(store().claim(deliveries[0].id, "w", at(10), at(100)).value());
  ASSERT_TRUE(store().record_attempt(deliveries[0].id, "w", at(20), true, 200, "", std::nullopt));
  EXPECT_EQ(store().prune(at(15)).value(), 0u);
  EXPECT_EQ(store().prune(at(30)).value(), 1u);
  EXPECT_FALSE(store().get_delivery(deliveries[0].id).value());
  EXPECT_TRUE(store().get_delivery(deliveries[1].id).value());
}

TEST_P(OutboxStoreContract, WebhooksAreAddedListedAndDeletedPerProject) {
  Webhook hook{.id = "h1",
               .project = "app",
               .url = "http://a",
               .secret = "s",
               .events = {"push", "delete"},
               .format = "cloudevents",
               .created = at(1),
               .created_by = "alice"};
  ASSERT_TRUE(store().add_webhook(hook));
  auto again = store().add_webhook(hook);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, core::ErrorCode::kConflict);
  hook.id = "h2";
  hook.project = "other";
  ASSERT_TRUE(store().add_webhook(hook));
  auto listed = store().list_webhooks("app").value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].events, (std::vector<std::string>{"push", "delete"}));
  EXPECT_EQ(listed[0].created_by, "alice");
  EXPECT_EQ(store().list_webhooks("").value().size(), 2u);
  EXPECT_FALSE(store().delete_webhook("app", "h2").value());
  EXPECT_TRUE(store().delete_webhook("other", "h2").value());
  EXPECT_EQ(store().list_webhooks("").value().size(), 1u);
}

// Regression: webhooks outlived their project and sent the events of the next project of that
// name to the old owner's receiver.
TEST_P(OutboxStoreContract, DeletingAProjectDeletesItsWebhooksAndTheirDeliveries) {
  AccountStore& accounts = *stores_.accounts;
  ASSERT_TRUE(accounts.create_project(Project{"app", false, at(1)}));
  ASSERT_TRUE(accounts.create_project(Project{"other", false, at(1)}));
  ASSERT_TRUE(store().add_webhook(webhook("h1", "app")));
  ASSERT_TRUE(store().add_webhook(webhook("h2", "other")));
  ASSERT_TRUE(store().append({event("push", "app/web", 1), event("push", "other/x", 2)}));
  ASSERT_EQ(store().fan_out({}, at(10), 100).value(), 2u);
  ASSERT_EQ(due(10).size(), 2u);

  ASSERT_TRUE(accounts.delete_project("app"));
  auto hooks = store().list_webhooks("").value();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].id, "h2");
  auto left = due(10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].endpoint, "project:h2");
}

TEST_P(OutboxStoreContract, AProjectHasAtMost32WebhooksEachToADifferentUrl) {
  auto hook = webhook("", "app");
  for (std::size_t i = 0; i < kMaxWebhooksPerProject; ++i) {
    hook.id = "h" + std::to_string(i);
    hook.url = "http://hook/" + std::to_string(i);
    ASSERT_TRUE(store().add_webhook(hook)) << i;
  }
  hook.id = "one-more";
  auto refused = store().add_webhook(hook);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kConflict) << "the same URL as h31";
  hook.url = "http://hook/new";
  refused = store().add_webhook(hook);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kInvalidRequest) << "the 33rd";
  // Another project has room, and may use the same URL.
  hook.project = "other";
  hook.url = "http://hook/0";
  EXPECT_TRUE(store().add_webhook(hook));
}

TEST_P(OutboxStoreContract, EventsSurviveReopening) {
  ASSERT_TRUE(store().append({event("gc_finished", "app/web", 1)}));
  open();
  EXPECT_EQ(store().fan_out(kAll, at(10), 100).value(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxStoreContract,
                         ::testing::Values(Backend{"SqliteFile", sqlite_file}),
                         [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(Postgres, OutboxStoreContract,
                         ::testing::Values(Backend{"Postgres", postgres}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
