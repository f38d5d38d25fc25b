// The worker coroutines, the threads that run them, and the merging of their statistics.
#include "loadgen/workload.hpp"

#include <sys/resource.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>

namespace berth::bench {
namespace {

constexpr std::size_t kErrorSamples = 5;

struct Worker {
  std::unique_ptr<Connection> connection;
  WorkloadResult result;
};

struct Shared {
  std::atomic<std::uint64_t> next{0};
  std::uint64_t operations = 0;
  Clock::time_point end = Clock::time_point::max();
  Clock::time_point cutoff = Clock::time_point::max();
};

asio::awaitable<void> open_connection(Worker& worker, std::size_t id, const Operation& prepare,
                                      Verify verify) {
  if (auto ec = co_await worker.connection->connect(); ec) {
    ++worker.result.errors;
    worker.result.error_samples.push_back("connect: " + ec.message());
    co_return;
  }
  if (prepare) {
    RegistryClient client(*worker.connection, verify);
    if (auto op = co_await prepare(client, id, id); !op.ok) {
      ++worker.result.errors;
      worker.result.error_samples.push_back("prepare: " + op.error);
    }
  }
}

asio::awaitable<void> work(Worker& worker, std::size_t id, Shared& shared,
                           const Operation& operation, Verify verify) {
  RegistryClient client(*worker.connection, verify);
  auto& result = worker.result;
  for (;;) {
    const auto index = shared.next.fetch_add(1, std::memory_order_relaxed);
    if (shared.operations != 0 && index >= shared.operations) {
      break;
    }
    const auto start = Clock::now();
    if (start >= shared.end) {
      break;
    }
    OpResult op = co_await operation(client, index, id);
    const auto now = Clock::now();
    if (!op.ok && now > shared.cutoff) {
      ++result.cut_off;
      break;
    }
    result.latency.record(now - start);
    ++result.operations;
    result.requests += op.requests;
    result.bytes_up += op.bytes_up;
    result.bytes_down += op.bytes_down;
    if (!op.ok) {
      ++result.errors;
      if (result.error_samples.size() < kErrorSamples) {
        result.error_samples.push_back(std::move(op.error));
      }
    }
  }
}

// Runs every io_context on its own thread until each runs out of work.
void run_all(std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  std::vector<std::jthread> threads;
  for (std::size_t i = 1; i < contexts.size(); ++i) {
    threads.emplace_back([&io = *contexts[i]] { io.run(); });
  }
  contexts[0]->run();
  threads.clear();
  for (auto& io : contexts) {
    io->restart();
  }
}

}  // namespace

void WorkloadResult::merge(const WorkloadResult& other) {
  operations += other.operations;
  errors += other.errors;
  cut_off += other.cut_off;
  requests += other.requests;
  bytes_up += other.bytes_up;
  bytes_down += other.bytes_down;
  seconds += other.seconds;
  client_cpu_seconds += other.client_cpu_seconds;
  latency.merge(other.latency);
  for (const auto& sample : other.error_samples) {
    if (error_samples.size() < kErrorSamples) {
      error_samples.push_back(sample);
    }
  }
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

WorkloadResult run_workload(const asio::ip::tcp::endpoint& endpoint, const WorkloadSpec& spec,
                            const Operation& operation, const Operation& prepare,
                            const std::function<void()>& before_timed) {
  const auto thread_count = std::max<std::size_t>(1, std::min(spec.threads, spec.connections));
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<Watchdog>> watchdogs;
  for (std::size_t i = 0; i < thread_count; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    watchdogs.push_back(std::make_unique<Watchdog>(*contexts.back()));
  }
  std::vector<Worker> workers(spec.connections);
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const auto t = i % thread_count;
    workers[i].connection =
        std::make_unique<Connection>(*contexts[t], endpoint, watchdogs[t].get(), spec.timeout);
  }

  // Connect and prepare (not timed).
  for (std::size_t i = 0; i < workers.size(); ++i) {
    asio::co_spawn(*contexts[i % thread_count],
                   open_connection(workers[i], i, prepare, spec.verify), asio::detached);
  }
  run_all(contexts);
  if (before_timed) {
    before_timed();
  }

  Shared shared;
  shared.operations = spec.operations;
  const auto cpu_before = process_cpu_seconds();
  const auto start = Clock::now();
  if (spec.duration.count() > 0) {
    shared.end = start + spec.duration;
    if (spec.cutoff.count() > 0) {
      shared.cutoff = shared.end + spec.cutoff;
    }
  }
  std::vector<std::size_t> running(thread_count, 0);
  for (std::size_t i = 0; i < workers.size(); ++i) {
    ++running[i % thread_count];
  }
  for (std::size_t t = 0; t < thread_count; ++t) {
    watchdogs[t]->set_cutoff(shared.cutoff);
    watchdogs[t]->start();
  }
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const auto t = i % thread_count;
    asio::co_spawn(*contexts[t], work(workers[i], i, shared, operation, spec.verify),
                   [&, t](std::exception_ptr error) {
                     if (error) {
                       std::rethrow_exception(error);
                     }
                     if (--running[t] == 0) {
                       watchdogs[t]->stop();
                     }
                   });
  }
  run_all(contexts);

  WorkloadResult total;
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  total.client_cpu_seconds = process_cpu_seconds() - cpu_before;
  const auto seconds = total.seconds;
  const auto cpu = total.client_cpu_seconds;
  for (auto& worker : workers) {
    worker.result.seconds = 0;
    worker.result.client_cpu_seconds = 0;
    total.merge(worker.result);
  }
  total.seconds = seconds;
  total.client_cpu_seconds = cpu;
  return total;
}

}  // namespace berth::bench
