// Webhooks end to end: the built berth, configured with global endpoints, delivers the events
// of real pushes and deletes to a real HTTP receiver, signed (the HMAC checked here with
// OpenSSL), in CloudEvents and in Distribution's envelope; retries a failing receiver with the
// same Berth-Delivery id, declares the delivery dead, lists it and redelivers it; and, killed
// with SIGKILL after the pushes committed and before their deliveries succeeded, delivers every
// event after a restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "auth_support.hpp"
#include "crash_support.hpp"
#include "data_dir_query.hpp"
#include "registry_client.hpp"
#include "webhook_receiver.hpp"

namespace berth::testing {
namespace {

namespace json = boost::json;

std::string text(const json::value& value) { return std::string(value.as_string()); }
using crash::eventually;
using namespace std::chrono_literals;

constexpr const char* kSecret = "s3cret-of-the-receiver";
const HttpHeaders kJsonBody{{"Content-Type", "application/json"}};

// A config file for `berth serve --config`.
std::filesystem::path write_config(const TempDir& dir, const std::string& yaml) {
  auto path = dir.path() / "berth.yaml";
  std::ofstream(path) << yaml;
  return path;
}

std::string endpoint_yaml(const std::string& url, const std::string& events,
                          const std::string& format) {
  return "  - url: " + url + "\n    secret: " + kSecret + "\n    events: " + events +
         "\n    format: " + format + "\n";
}

// Requests to `path` answered 2xx.
std::vector<ReceivedRequest> delivered(WebhookReceiver& receiver, const std::string& path) {
  std::vector<ReceivedRequest> out;
  for (auto& request : receiver.received()) {
    if (request.target == path && request.answered >= 200 && request.answered < 300) {
      out.push_back(std::move(request));
    }
  }
  return out;
}

void expect_signed(const ReceivedRequest& request) {
  EXPECT_EQ(request.header("berth-signature-256"), expected_signature(kSecret, request.body))
      << request.body;
  EXPECT_EQ(request.header("berth-delivery").size(), 32u);
  EXPECT_FALSE(request.header("berth-timestamp").empty());
}

// An endpoint that never answers: a socket that listens and accepts nothing (the kernel takes
// connections into its backlog, and the request waits there for an answer that never comes).
class SilentEndpoint {
 public:
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{
      io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)};
};

// Deliveries made so far (the admin API of a server without access control), per endpoint.
// Fan-out follows the order of the events: once a later event's delivery exists, every
// delivery of the events before it does, and no later sleep can add one.
std::map<std::string, std::size_t> deliveries_per_endpoint(RegistryClient& registry) {
  auto answer = registry.http().get("/api/v1/webhooks/deliveries?n=1000");
  EXPECT_EQ(answer.status, 200u) << answer.body;
  std::map<std::string, std::size_t> count;
  if (answer.status == 200) {
    const auto listed = json::parse(answer.body);
    for (const auto& delivery : listed.as_array()) {
      ++count[text(delivery.at("endpoint"))];
    }
  }
  return count;
}

// Whether `path` received an event naming `repository`.
bool received_about(WebhookReceiver& receiver, const std::string& path,
                    const std::string& repository) {
  return std::ranges::any_of(delivered(receiver, path), [&](const ReceivedRequest& request) {
    return request.body.find("\"" + repository + "\"") != std::string::npos;
  });
}

// The requests to `path` that do not name `repository`.
std::vector<ReceivedRequest> delivered_except(WebhookReceiver& receiver, const std::string& path,
                                              const std::string& repository) {
  auto all = delivered(receiver, path);
  std::erase_if(all, [&](const ReceivedRequest& request) {
    return request.body.find("\"" + repository + "\"") != std::string::npos;
  });
  return all;
}

class WebhookTest : public ::testing::Test {
 protected:
  TempDir config_dir_;
  WebhookReceiver receiver_;
};

TEST_F(WebhookTest, PushesAndDeletesArriveSignedAsCloudEventsAndDistributionEvents) {
  const auto config = write_config(
      config_dir_, "events:\n  poll_interval: 50ms\nwebhooks:\n" +
                       endpoint_yaml(receiver_.url("/ce"), "[push, delete]", "cloudevents") +
                       endpoint_yaml(receiver_.url("/dist"), "[push]", "distribution"));
  BerthProcess berth(BerthOptions{.data = {}, .args = {"--config", config.string()}, .env = {}});
  RegistryClient registry("127.0.0.1", berth.port());
  const auto image = registry.push_image("team/app", "v1", ImageOptions().with_layers(1));
  ASSERT_EQ(registry.http().get("/v2/team/app/manifests/v1").status, 200u);
  ASSERT_EQ(registry.http().del("/v2/team/app/manifests/v1").status, 202u);
  // A later event both want: once it arrived, everything before it was fanned out.
  registry.push_image("late/app", "v1", ImageOptions().with_layers(1));

  ASSERT_TRUE(eventually(
      [&] {
        return received_about(receiver_, "/ce", "late/app") &&
               received_about(receiver_, "/dist", "late/app") &&
               delivered(receiver_, "/ce").size() >= 3;
      },
      60s))
      << berth.log();
  // Pulls and mounts were not asked for: no delivery of them exists.
  auto made = deliveries_per_endpoint(registry);
  EXPECT_EQ(made["config:" + receiver_.url("/ce")], 3u);
  EXPECT_EQ(made["config:" + receiver_.url("/dist")], 2u);
  auto cloud = delivered_except(receiver_, "/ce", "late/app");
  ASSERT_EQ(cloud.size(), 2u);
  std::map<std::string, json::object> by_type;
  for (const auto& request : cloud) {
    expect_signed(request);
    EXPECT_EQ(request.header("content-type"), "application/cloudevents+json");
    auto body = json::parse(request.body).as_object();
    EXPECT_EQ(text(body.at("specversion")), "1.0");
    by_type[std::string(body.at("type").as_string())] = body;
  }
  ASSERT_TRUE(by_type.contains("io.berth.push"));
  ASSERT_TRUE(by_type.contains("io.berth.delete"));
  const auto& push = by_type["io.berth.push"].at("data").as_object();
  EXPECT_EQ(text(push.at("repository")), "team/app");
  EXPECT_EQ(text(push.at("project")), "team");
  EXPECT_EQ(text(push.at("tag")), "v1");
  EXPECT_EQ(text(push.at("digest")), image.digest);
  EXPECT_EQ(push.at("size").to_number<std::uint64_t>(), image.manifest.size());
  EXPECT_EQ(text(by_type["io.berth.delete"].at("data").at("tag")), "v1");

  auto dist = delivered_except(receiver_, "/dist", "late/app");
  ASSERT_EQ(dist.size(), 1u);
  expect_signed(dist[0]);
  EXPECT_EQ(dist[0].header("content-type"), "application/vnd.docker.distribution.events.v2+json");
  auto envelope = json::parse(dist[0].body).as_object();
  const auto& event = envelope.at("events").at(0).as_object();
  EXPECT_EQ(text(event.at("action")), "push");
  EXPECT_EQ(text(event.at("target").at("repository")), "team/app");
  EXPECT_EQ(text(event.at("target").at("digest")), image.digest);
  EXPECT_EQ(text(event.at("target").at("tag")), "v1");
  EXPECT_EQ(text(event.at("target").at("mediaType")), image.media_type);
  EXPECT_EQ(text(event.at("request").at("method")), "PUT");
}

TEST_F(WebhookTest, AProjectWebhookMadeThroughTheApiGetsThatProjectsEventsOnly) {
  const auto config = write_config(config_dir_, "events:\n  poll_interval: 50ms\n");
  BerthProcess berth(BerthOptions{.data = {}, .args = {"--config", config.string()}, .env = {}});
  RegistryClient registry("127.0.0.1", berth.port());
  auto& http = registry.http();
  // A project's webhooks wait for no project: it must exist.
  EXPECT_EQ(http.get("/api/v1/projects/team/webhooks").status, 404u);
  ASSERT_EQ(http.post("/api/v1/projects", R"({"name":"team"})", kJsonBody).status, 201u);
  EXPECT_EQ(http.post("/api/v1/projects/team/webhooks", R"({"url":"ftp://x","secret":"s"})").status,
            400u);
  auto made = http.post("/api/v1/projects/team/webhooks",
                        R"({"url":")" + receiver_.url("/team") + R"(","secret":")" + kSecret +
                            R"(","events":["push"],"format":"distribution"})");
  ASSERT_EQ(made.status, 201u) << made.body;
  const auto id = text(json::parse(made.body).at("id"));
  auto listed = http.get("/api/v1/projects/team/webhooks");
  ASSERT_EQ(listed.status, 200u);
  EXPECT_EQ(listed.body.find(kSecret), std::string::npos) << listed.body;
  EXPECT_EQ(text(json::parse(listed.body).at(0).at("id")), id);

  registry.push_image("other/app", "v1", ImageOptions().with_layers(1));
  const auto image = registry.push_image("team/app", "v1", ImageOptions().with_layers(1));
  // A later event the webhook wants: once it arrived, everything before it was fanned out.
  registry.push_image("team/late", "v1", ImageOptions().with_layers(1));
  ASSERT_TRUE(eventually([&] { return received_about(receiver_, "/team", "team/late"); }, 60s))
      << berth.log();
  EXPECT_EQ(deliveries_per_endpoint(registry).size(), 1u) << "other's push went nowhere";
  EXPECT_EQ(http.get("/api/v1/webhooks/deliveries?n=abc").status, 400u);
  auto got = delivered_except(receiver_, "/team", "team/late");
  ASSERT_EQ(got.size(), 1u);
  expect_signed(got[0]);
  EXPECT_EQ(text(json::parse(got[0].body).at("events").at(0).at("target").at("digest")),
            image.digest);

  EXPECT_EQ(http.del("/api/v1/projects/team/webhooks/" + id).status, 204u);
  EXPECT_EQ(http.del("/api/v1/projects/team/webhooks/" + id).status, 404u);
}

// Regression: the webhooks of a deleted project stayed, and the next project of that name sent
// its events to the old owner's receiver.
TEST_F(WebhookTest, ADeletedProjectsWebhooksDoNotFollowItsNameToTheNextProject) {
  const auto config = write_config(config_dir_, "events:\n  poll_interval: 50ms\n");
  BerthProcess berth(BerthOptions{.data = {}, .args = {"--config", config.string()}, .env = {}});
  RegistryClient registry("127.0.0.1", berth.port());
  auto& http = registry.http();
  auto add_hook = [&](const std::string& path) {
    return http.post("/api/v1/projects/team/webhooks", R"({"url":")" + receiver_.url(path) +
                                                           R"(","secret":")" + kSecret +
                                                           R"(","events":["push"]})");
  };
  ASSERT_EQ(http.post("/api/v1/projects", R"({"name":"team"})", kJsonBody).status, 201u);
  ASSERT_EQ(add_hook("/old").status, 201u);
  registry.push_image("team/app", "v2", ImageOptions().with_layers(1));
  ASSERT_TRUE(eventually([&] { return delivered(receiver_, "/old").size() == 1; }, 60s))
      << berth.log();

  ASSERT_EQ(http.del("/api/v1/projects/team?with_images=true").status, 204u);
  EXPECT_EQ(add_hook("/nowhere").status, 404u);
  registry.push_image("team/app", "v3", ImageOptions().with_layers(1));
  ASSERT_EQ(add_hook("/new").status, 201u);
  const auto image = registry.push_image("team/app", "v4", ImageOptions().with_layers(1));
  // (v3 may reach /new too: it is fanned out to the webhooks there are when the worker sees it.)
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& request : delivered(receiver_, "/new")) {
          if (text(json::parse(request.body).at("data").at("digest")) == image.digest) {
            return true;
          }
        }
        return false;
      },
      60s))
      << berth.log();
  // The new project's pushes were fanned out: none went to the old receiver.
  std::size_t old = 0;
  for (const auto& request : receiver_.received()) {
    old += request.target == "/old" ? 1 : 0;
  }
  EXPECT_EQ(old, 1u);
}

// Regression: the due deliveries were the oldest 200 of any endpoint, and the 4 sender threads
// were 4 per endpoint: an endpoint that never answers, with a backlog, hid and starved the rest.
TEST_F(WebhookTest, AnEndpointThatNeverAnswersDoesNotDelayTheOthers) {
  SilentEndpoint silent;
  const auto config = write_config(
      config_dir_, "events:\n  poll_interval: 50ms\n  concurrency: 2\nwebhooks:\n" +
                       endpoint_yaml(silent.url("/pulls"), "[pull]", "cloudevents") +
                       "    timeout: 30s\n" +
                       endpoint_yaml(receiver_.url("/pushes"), "[push]", "cloudevents"));
  BerthProcess berth(BerthOptions{.data = {}, .args = {"--config", config.string()}, .env = {}});
  RegistryClient registry("127.0.0.1", berth.port());
  registry.push_image("team/app", "v1", ImageOptions().with_layers(1));
  for (int i = 0; i < 250; ++i) {
    ASSERT_EQ(registry.http().get("/v2/team/app/manifests/v1").status, 200u);
  }
  // The pulls' deliveries exist (older than the push's).
  ASSERT_TRUE(eventually(
      [&] {
        auto answer = registry.http().get("/api/v1/webhooks/deliveries?state=pending&n=1000");
        return answer.status == 200 && json::parse(answer.body).as_array().size() >= 250;
      },
      60s))
      << berth.log();
  const auto image = registry.push_image("team/app", "v2", ImageOptions().with_layers(1));
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& request : delivered(receiver_, "/pushes")) {
          if (text(json::parse(request.body).at("data").at("digest")) == image.digest) {
            return true;
          }
        }
        return false;
      },
      10s))
      << berth.log();
  berth.kill();  // not waiting for the silent endpoint's sends to time out
}

// Regression: every pull, push and delete wrote an event (a row, on the single writer) even
// when nobody subscribed to any.
TEST_F(WebhookTest, EventsNobodySubscribesToAreNotWritten) {
  const auto config = write_config(config_dir_, "events:\n  poll_interval: 50ms\n");
  TempDir data;
  BerthProcess berth(
      BerthOptions{.data = data.path(), .args = {"--config", config.string()}, .env = {}});
  RegistryClient registry("127.0.0.1", berth.port());
  auto& http = registry.http();
  registry.push_image("team/app", "v1", ImageOptions().with_layers(1));
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(http.get("/v2/team/app/manifests/v1").status, 200u);
  }
  ASSERT_EQ(http.del("/v2/team/app/manifests/v1").status, 202u);
  registry.push_image("watched/app", "v1", ImageOptions().with_layers(1));
  // A webhook added through the API counts from the next request on.
  ASSERT_EQ(http.post("/api/v1/projects/watched/webhooks",
                      R"({"url":")" + receiver_.url("/watched") + R"(","secret":")" + kSecret +
                          R"(","events":["pull"]})")
                .status,
            201u);
  ASSERT_EQ(http.get("/v2/watched/app/manifests/v1").status, 200u);
  ASSERT_TRUE(eventually([&] { return delivered(receiver_, "/watched").size() == 1; }, 60s))
      << berth.log();
  EXPECT_EQ(query_number(data.path(), "SELECT count(*) FROM events WHERE project = 'team'"), 0);
  EXPECT_EQ(query_number(data.path(), "SELECT count(*) FROM events"), 1);
}

// Regression: project owners listed (and could redeliver) the deliveries to the administrator's
// endpoints of the config, and a failed attempt logged such an endpoint's URL with its password.
TEST_F(WebhookTest, OwnersSeeTheirWebhooksDeliveriesOnlyAndNoPasswordIsLogged) {
  const auto config = write_config(
      config_dir_,
      "events:\n  poll_interval: 50ms\n  max_attempts: 1\nwebhooks:\n" +
          endpoint_yaml(receiver_.url("/global"), "[push]", "cloudevents") +
          endpoint_yaml("http://berth:hunter2@127.0.0.1:1/refused", "[push]", "cloudevents"));
  authtest::AuthServer server(
      authtest::AuthServerOptions{.env = {},
                                  .args = {"--config", config.string()},
                                  .users = {{"alice", "alice-pw"}, {"bob", "bob-pw"}}});
  server.create_project("team", false);
  server.set_member("team", "alice", "owner");
  auto admin = server.client();
  authtest::use_authorization(*admin, server.admin_basic());
  auto alice = server.client();
  authtest::use_authorization(*alice, authtest::basic_auth("alice", "alice-pw"));
  auto bob = server.client();
  authtest::use_authorization(*bob, authtest::basic_auth("bob", "bob-pw"));

  ASSERT_EQ(alice
                ->post("/api/v1/projects/team/webhooks", R"({"url":")" + receiver_.url("/own") +
                                                             R"(","secret":")" + kSecret +
                                                             R"(","events":["push"]})")
                .status,
            201u);
  authtest::push_small_image(*admin, "team/app", "v1");
  auto listed = [&](HttpClient& http) {
    auto answer = http.get("/api/v1/webhooks/deliveries?project=team");
    return answer.status == 200 ? json::parse(answer.body).as_array() : json::array();
  };
  ASSERT_TRUE(eventually(
      [&] {
        auto all = listed(*admin);
        return all.size() == 3 && std::ranges::all_of(all, [](const json::value& d) {
                 return text(d.at("state")) != "pending";
               });
      },
      60s))
      << server.log();
  std::string config_delivery;
  for (const auto& d : listed(*admin)) {
    if (text(d.at("endpoint")).starts_with("config:")) {
      config_delivery = text(d.at("id"));
    }
  }

  EXPECT_EQ(bob->get("/api/v1/projects/team/webhooks").status, 403u);
  EXPECT_EQ(bob->get("/api/v1/webhooks/deliveries?project=team").status, 403u);
  auto own = listed(*alice);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_TRUE(text(own[0].at("endpoint")).starts_with("project:")) << own[0];
  EXPECT_EQ(alice->post("/api/v1/webhooks/deliveries/" + config_delivery + "/redeliver", "").status,
            404u);
  EXPECT_EQ(server.log().find("hunter2"), std::string::npos) << server.log();
}

TEST_F(WebhookTest, AFailingReceiverGetsRetriesWithOneIdThenTheDeliveryIsDeadAndRedelivered) {
  receiver_.answer_with(500);
  const auto config =
      write_config(config_dir_,
                   "events:\n  poll_interval: 50ms\n  max_attempts: 3\n  backoff_base: 20ms\n"
                   "  backoff_cap: 100ms\nwebhooks:\n" +
                       endpoint_yaml(receiver_.url("/hook"), "[push]", "cloudevents"));
  BerthProcess berth(BerthOptions{.data = {}, .args = {"--config", config.string()}, .env = {}});
  RegistryClient registry("127.0.0.1", berth.port());
  registry.push_image("team/app", "v1", ImageOptions().with_layers(1));

  auto dead = [&] {
    auto answer = registry.http().get("/api/v1/webhooks/deliveries?state=dead");
    return answer.status == 200 ? json::parse(answer.body).as_array() : json::array();
  };
  ASSERT_TRUE(eventually([&] { return dead().size() == 1; }, 60s)) << berth.log();
  auto attempts = receiver_.received();
  ASSERT_EQ(attempts.size(), 3u);
  const auto id = attempts[0].header("berth-delivery");
  for (const auto& attempt : attempts) {
    EXPECT_EQ(attempt.header("berth-delivery"), id);
    expect_signed(attempt);
  }
  const auto listed = dead().at(0).as_object();
  EXPECT_EQ(text(listed.at("id")), id);
  EXPECT_EQ(listed.at("attempts").to_number<std::int64_t>(), 3);
  EXPECT_EQ(listed.at("last_status").to_number<std::int64_t>(), 500);
  EXPECT_EQ(text(listed.at("event").at("type")), "push");

  // The CLI shows the same dead letter.
  auto cli = run_berth({"webhook", "deliveries", "--dead", "--data", berth.data().string()});
  EXPECT_EQ(cli.status, 0) << cli.err;
  EXPECT_NE(cli.out.find(id), std::string::npos) << cli.out;

  receiver_.answer_with(200);
  auto again = registry.http().post("/api/v1/webhooks/deliveries/" + id + "/redeliver", "");
  ASSERT_EQ(again.status, 202u) << again.body;
  ASSERT_TRUE(eventually([&] { return delivered(receiver_, "/hook").size() == 1; }, 60s));
  EXPECT_EQ(delivered(receiver_, "/hook")[0].header("berth-delivery"), id);
  EXPECT_TRUE(dead().empty());
  EXPECT_EQ(registry.http().post("/api/v1/webhooks/deliveries/nope/redeliver", "").status, 404u);
}

TEST_F(WebhookTest, KilledBetweenCommitAndDeliveryItDeliversEveryEventAfterTheRestart) {
  receiver_.answer_with(503);
  const auto config =
      write_config(config_dir_,
                   "events:\n  poll_interval: 50ms\n  backoff_base: 50ms\n  backoff_cap: 200ms\n"
                   "  timeout: 2s\n  max_attempts: 1000\nwebhooks:\n" +
                       endpoint_yaml(receiver_.url("/hook"), "[push]", "distribution"));
  TempDir data;
  std::set<std::string> pushed;
  std::set<std::string> failed_ids;
  {
    BerthProcess berth(
        BerthOptions{.data = data.path(), .args = {"--config", config.string()}, .env = {}});
    RegistryClient registry("127.0.0.1", berth.port());
    for (int i = 0; i < 5; ++i) {
      pushed.insert(
          registry.push_image("team/app", "t" + std::to_string(i), ImageOptions().with_layers(1))
              .digest);
    }
    // Every push committed its event; the receiver refused them all so far.
    ASSERT_TRUE(eventually(
        [&] {
          std::set<std::string> ids;
          for (const auto& request : receiver_.received()) {
            ids.insert(request.header("berth-delivery"));
          }
          return ids.size() == 5;
        },
        60s))
        << berth.log();
    berth.kill();
    for (const auto& request : receiver_.received()) {
      failed_ids.insert(request.header("berth-delivery"));
    }
  }
  ASSERT_TRUE(delivered(receiver_, "/hook").empty());
  receiver_.answer_with(200);
  BerthProcess berth(
      BerthOptions{.data = data.path(), .args = {"--config", config.string()}, .env = {}});
  ASSERT_TRUE(eventually(
      [&] {
        std::set<std::string> ids;
        for (const auto& request : delivered(receiver_, "/hook")) {
          ids.insert(request.header("berth-delivery"));
        }
        return ids.size() == 5;
      },
      60s))
      << berth.log();
  std::set<std::string> digests;
  std::set<std::string> ids;
  for (const auto& request : delivered(receiver_, "/hook")) {
    expect_signed(request);
    ids.insert(request.header("berth-delivery"));
    digests.insert(std::string(
        json::parse(request.body).at("events").at(0).at("target").at("digest").as_string()));
  }
  EXPECT_EQ(digests, pushed);
  // The same deliveries as before the crash: a receiver drops duplicates by this id.
  EXPECT_EQ(ids, failed_ids);
}

// A retention run started through the API is an event as a scheduled one is (and counted in
// /metrics by the same call).
TEST_F(WebhookTest, ARetentionRunThroughTheApiSendsRetentionFinished) {
  const auto config = write_config(
      config_dir_, "events:\n  poll_interval: 50ms\nwebhooks:\n" +
                       endpoint_yaml(receiver_.url("/ret"), "[retention_finished]", "cloudevents"));
  BerthProcess berth(BerthOptions{.data = {}, .args = {"--config", config.string()}, .env = {}});
  RegistryClient registry("127.0.0.1", berth.port());
  registry.push_image("team/app", "v1", ImageOptions().with_layers(1));
  registry.push_image("team/app", "v2", ImageOptions().with_layers(1));
  auto& http = registry.http();
  const HttpHeaders json_body{{"Content-Type", "application/json"}};
  const auto settings = http.put(
      "/api/v1/projects/team/settings",
      R"({"retention":{"enabled":false,"schedule":"1d","rules":{"keep_last":1}}})", json_body);
  ASSERT_EQ(settings.status, 200u) << settings.body;
  const auto run = http.post("/api/v1/projects/team/retention/run", "", json_body);
  ASSERT_EQ(run.status, 200u) << run.body;

  ASSERT_TRUE(eventually([&] { return !delivered(receiver_, "/ret").empty(); }, 60s))
      << berth.log();
  const auto received = delivered(receiver_, "/ret");
  ASSERT_EQ(received.size(), 1u);
  expect_signed(received[0]);
  const auto body = json::parse(received[0].body).as_object();
  EXPECT_EQ(text(body.at("type")), "io.berth.retention_finished");
  EXPECT_EQ(text(body.at("data").at("project")), "team") << received[0].body;
  EXPECT_EQ(body.at("data").at("detail").at("tagsDeleted").to_number<std::uint64_t>(), 1u)
      << received[0].body;
}

}  // namespace
}  // namespace berth::testing
