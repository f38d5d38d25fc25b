// The webhook delivery worker: one per process, outside the request path.
//
// Every poll interval its thread reads who subscribes to what (the config's endpoints and the
// project webhooks) into a snapshot that EventSink::wants() answers from, so that events
// nobody wants are never built nor written; appends the events noted in memory (pulls, quota
// refusals, finished GC and retention runs: EventSink) to the outbox in one transaction, fans
// new events out into deliveries (meta/outbox_store.hpp), and starts the due ones: each is
// claimed in the database with a lease (so that of several replicas one sends it), sent by a
// small thread pool with the blocking HTTP client (http/blocking_client.hpp: every step under
// a deadline), and its outcome recorded: delivered on a 2xx answer, otherwise tried again
// after a backoff (backoff.hpp) until events.max_attempts, then dead.
//
// Why this never slows a push: the request only inserts a row in a transaction it makes
// anyway (or, for a pull, appends to a vector under a mutex); a slow receiver holds one pool
// thread for at most its timeout. Why one dead endpoint cannot starve the others: a round
// lists at most `concurrency` due deliveries per endpoint, at most that many per endpoint are
// queued or in flight, and that is at most half the threads (make_delivery_worker gives
// 2 x concurrency). A delivery is claimed by the sender thread right before it is sent, so its
// lease covers the attempt, not the time it waited for a thread.
//
// Thread-safe. Stop (or destroy) it before the store.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "events/envelope.hpp"
#include "http/blocking_client.hpp"
#include "meta/outbox_store.hpp"
#include "registry/events.hpp"

namespace berth::events {

// Where deliveries go: a global endpoint of the config, or a project's webhook.
struct Endpoint {
  std::string url;
  std::string secret;
  // Event types; empty: all.
  std::vector<std::string> events;
  // "cloudevents" or "distribution".
  std::string format = "cloudevents";
  // 0: WorkerOptions::timeout.
  std::chrono::milliseconds timeout{0};
};

struct WorkerOptions {
  // The config's endpoints (every project's events).
  std::vector<Endpoint> endpoints;
  int max_attempts = 12;
  std::chrono::milliseconds backoff_base{std::chrono::seconds(2)};
  std::chrono::milliseconds backoff_cap{std::chrono::minutes(30)};
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  std::size_t concurrency = 4;
  std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(500)};
  // Threads sending deliveries; an endpoint takes at most half of them (and at most
  // `concurrency`).
  std::size_t threads = 8;
  // Events noted and not yet appended beyond this are dropped (and counted in the log): a
  // database that refuses writes for long must not make memory grow without bound.
  std::size_t max_noted = 100'000;
  Source source;
};

class DeliveryWorker final : public registry::EventSink {
 public:
  DeliveryWorker(meta::OutboxStore& store, const core::Clock& clock, WorkerOptions options);
  ~DeliveryWorker() override;
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  void note(meta::OutboxEvent event) override;
  bool wants(std::string_view type, std::string_view project) const override;
  void subscriptions_changed() override;

  // Reads the subscriptions (blocking) and starts the thread; stop() ends it, waits for the
  // deliveries in flight, and appends what was noted since the last round.
  void start();
  void stop();

  struct Round {
    // Deliveries started.
    std::size_t started = 0;
    // Work was left for the next round (events to fan out, deliveries due).
    bool full = false;
  };
  // One round, as the thread makes it.
  Round run_round();

 private:
  void loop();
  void flush_noted();
  // Reads the project webhooks and publishes what wants() answers from.
  void refresh_subscriptions();
  std::optional<Endpoint> endpoint_of(const meta::Delivery& delivery) const;
  // Claims, sends and records one delivery: on a sender thread.
  void deliver(const meta::Delivery& delivery, const Endpoint& endpoint);
  // Takes the delivery's lease from now, for an attempt under `timeout`: its token, or nullopt
  // if another worker has it.
  std::optional<std::string> claim(const meta::Delivery& delivery,
                                   std::chrono::milliseconds timeout);
  // The outcome of one attempt: the HTTP status, or a transport failure.
  struct Attempt {
    std::optional<int> status;
    std::string error;
  };
  Attempt send(const meta::Delivery& delivery, const Endpoint& endpoint);
  std::shared_ptr<http::BlockingClient> client_for(const http::ClientTarget& target,
                                                   std::chrono::milliseconds timeout);
  // Whether a failed attempt may be tried again (up to max_attempts).
  enum class Outcome { kRetry, kPermanent };
  // Records the attempt made under `lease`: a failure is tried again after a backoff, or the
  // delivery is dead.
  void finish(const meta::Delivery& delivery, const std::string& lease, const Attempt& attempt,
              Outcome outcome = Outcome::kRetry);

  meta::OutboxStore& store_;
  const core::Clock& clock_;
  WorkerOptions options_;
  // Deliveries listed, queued or in flight per endpoint, at most.
  const std::size_t per_endpoint_;
  std::vector<meta::EventRoute> routes_;
  // What wants() answers from: replaced whole, read without a lock. Null until the first
  // refresh: then every event is wanted (none is lost at start).
  std::atomic<std::shared_ptr<const registry::Subscriptions>> subscriptions_;
  boost::asio::thread_pool senders_;

  // Guards noted_ and dropped_ only: note() is on the request path.
  std::mutex noted_mutex_;
  std::vector<meta::OutboxEvent> noted_;
  std::size_t dropped_ = 0;
  // The worker thread's batch being appended (its capacity goes back to noted_ at the next swap).
  std::vector<meta::OutboxEvent> flushing_;

  // Guards everything below.
  std::mutex mutex_;
  std::condition_variable changed_;
  // Deliveries queued or in flight per endpoint key, and their ids (a queued delivery is not
  // claimed yet: the next round lists it again).
  std::map<std::string, std::size_t> in_flight_;
  std::set<std::string> queued_;
  std::map<std::string, std::shared_ptr<http::BlockingClient>> clients_;
  bool stopping_ = false;
  // A send ended since the round began: its slot may start a waiting delivery.
  bool wake_ = false;
  std::chrono::steady_clock::time_point last_prune_{};
  std::thread thread_;
};

// The endpoint key of a config endpoint ("config:<url>"), as deliveries record it.
std::string config_endpoint_key(const std::string& url);

}  // namespace berth::events
