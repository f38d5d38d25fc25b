// The auth-* scenarios: who signs in how, what each one sends, and their setups.
#include "driver/auth_scenarios.hpp"

#include <mutex>
#include <utility>

#include "driver/server_under_test.hpp"
#include "driver/servers.hpp"
#include "loadgen/auth_client.hpp"

namespace berth::bench {
namespace {

constexpr std::size_t kClients = 64;
// Clients of the push and pull flows: a few CI jobs at once. Each image is a new sign-in (a
// bcrypt for Berth today) and Distribution checks a bcrypt on every request: more clients would
// only lengthen the round's tail.
constexpr std::size_t kFlowClients = 4;
constexpr std::uint64_t kFlowLayer = 16 * kKiB;
// No request waits longer; a few-per-second server must not hold a round for minutes.
constexpr std::chrono::seconds kTimeout{120};
// Operations still running this long after a round's time are cut off. Those started in time
// run to their end otherwise (a cut would miscount a server that checks 64 passwords at once and
// finishes them together, as Distribution does): at a few checks per second that is one more
// turn of the 64 clients, seconds; on a loaded machine it could be a minute.
constexpr std::chrono::seconds kCutoff{60};
constexpr const char* kNoTokens = "Distribution with htpasswd has no token server";

Scenario authenticated(std::string id, std::string title, Rate rate, std::string unit,
                       WorkloadSpec spec, const ScenarioOptions& options) {
  Scenario s;
  s.id = std::move(id);
  s.title = std::move(title);
  s.rate = rate;
  s.unit = std::move(unit);
  s.spec = spec;
  s.spec.timeout = kTimeout;
  s.spec.cutoff = kCutoff;
  s.spec.threads = options.client_threads;
  s.authenticated = true;
  return s;
}

// The Bearer scenarios' tokens by worker, kept from one round (and scenario) to the next as a
// client keeps its token: each of the 64 clients signs in once per run (a bcrypt each today),
// and again only when its token is about to expire.
class TokenShelf {
 public:
  explicit TokenShelf(std::size_t clients) : tokens_(clients) {}

  // Gives the connection worker `worker`'s token if it has one that is not about to expire,
  // signing in for `scope` otherwise.
  asio::awaitable<OpResult> attach(RegistryClient& client, std::size_t worker, const Login& login,
                                   const std::string& scope) {
    auto& connection = client.connection();
    {
      std::lock_guard lock(mutex_);
      const auto& [token, expires] = tokens_.at(worker);
      connection.set_authorization(token, expires);
    }
    if (!connection.authorization().empty() && !token_expiring(connection)) {
      co_return OpResult{};
    }
    auto result = co_await sign_in(client, login, scope);
    if (result.ok) {
      std::lock_guard lock(mutex_);
      tokens_.at(worker) = {connection.authorization(), connection.authorization_expires()};
    }
    co_return result;
  }

 private:
  std::mutex mutex_;  // guards tokens_: workers run on several threads
  std::vector<std::pair<std::string, Clock::time_point>> tokens_;
};

// Signs in as the user for `repository` (push and pull) and pushes `image` with its tags.
std::function<void(ServerUnderTest&)> signed_in_push(std::shared_ptr<const Accounts> accounts,
                                                     std::shared_ptr<Image> image) {
  return [accounts, image](ServerUnderTest& server) {
    run_setup(server, "push " + image->repository, 1, 1,
              [accounts, image](RegistryClient& client, std::uint64_t,
                                std::size_t) -> asio::awaitable<OpResult> {
                const auto scope = repository_scope(image->repository, "pull,push");
                auto result = co_await sign_in(client, accounts->user, scope);
                if (result.ok) {
                  result += co_await push_tagged_image(client, *image);
                }
                co_return result;
              });
  };
}

void add_token_scenarios(std::vector<Scenario>& out, const Scale& scale,
                         const ScenarioOptions& options,
                         const std::shared_ptr<const Accounts>& accounts) {
  for (const bool robot : {false, true}) {
    auto s = authenticated(
        robot ? "auth-token-robot" : "auth-token-user",
        robot ? "GET /token for a robot (its token as Basic credentials), 64 keep-alive connections"
              : "GET /token for a user (Basic credentials, bcrypt cost 12), 64 keep-alive "
                "connections",
        Rate::kRequests, "request", {.connections = kClients, .duration = scale.manifest_duration},
        options);
    s.berth_only = kNoTokens;
    s.operation = [accounts, robot, scope = repository_scope("bench/auth-manifests", "pull")](
                      RegistryClient& client, std::uint64_t, std::size_t) {
      return fetch_token(client, "/token", "berth", scope, robot ? accounts->robot : accounts->user,
                         false);
    };
    if (!robot) {
      s.targets = {{Target::Kind::kRateAtLeast, 5000, "", "≥ 5,000 req/s"}};
    }
    out.push_back(std::move(s));
  }
}

// HEAD, GET and tags/list of the manifests scenarios, with a token or with Basic credentials.
void add_read_scenarios(std::vector<Scenario>& out, const Scale& scale, const SharedData& data,
                        const ScenarioOptions& options,
                        const std::shared_ptr<const Accounts>& accounts) {
  auto image = shared_image(data, "bench/auth-manifests", manifest_tag(0), 1, 4 * kKiB);
  const auto setup = signed_in_push(accounts, image);
  const auto scope = repository_scope(image->repository, "pull");
  const auto shelf = std::make_shared<TokenShelf>(kClients);
  for (const bool bearer : {true, false}) {
    for (const std::string what : {"head", "get", "tags"}) {
      const std::string credentials = bearer ? "a token" : "Basic credentials";
      auto s = authenticated(
          "auth-" + what + (bearer ? "-bearer" : "-basic"),
          (what == "tags"
               ? "tags/list (20 tags)"
               : "manifest " + std::string(what == "head" ? "HEAD" : "GET") + " by tag") +
              " with " + credentials + ", 64 keep-alive connections",
          Rate::kRequests, "request",
          {.connections = kClients, .duration = scale.manifest_duration}, options);
      s.setup = setup;
      if (what == "head") {
        // Issue 14's targets: HEAD with a token at ≥ 0.8× the open HEAD, with Basic at ≥ 0.8×
        // the token's.
        s.targets = {bearer ? Target{Target::Kind::kRateVsScenarioAtLeast, 0.8, "manifest-head",
                                     "≥ 0.8× manifest-head (access control off)"}
                            : Target{Target::Kind::kRateVsScenarioAtLeast, 0.8, "auth-head-bearer",
                                     "≥ 0.8× auth-head-bearer"}};
      }
      Operation read = [image, head = what == "head"](RegistryClient& client, std::uint64_t index,
                                                      std::size_t) {
        return client.pull_manifest(image->repository, manifest_tag(index), image->manifest_digest,
                                    image->manifest.size(), head);
      };
      if (what == "tags") {
        read = [image](RegistryClient& client, std::uint64_t, std::size_t) {
          return client.tags_list(image->repository, kManifestTags);
        };
      }
      if (bearer) {
        s.berth_only = kNoTokens;
        s.prepare = [accounts, scope, shelf](RegistryClient& client, std::uint64_t,
                                             std::size_t worker) {
          return shelf->attach(client, worker, accounts->user, scope);
        };
        s.operation = [accounts, scope, read](RegistryClient& client, std::uint64_t index,
                                              std::size_t worker) -> asio::awaitable<OpResult> {
          OpResult result;
          if (token_expiring(client.connection())) {
            result += co_await sign_in(client, accounts->user, scope);
          }
          if (result.ok) {
            result += co_await read(client, index, worker);
          }
          co_return result;
        };
      } else {
        s.prepare = [accounts](RegistryClient& client, std::uint64_t,
                               std::size_t) -> asio::awaitable<OpResult> {
          client.connection().set_authorization(basic_authorization(accounts->user));
          co_return OpResult{};
        };
        s.operation = read;
      }
      out.push_back(std::move(s));
    }
  }
}

// A small image pushed, or pulled, after a sign-in of its own, as a CI job's docker does.
void add_flow_scenarios(std::vector<Scenario>& out, const Scale& scale, const SharedData& data,
                        const ScenarioOptions& options,
                        const std::shared_ptr<const Accounts>& accounts) {
  const std::string sizes = "(" + std::to_string(kFlowLayer / kKiB) + " KiB layer + config)";
  const std::string how =
      ", each after docker's sign-in, " + std::to_string(kFlowClients) + " clients";
  WorkloadSpec spec{.connections = kFlowClients, .duration = scale.small_push_duration};
  {
    auto s = authenticated("auth-push-flow", "push of a small image " + sizes + how,
                           Rate::kOperations, "image push", spec, options);
    s.operation = [accounts, shared = &data](RegistryClient& client, std::uint64_t,
                                             std::size_t) -> asio::awaitable<OpResult> {
      const auto image = make_image("bench/auth-push", fresh_tag("a"),
                                    {shared->make_blob(kFlowLayer)}, fresh_tag("auth-"));
      const auto scope = repository_scope(image.repository, "pull,push");
      auto result = co_await sign_in(client, accounts->user, scope);
      if (result.ok) {
        result += co_await client.push_image(image);
      }
      co_return result;
    };
    out.push_back(std::move(s));
  }
  auto image = shared_image(data, "bench/auth-pull", manifest_tag(0), 1, kFlowLayer);
  auto s = authenticated("auth-pull-flow", "pull of a small image " + sizes + how,
                         Rate::kOperations, "image pull", spec, options);
  s.setup = signed_in_push(accounts, image);
  s.operation = [accounts, image, scope = repository_scope(image->repository, "pull")](
                    RegistryClient& client, std::uint64_t,
                    std::size_t) -> asio::awaitable<OpResult> {
    auto result = co_await sign_in(client, accounts->user, scope);
    if (result.ok) {
      result += co_await client.pull_image(*image);
    }
    co_return result;
  };
  out.push_back(std::move(s));
}

}  // namespace

void add_auth_scenarios(std::vector<Scenario>& out, const Scale& scale, const SharedData& data,
                        const ScenarioOptions& options) {
  const auto accounts = options.accounts ? options.accounts : std::make_shared<const Accounts>();
  add_token_scenarios(out, scale, options, accounts);
  add_read_scenarios(out, scale, data, options, accounts);
  add_flow_scenarios(out, scale, data, options, accounts);
}

}  // namespace berth::bench
