// The event outbox: what happened in the registry (a push, a delete, a pull, a finished GC),
// kept in the database until every webhook that wants it has received it.
//
// Why a table and not a queue in memory (Distribution's notifications): an event of a change
// to the metadata (push, delete, mount) is inserted by the MetadataStore in the very
// transaction of that change (ManifestPut::events and the events arguments of
// metadata_store.hpp), so the change and its event commit or vanish together, and a crash
// between the commit and the delivery loses nothing: the next start delivers it. Events that
// are no database change (pull, quota exceeded, retention or GC finished) are appended here
// right after the fact, pulls in batches.
//
// Deliveries. fan_out() turns each new event into one delivery per endpoint that wants it (the
// global endpoints of the config, passed in, and the project's webhooks, read in the same
// transaction), each with an id that stays the same on every attempt (Berth-Delivery). A
// worker claims a due delivery with a conditional update that gives it a lease, so that with
// several replicas each attempt is made by one of them; it records the outcome and, on a
// failure, when to try again, or that the delivery is dead (listed, redelivered on request).
//
// Contract (outbox_store_contract_test.cpp): blocking, thread-safe, one transaction per
// method, on SQLite and PostgreSQL alike.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/webhook_rules.hpp"

namespace berth::meta {

using core::Result;

// Who caused an event and through which request (empty fields: not known, as for GC).
struct EventOrigin {
  std::string actor;
  std::string remote_addr;
  std::string user_agent;
  std::string request_id;
  std::string method;
  std::string host;
};

// The event types (core/webhook_rules.hpp), as meta::event_type::kPush and so on.
namespace event_type = core::event_type;

struct OutboxEvent {
  // 32 hex digits, random.
  std::string id;
  std::string type;
  core::TimePoint time;
  std::string project;
  std::string repository;
  std::string digest;
  std::string tag;
  std::string media_type;
  std::optional<std::uint64_t> size;
  EventOrigin origin;
  // Figures of a GC or retention run, or the quota refused, as a JSON object ("" for none).
  std::string detail_json;
};

// A webhook of a project (managed through the API and the CLI).
struct Webhook {
  std::string id;
  std::string project;
  std::string url;
  // Write-only through the API: never listed.
  std::string secret;
  // Event types; empty: every type.
  std::vector<std::string> events;
  // "cloudevents" or "distribution".
  std::string format;
  core::TimePoint created;
  std::string created_by;
};

// Webhooks a project may have: each event of the project is a delivery per webhook.
inline constexpr std::size_t kMaxWebhooksPerProject = 32;

// Where fan_out() sends events beyond the projects' webhooks: the config's endpoints.
struct EventRoute {
  // "config:<url>": the key the worker finds the endpoint by.
  std::string endpoint;
  // Event types; empty: every type.
  std::vector<std::string> events;
};

enum class DeliveryState { kPending, kDelivered, kDead };

const char* delivery_state_name(DeliveryState state);
std::optional<DeliveryState> parse_delivery_state(std::string_view text);

struct Delivery {
  std::string id;
  std::string endpoint;
  // Set for a project webhook's delivery (its url, secret and format ride along in webhook).
  std::optional<Webhook> webhook;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  core::TimePoint next_attempt;
  std::optional<int> last_status;
  std::string last_error;
  core::TimePoint created;
  core::TimePoint updated;
  OutboxEvent event;
};

struct DeliveryFilter {
  std::optional<DeliveryState> state;
  // Only deliveries of this project's events ("" for all).
  std::string project;
  std::size_t limit = 100;
  // Only deliveries to project webhooks: those to the config's endpoints (the administrator's
  // URLs, tokens in their paths) are not a project owner's to see or redeliver.
  bool webhooks_only = false;
};

class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Events that are no database change, appended after the fact (one transaction).
  [[nodiscard]] virtual Result<void> append(const std::vector<OutboxEvent>& events) = 0;
  // Makes the deliveries of up to `limit` events not fanned out yet, oldest first: one per
  // route of `routes` and per webhook of the event's project that wants its type. Returns how
  // many events it handled (0: none was waiting).
  [[nodiscard]] virtual Result<std::size_t> fan_out(const std::vector<EventRoute>& routes,
                                                    core::TimePoint now, std::size_t limit) = 0;
  // Pending deliveries due at `now` whose lease (if any) has run out, oldest first: at most
  // `per_endpoint` of each endpoint (its oldest), so that one endpoint's backlog cannot hide
  // the others'.
  [[nodiscard]] virtual Result<std::vector<Delivery>> due_deliveries(core::TimePoint now,
                                                                     std::size_t limit,
                                                                     std::size_t per_endpoint) = 0;
  // Takes a due delivery for one attempt until `lease_until`: true for exactly one of the
  // callers racing for it. `owner` names this attempt (a token per claim).
  [[nodiscard]] virtual Result<bool> claim(const std::string& id, const std::string& owner,
                                           core::TimePoint now, core::TimePoint lease_until) = 0;
  // The attempt of `owner` ended: delivered, or failed with the next attempt's time (nullopt:
  // no more attempts, the delivery is dead). Ignored if `owner` lost its lease meanwhile.
  [[nodiscard]] virtual Result<void> record_attempt(const std::string& id, const std::string& owner,
                                                    core::TimePoint now, bool delivered,
                                                    std::optional<int> status,
                                                    const std::string& error,
                                                    std::optional<core::TimePoint> retry_at) = 0;
  [[nodiscard]] virtual Result<std::vector<Delivery>> list_deliveries(
      const DeliveryFilter& filter) = 0;
  [[nodiscard]] virtual Result<std::optional<Delivery>> get_delivery(const std::string& id) = 0;
  // Makes a delivery (dead or not) pending again, due now, with its attempts counted from 0.
  // False if there is no such delivery, or an attempt at it holds its lease now.
  [[nodiscard]] virtual Result<bool> redeliver(const std::string& id, core::TimePoint now) = 0;
  // Deletes delivered and dead deliveries last updated before `before`, and events that are
  // fanned out with no delivery left. Returns how many deliveries went.
  [[nodiscard]] virtual Result<std::size_t> prune(core::TimePoint before) = 0;

  // ---- project webhooks
  // CONFLICT if the id exists, or the project has a webhook to the same URL; INVALID_REQUEST
  // if the project has kMaxWebhooksPerProject.
  [[nodiscard]] virtual Result<void> add_webhook(const Webhook& webhook) = 0;
  // The project's webhooks, or every project's for "".
  [[nodiscard]] virtual Result<std::vector<Webhook>> list_webhooks(const std::string& project) = 0;
  // False if the project has no such webhook.
  [[nodiscard]] virtual Result<bool> delete_webhook(const std::string& project,
                                                    const std::string& id) = 0;
};

// A delivery's endpoint as logs and the API show it: a config endpoint's URL without its
// user and password ("config:https://ci.example.com/hook"); a project webhook's key as is.
std::string shown_endpoint(std::string_view endpoint);

// 32 random hex digits (OpenSSL's RAND_bytes): event and delivery ids.
std::string random_event_id();

}  // namespace berth::meta
