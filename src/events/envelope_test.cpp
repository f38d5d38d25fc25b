#include "events/envelope.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::events {
namespace {

namespace json = boost::json;

std::string text(const json::value& value) { return std::string(value.as_string()); }

meta::OutboxEvent push() {
  meta::OutboxEvent e;
  e.id = "0123456789abcdef0123456789abcdef";
  e.type = "push";
  e.time = core::from_unix_ms(1'700'000'000'000);
  e.project = "app";
  e.repository = "app/web";
  e.digest = "sha256:" + std::string(64, 'a');
  e.tag = "v1";
  e.media_type = "application/vnd.oci.image.manifest.v1+json";
  e.size = 1234;
  e.origin = meta::EventOrigin{.actor = "alice",
                               .remote_addr = "10.0.0.1",
                               .user_agent = "docker/27",
                               .request_id = "req-1",
                               .method = "PUT",
                               .host = "registry:5000"};
  return e;
}

const Source kSource{.addr = "registry:5000", .instance_id = "i-1"};
const core::TimePoint kSent = core::from_unix_ms(1'700'000'001'000);

TEST(CloudEvents, HasTheRequiredContextAttributesAndTheEventAsData) {
  auto body = json::parse(cloudevents_body(push(), kSource, kSent)).as_object();
  EXPECT_EQ(text(body.at("specversion")), "1.0");
  EXPECT_EQ(text(body.at("id")), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(text(body.at("source")), "/berth/registry:5000");
  EXPECT_EQ(text(body.at("type")), "io.berth.push");
  EXPECT_EQ(text(body.at("time")), "2023-11-14T22:13:20Z");
  EXPECT_EQ(text(body.at("sentat")), "2023-11-14T22:13:21Z");
  EXPECT_EQ(text(body.at("subject")), "app/web:v1");
  const auto& data = body.at("data").as_object();
  EXPECT_EQ(text(data.at("repository")), "app/web");
  EXPECT_EQ(text(data.at("tag")), "v1");
  EXPECT_EQ(data.at("size").to_number<std::uint64_t>(), 1234u);
  EXPECT_EQ(text(data.at("actor").at("name")), "alice");
  EXPECT_EQ(text(data.at("request").at("useragent")), "docker/27");
  EXPECT_EQ(text(data.at("request").at("addr")), "10.0.0.1");
}

TEST(DistributionEnvelope, CarriesDistributionsFields) {
  auto body = json::parse(distribution_body(push(), kSource, kSent)).as_object();
  const auto& events = body.at("events").as_array();
  ASSERT_EQ(events.size(), 1u);
  const auto& event = events[0].as_object();
  EXPECT_EQ(text(event.at("id")), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(text(event.at("action")), "push");
  EXPECT_EQ(text(event.at("timestamp")), "2023-11-14T22:13:20Z");
  const auto& target = event.at("target").as_object();
  EXPECT_EQ(text(target.at("mediaType")), "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(text(target.at("digest")), "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(target.at("size").to_number<std::uint64_t>(), 1234u);
  EXPECT_EQ(text(target.at("repository")), "app/web");
  EXPECT_EQ(text(target.at("tag")), "v1");
  EXPECT_EQ(text(target.at("url")),
            "http://registry:5000/v2/app/web/manifests/sha256:" + std::string(64, 'a'));
  EXPECT_EQ(text(event.at("request").at("method")), "PUT");
  EXPECT_EQ(text(event.at("request").at("host")), "registry:5000");
  EXPECT_EQ(text(event.at("actor").at("name")), "alice");
  EXPECT_EQ(text(event.at("source").at("instanceID")), "i-1");
  EXPECT_EQ(text(body.at("sentAt")), "2023-11-14T22:13:21Z");
}

TEST(DistributionEnvelope, ATagDeleteHasNoDigestNorUrl) {
  auto e = push();
  e.type = "delete";
  e.digest.clear();
  e.media_type.clear();
  e.size.reset();
  auto body = json::parse(distribution_body(e, kSource, kSent));
  const auto& target = body.at("events").at(0).at("target").as_object();
  EXPECT_EQ(text(target.at("tag")), "v1");
  EXPECT_FALSE(target.contains("url"));
  EXPECT_FALSE(target.contains("size"));
}

}  // namespace
}  // namespace berth::events
