#include "events/delivery_worker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/url/parse.hpp>
#include <random>

#include "events/backoff.hpp"
#include "events/signing.hpp"

namespace berth::events {
namespace {

// Events and deliveries taken per round: bounds a round's transactions, not the throughput
// (the next round follows at once when a round was full, or when a send ended).
constexpr std::size_t kBatch = 200;
// How much of a receiver's answer is read (so that the connection can be reused).
constexpr std::size_t kMaxAnswer = 64 * 1024;
constexpr auto kPruneEvery = std::chrono::minutes(10);

double unit_random() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

}  // namespace

std::string config_endpoint_key(const std::string& url) { return "config:" + url; }

DeliveryWorker::DeliveryWorker(meta::OutboxStore& store, const core::Clock& clock,
                               WorkerOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      // An endpoint takes at most half the threads: dead ones cannot hold them all.
      per_endpoint_(std::clamp<std::size_t>(options_.concurrency, 1,
                                            std::max<std::size_t>(1, options_.threads / 2))),
      senders_(std::max<std::size_t>(1, options_.threads)) {
  for (const auto& endpoint : options_.endpoints) {
    routes_.push_back(meta::EventRoute{config_endpoint_key(endpoint.url), endpoint.events});
  }
}

DeliveryWorker::~DeliveryWorker() { stop(); }

void DeliveryWorker::note(meta::OutboxEvent event) {
  std::lock_guard lock(noted_mutex_);
  if (noted_.size() >= options_.max_noted) {
    ++dropped_;
    return;
  }
  noted_.push_back(std::move(event));
}

bool DeliveryWorker::wants(std::string_view type, std::string_view project) const {
  const auto subscriptions = subscriptions_.load();
  return subscriptions == nullptr || subscriptions->wants(type, project);
}

void DeliveryWorker::subscriptions_changed() { refresh_subscriptions(); }

void DeliveryWorker::refresh_subscriptions() {
  auto hooks = store_.list_webhooks("");
  if (!hooks) {
    // The last snapshot stays: a webhook added meanwhile counts from the next refresh.
    spdlog::warn("webhooks: reading the project webhooks failed: {}", hooks.error().message);
    return;
  }
  auto subscriptions = std::make_shared<registry::Subscriptions>();
  for (const auto& endpoint : options_.endpoints) {
    subscriptions->add_global(endpoint.events);
  }
  for (const auto& hook : *hooks) {
    subscriptions->add_project(hook.project, hook.events);
  }
  subscriptions_.store(std::move(subscriptions));
}

void DeliveryWorker::start() {
  // Before the server serves: its first requests already know what is wanted.
  refresh_subscriptions();
  std::lock_guard lock(mutex_);
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { loop(); });
  }
}

void DeliveryWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  senders_.join();
  flush_noted();
}

void DeliveryWorker::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_ = false;
    lock.unlock();
    Round round;
    try {
      round = run_round();
    } catch (const std::exception& e) {
      spdlog::error("webhooks: delivery round failed: {}", e.what());
    }
    lock.lock();
    // A full round left work behind; a freed slot may start a waiting delivery: either way the
    // next round follows at once, not after the poll interval.
    if (!round.full) {
      changed_.wait_for(lock, options_.poll_interval, [this] { return stopping_ || wake_; });
    }
  }
}

void DeliveryWorker::flush_noted() {
  auto& taken = flushing_;
  taken.clear();
  std::size_t dropped = 0;
  {
    std::lock_guard lock(noted_mutex_);
    taken.swap(noted_);
    std::swap(dropped, dropped_);
  }
  if (dropped > 0) {
    spdlog::warn("webhooks: {} events dropped: the outbox could not be written for too long",
                 dropped);
  }
  if (taken.empty()) {
    return;
  }
  for (auto& event : taken) {
    if (event.id.empty()) {
      event.id = meta::random_event_id();
    }
  }
  if (auto appended = store_.append(taken); !appended) {
    spdlog::warn("webhooks: recording {} events failed (tried again): {}", taken.size(),
                 appended.error().message);
    std::lock_guard lock(noted_mutex_);
    taken.insert(taken.end(), std::make_move_iterator(noted_.begin()),
                 std::make_move_iterator(noted_.end()));
    noted_.swap(taken);
  }
  taken.clear();
}

DeliveryWorker::Round DeliveryWorker::run_round() {
  // Each round: a webhook another replica added counts here from its next round.
  refresh_subscriptions();
  flush_noted();
  const auto now = clock_.now();
  Round round;
  if (auto fanned = store_.fan_out(routes_, now, kBatch); !fanned) {
    spdlog::warn("webhooks: fanning out events failed: {}", fanned.error().message);
  } else {
    round.full = *fanned >= kBatch;
  }
  if (std::chrono::steady_clock::now() - last_prune_ > kPruneEvery) {
    last_prune_ = std::chrono::steady_clock::now();
    if (auto pruned = store_.prune(now - options_.retention); !pruned) {
      spdlog::warn("webhooks: pruning old deliveries failed: {}", pruned.error().message);
    }
  }
  auto due = store_.due_deliveries(now, kBatch, per_endpoint_);
  if (!due) {
    spdlog::warn("webhooks: listing due deliveries failed: {}", due.error().message);
    return round;
  }
  for (auto& delivery : *due) {
    auto endpoint = endpoint_of(delivery);
    if (!endpoint) {
      // Its webhook was deleted, or its endpoint left the config: no attempt can succeed.
      if (auto lease = claim(delivery, options_.timeout)) {
        finish(delivery, *lease, Attempt{std::nullopt, "the endpoint is no longer configured"},
               Outcome::kPermanent);
      }
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || queued_.contains(delivery.id) ||
          in_flight_[delivery.endpoint] >= per_endpoint_) {
        continue;
      }
      queued_.insert(delivery.id);
      ++in_flight_[delivery.endpoint];
    }
    ++round.started;
    boost::asio::post(senders_, [this, delivery = std::move(delivery), e = std::move(*endpoint)] {
      deliver(delivery, e);
    });
  }
  // More were due than listed, and some started: the next ones are listed at once.
  round.full = round.full || (due->size() >= kBatch && round.started > 0);
  return round;
}

std::optional<std::string> DeliveryWorker::claim(const meta::Delivery& delivery,
                                                 std::chrono::milliseconds timeout) {
  // Long enough for the attempt (connect and answer each within the timeout); after a crash
  // the delivery waits this long before another worker takes it. It starts now, right before
  // the send, not when the round listed the delivery: a lease that lapsed while the task
  // waited for a thread would let another replica send it too.
  const auto now = clock_.now();
  // A token per claim, not per process: an attempt whose lease lapsed, and that this process
  // claimed again since, cannot record its late outcome over the newer attempt's.
  auto lease = meta::random_event_id();
  auto claimed = store_.claim(delivery.id, lease, now, now + 2 * timeout + std::chrono::seconds(5));
  if (!claimed || !*claimed) {
    // Another replica has it, or the database refused: a later round sees it again.
    return std::nullopt;
  }
  return lease;
}

std::optional<Endpoint> DeliveryWorker::endpoint_of(const meta::Delivery& delivery) const {
  if (delivery.webhook) {
    return Endpoint{.url = delivery.webhook->url,
                    .secret = delivery.webhook->secret,
                    .events = delivery.webhook->events,
                    .format = delivery.webhook->format,
                    .timeout = options_.timeout};
  }
  for (const auto& endpoint : options_.endpoints) {
    if (config_endpoint_key(endpoint.url) == delivery.endpoint) {
      return endpoint;
    }
  }
  return std::nullopt;
}

void DeliveryWorker::deliver(const meta::Delivery& delivery, const Endpoint& endpoint) {
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
  }
  // Stopping: the deliveries not sent yet stay pending for the next start.
  const auto timeout = endpoint.timeout.count() > 0 ? endpoint.timeout : options_.timeout;
  if (auto lease = stopping ? std::nullopt : claim(delivery, timeout)) {
    Attempt attempt;
    try {
      attempt = send(delivery, endpoint);
    } catch (const std::exception& e) {
      attempt.error = e.what();
    }
    finish(delivery, *lease, attempt);
  }
  {
    std::lock_guard lock(mutex_);
    queued_.erase(delivery.id);
    --in_flight_[delivery.endpoint];
    wake_ = true;
  }
  changed_.notify_all();
}

DeliveryWorker::Attempt DeliveryWorker::send(const meta::Delivery& delivery,
                                             const Endpoint& endpoint) {
  auto url = boost::urls::parse_uri(endpoint.url);
  if (!url) {
    return Attempt{std::nullopt, "the url is not a URL"};
  }
  http::ClientTarget target{.tls = url->scheme() == "https",
                            .host = std::string(url->host()),
                            .port = url->has_port()            ? std::string(url->port())
                                    : url->scheme() == "https" ? "443"
                                                               : "80"};
  const auto timeout = endpoint.timeout.count() > 0 ? endpoint.timeout : options_.timeout;
  auto client = client_for(target, timeout);
  if (!client) {
    return Attempt{std::nullopt, "the HTTP client could not be set up"};
  }
  const auto sent = clock_.now();
  const bool distribution = endpoint.format == "distribution";
  const std::string body = distribution ? distribution_body(delivery.event, options_.source, sent)
                                        : cloudevents_body(delivery.event, options_.source, sent);
  http::ClientRequest request;
  request.method = boost::beast::http::verb::post;
  request.target = url->encoded_path().empty() ? "/" : std::string(url->encoded_path());
  if (url->has_query()) {
    request.target += "?" + std::string(url->encoded_query());
  }
  request.headers = {
      {"Content-Type", std::string(distribution ? kDistributionType : kCloudEventsType)},
      {"User-Agent", "Berth-Webhook"},
      {std::string(kSignatureHeader), signature(endpoint.secret, body)},
      {std::string(kDeliveryHeader), delivery.id},
      {std::string(kTimestampHeader),
       std::to_string(
           std::chrono::duration_cast<std::chrono::seconds>(sent.time_since_epoch()).count())},
      {std::string(kEventHeader), delivery.event.type},
  };
  request.body.push_back(std::as_bytes(std::span(body.data(), body.size())));
  auto response = client->send(request);
  if (!response) {
    return Attempt{std::nullopt, response.error().message};
  }
  (void)response->read_all(kMaxAnswer);
  return Attempt{static_cast<int>(response->status()), ""};
}

std::shared_ptr<http::BlockingClient> DeliveryWorker::client_for(
    const http::ClientTarget& target, std::chrono::milliseconds timeout) {
  const std::string key = std::string(target.tls ? "https://" : "http://") + target.host + ":" +
                          target.port + "/" + std::to_string(timeout.count());
  {
    std::lock_guard lock(mutex_);
    if (auto it = clients_.find(key); it != clients_.end()) {
      return it->second;
    }
  }
  // Made outside the lock: it reads the CA files.
  auto made = http::BlockingClient::create(
      target, http::BlockingClientOptions{.ca_file = {},
                                          .connect_timeout = timeout,
                                          .io_timeout = timeout,
                                          .max_idle = options_.concurrency,
                                          .idle_ttl = std::chrono::seconds(10)});
  if (!made) {
    spdlog::warn("webhooks: {}", made.error());
    return nullptr;
  }
  std::lock_guard lock(mutex_);
  // Another sender may have made one meanwhile: the first one made is kept.
  return clients_.try_emplace(key, std::move(*made)).first->second;
}

void DeliveryWorker::finish(const meta::Delivery& delivery, const std::string& lease,
                            const Attempt& attempt, Outcome outcome) {
  const bool delivered = attempt.status && *attempt.status >= 200 && *attempt.status < 300;
  const int failed = delivery.attempts + 1;
  std::optional<core::TimePoint> retry_at;
  const auto now = clock_.now();
  std::string error = attempt.error;
  if (!delivered) {
    if (error.empty() && attempt.status) {
      error = "the receiver answered " + std::to_string(*attempt.status);
    }
    if (outcome == Outcome::kRetry && failed < options_.max_attempts) {
      retry_at = now + backoff(failed, options_.backoff_base, options_.backoff_cap, unit_random());
    }
    spdlog::info("webhooks: delivery {} of event {} to {} failed (attempt {}): {}{}", delivery.id,
                 delivery.event.id, meta::shown_endpoint(delivery.endpoint), failed, error,
                 retry_at ? "" : "; no more attempts, it is dead");
  }
  if (auto recorded = store_.record_attempt(delivery.id, lease, now, delivered, attempt.status,
                                            error, retry_at);
      !recorded) {
    // The lease runs out and the delivery is tried again: at least once, never lost.
    spdlog::warn("webhooks: recording delivery {} failed: {}", delivery.id,
                 recorded.error().message);
  }
}

}  // namespace berth::events
