#include "events/envelope.hpp"

#include <boost/json.hpp>

#include "util/utc_time.hpp"

namespace berth::events {
namespace {

namespace json = boost::json;

json::value detail_of(const meta::OutboxEvent& event) {
  if (event.detail_json.empty()) {
    return json::object();
  }
  boost::system::error_code ec;
  auto parsed = json::parse(event.detail_json, ec);
  return ec ? json::value(event.detail_json) : parsed;
}

json::value size_of(const meta::OutboxEvent& event) {
  return event.size ? json::value(*event.size) : json::value(nullptr);
}

}  // namespace

std::string cloudevents_body(const meta::OutboxEvent& event, const Source& source,
                             core::TimePoint sent) {
  std::string subject = event.repository;
  if (!event.tag.empty()) {
    subject += ":" + event.tag;
  } else if (!event.digest.empty()) {
    subject += "@" + event.digest;
  }
  json::object data{
      {"project", event.project},
      {"repository", event.repository},
      {"digest", event.digest},
      {"tag", event.tag},
      {"mediaType", event.media_type},
      {"size", size_of(event)},
      {"actor", json::object{{"name", event.origin.actor}}},
      {"request", json::object{{"id", event.origin.request_id},
                               {"addr", event.origin.remote_addr},
                               {"host", event.origin.host},
                               {"method", event.origin.method},
                               {"useragent", event.origin.user_agent}}},
      {"detail", detail_of(event)},
  };
  json::object body{
      {"specversion", "1.0"},
      {"id", event.id},
      {"source", "/berth/" + source.addr},
      {"type", "io.berth." + event.type},
      {"time", util::format_utc(event.time)},
      {"datacontenttype", "application/json"},
      {"sentat", util::format_utc(sent)},
      {"data", std::move(data)},
  };
  if (!subject.empty()) {
    body["subject"] = subject;
  }
  return json::serialize(body);
}

std::string distribution_body(const meta::OutboxEvent& event, const Source& source,
                              core::TimePoint sent) {
  json::object target{
      {"mediaType", event.media_type}, {"digest", event.digest}, {"repository", event.repository}};
  if (event.size) {
    target["size"] = *event.size;
  }
  if (!event.tag.empty()) {
    target["tag"] = event.tag;
  }
  if (!event.origin.host.empty() && !event.digest.empty()) {
    target["url"] =
        "http://" + event.origin.host + "/v2/" + event.repository + "/manifests/" + event.digest;
  }
  json::object item{
      {"id", event.id},
      {"timestamp", util::format_utc(event.time)},
      {"action", event.type},
      {"target", std::move(target)},
      {"request", json::object{{"id", event.origin.request_id},
                               {"addr", event.origin.remote_addr},
                               {"host", event.origin.host},
                               {"method", event.origin.method},
                               {"useragent", event.origin.user_agent}}},
      {"actor", json::object{{"name", event.origin.actor}}},
      {"source", json::object{{"addr", source.addr}, {"instanceID", source.instance_id}}},
  };
  if (!event.detail_json.empty()) {
    item["detail"] = detail_of(event);
  }
  return json::serialize(
      json::object{{"events", json::array{std::move(item)}}, {"sentAt", util::format_utc(sent)}});
}

}  // namespace berth::events
