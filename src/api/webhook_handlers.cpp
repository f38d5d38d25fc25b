// Project webhooks and webhook deliveries (see webhook_handlers.hpp).
#include "api/webhook_handlers.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <string_view>

#include "api/json_body.hpp"
#include "core/url_credentials.hpp"
#include "core/webhook_rules.hpp"
#include "meta/outbox_store.hpp"
#include "util/utc_time.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxBodyBytes = 16 * 1024;

json::object webhook_json(const meta::Webhook& w) {
  json::array events;
  for (const auto& e : w.events) {
    events.emplace_back(e);
  }
  return json::object{{"id", w.id},
                      {"project", w.project},
                      {"url", core::without_url_credentials(w.url)},
                      {"events", std::move(events)},
                      {"format", w.format},
                      {"created_at", util::format_utc(w.created)},
                      {"created_by", w.created_by}};
}

json::object delivery_json(const meta::Delivery& d) {
  const auto& e = d.event;
  return json::object{
      {"id", d.id},
      {"endpoint", meta::shown_endpoint(d.endpoint)},
      {"state", meta::delivery_state_name(d.state)},
      {"attempts", d.attempts},
      {"last_status", d.last_status ? json::value(*d.last_status) : json::value(nullptr)},
      {"last_error", d.last_error},
      {"next_attempt_at", util::format_utc(d.next_attempt)},
      {"created_at", util::format_utc(d.created)},
      {"updated_at", util::format_utc(d.updated)},
      {"event", json::object{{"id", e.id},
                             {"type", e.type},
                             {"time", util::format_utc(e.time)},
                             {"project", e.project},
                             {"repository", e.repository},
                             {"digest", e.digest},
                             {"tag", e.tag}}}};
}

// The webhook a POST body describes; an error saying what is wrong otherwise (the rules of
// core/webhook_rules.hpp, as for the config's endpoints and the CLI).
core::Result<meta::Webhook> parse_webhook(const json::object& body) {
  meta::Webhook hook;
  auto text = [&](std::string_view key, std::string& out) -> bool {
    const auto* value = body.if_contains(key);
    if (value == nullptr || !value->is_string()) {
      return false;
    }
    out = std::string(value->as_string());
    return true;
  };
  text("url", hook.url);
  text("secret", hook.secret);
  if (!text("format", hook.format)) {
    hook.format = "cloudevents";
  }
  if (const auto* events = body.if_contains("events"); events != nullptr) {
    if (!events->is_array()) {
      return core::fail(ErrorCode::kInvalidRequest, "\"events\" must be a list of event types");
    }
    for (const auto& event : events->as_array()) {
      if (!event.is_string()) {
        return core::fail(ErrorCode::kInvalidRequest, "\"events\" must be a list of event types");
      }
      hook.events.emplace_back(event.as_string());
    }
  }
  BERTH_TRY(core::check_webhook(hook.url, hook.secret, hook.format, hook.events));
  return hook;
}

class WebhookRequest {
 public:
  explicit WebhookRequest(RequestContext& ctx) : ctx_(ctx) {}

  asio::awaitable<void> project_hooks(std::string project, std::vector<std::string> rest) {
    project_ = std::move(project);
    if (store() == nullptr || rest.size() > 2) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "no such admin endpoint");
    }
    if (!co_await owns(project_)) {
      co_return co_await ctx_.fail(ErrorCode::kDenied,
                                   "the webhooks of " + project_ + " are its owners'");
    }
    const auto method = ctx_.ex.request().method();
    if (rest.size() == 2) {
      if (method != bhttp::verb::delete_) {
        co_return co_await ctx_.method_not_allowed("DELETE");
      }
      auto deleted = co_await ctx_.blocking([&] {
        auto done = store()->delete_webhook(project_, rest[1]);
        ctx_.registry().event_subscriptions_changed();
        return done;
      });
      if (!deleted) {
        co_return co_await ctx_.fail(deleted.error());
      }
      if (!*deleted) {
        co_return co_await ctx_.fail(ErrorCode::kNotFound,
                                     "no webhook " + rest[1] + " in " + project_);
      }
      co_return co_await ctx_.send(ctx_.response(bhttp::status::no_content));
    }
    // A webhook of a project that does not exist would wait for whoever creates the name.
    auto exists =
        co_await ctx_.blocking([&] { return ctx_.services().accounts.get_project(project_); });
    if (!exists) {
      co_return co_await ctx_.fail(exists.error());
    }
    if (!*exists) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "no project " + project_);
    }
    if (method == bhttp::verb::get) {
      auto hooks = co_await ctx_.blocking([&] { return store()->list_webhooks(project_); });
      if (!hooks) {
        co_return co_await ctx_.fail(hooks.error());
      }
      json::array list;
      for (const auto& hook : *hooks) {
        list.emplace_back(webhook_json(hook));
      }
      co_return co_await ctx_.respond_json(bhttp::status::ok, json::serialize(list));
    }
    if (method == bhttp::verb::post) {
      co_return co_await add();
    }
    co_await ctx_.method_not_allowed("GET, POST");
  }

  asio::awaitable<void> deliveries(std::vector<std::string> parts) {
    if (store() == nullptr) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "no such admin endpoint");
    }
    const auto method = ctx_.ex.request().method();
    if (parts.size() == 2) {
      if (method != bhttp::verb::get) {
        co_return co_await ctx_.method_not_allowed("GET");
      }
      co_return co_await list();
    }
    if (parts.size() == 4 && parts[3] == "redeliver") {
      if (method != bhttp::verb::post) {
        co_return co_await ctx_.method_not_allowed("POST");
      }
      co_return co_await redeliver(parts[2]);
    }
    co_await ctx_.fail(ErrorCode::kNotFound, "no such admin endpoint");
  }

 private:
  meta::OutboxStore* store() { return ctx_.services().outbox; }
  bool admin() const { return !ctx_.access().enabled() || ctx_.identity.admin; }

  asio::awaitable<bool> owns(const std::string& project) {
    if (admin()) {
      co_return true;
    }
    auto ok = co_await ctx_.blocking(
        [&] { return ctx_.access().may(ctx_.identity, project, auth::Action::kManage); });
    co_return ok.has_value() && *ok;
  }

  asio::awaitable<void> add() {
    auto body = co_await read_json_object(ctx_, kMaxBodyBytes);
    if (!body) {
      co_return;
    }
    auto hook = parse_webhook(*body);
    if (!hook) {
      co_return co_await ctx_.fail(hook.error());
    }
    hook->id = meta::random_event_id().substr(0, 16);
    hook->project = project_;
    hook->created = ctx_.clock_now();
    hook->created_by = ctx_.identity.display();
    ctx_.audit_target = hook->id;  // the audit entry's target (api/audit_trail.cpp)
    // The project's events are written from the next request on (not from the next round).
    auto added = co_await ctx_.blocking([&] {
      auto done = store()->add_webhook(*hook);
      ctx_.registry().event_subscriptions_changed();
      return done;
    });
    if (!added) {
      co_return co_await ctx_.fail(added.error());
    }
    co_await ctx_.respond_json(bhttp::status::created, json::serialize(webhook_json(*hook)));
  }

  asio::awaitable<void> list() {
    meta::DeliveryFilter filter;
    if (auto state = ctx_.route.param("state")) {
      filter.state = meta::parse_delivery_state(*state);
      if (!filter.state) {
        co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                     "state must be pending, delivered or dead");
      }
    }
    filter.project = ctx_.route.param("project").value_or("");
    if (auto n = ctx_.route.param("n")) {
      std::size_t limit = 0;
      const auto* end = n->data() + n->size();
      if (auto [at, error] = std::from_chars(n->data(), end, limit);
          error != std::errc() || at != end || limit == 0) {
        co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                     "n must be a number of deliveries, 1 or more");
      }
      filter.limit = std::min<std::size_t>(limit, 1000);
    }
    if (!admin() && (filter.project.empty() || !co_await owns(filter.project))) {
      co_return co_await ctx_.fail(
          ErrorCode::kDenied,
          "deliveries are listed for administrators, or for a project you own (?project=)");
    }
    // An owner sees the deliveries of the project's webhooks, not those to the config's
    // endpoints (the administrator's URLs).
    filter.webhooks_only = !admin();
    auto found = co_await ctx_.blocking([&] { return store()->list_deliveries(filter); });
    if (!found) {
      co_return co_await ctx_.fail(found.error());
    }
    json::array list;
    for (const auto& delivery : *found) {
      list.emplace_back(delivery_json(delivery));
    }
    co_await ctx_.respond_json(bhttp::status::ok, json::serialize(list));
  }

  asio::awaitable<void> redeliver(std::string id) {
    auto found = co_await ctx_.blocking([&] { return store()->get_delivery(id); });
    if (!found) {
      co_return co_await ctx_.fail(found.error());
    }
    // A delivery of a project the caller may not manage, or (for an owner) to an endpoint of
    // the config, looks like no delivery.
    if (!*found || (!admin() && !(*found)->endpoint.starts_with("project:")) ||
        !co_await owns((*found)->event.project)) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "no delivery " + id);
    }
    auto again = co_await ctx_.blocking([&] { return store()->redeliver(id, ctx_.clock_now()); });
    if (!again) {
      co_return co_await ctx_.fail(again.error());
    }
    if (!*again) {
      co_return co_await ctx_.fail(
          ErrorCode::kConflict,
          "delivery " + id + " is being sent right now; ask again once it is done");
    }
    (*found)->state = meta::DeliveryState::kPending;
    (*found)->attempts = 0;
    co_await ctx_.respond_json(bhttp::status::accepted, json::serialize(delivery_json(**found)));
  }

  RequestContext& ctx_;
  std::string project_;
};

}  // namespace

asio::awaitable<void> serve_project_webhooks(RequestContext& ctx, std::string project,
                                             std::vector<std::string> rest) {
  WebhookRequest request(ctx);
  co_await request.project_hooks(std::move(project), std::move(rest));
}

asio::awaitable<void> serve_webhook_deliveries(RequestContext& ctx,
                                               std::vector<std::string> parts) {
  WebhookRequest request(ctx);
  co_await request.deliveries(std::move(parts));
}

}  // namespace berth::api
