// Project settings, usage and retention endpoints of the admin API (see
// project_policy_handlers.hpp).
#include "api/project_policy_handlers.hpp"

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "api/errors.hpp"
#include "lifecycle/project_settings.hpp"
#include "lifecycle/retention.hpp"
#include "lifecycle/retention_policy.hpp"
#include "meta/policy_store.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxBodyBytes = 64 * 1024;

// Quotas and immutable tag patterns are an administrator's rules for a project: a quota is a
// ceiling on what its owners may store, and a tag made immutable must stay what it names,
// whoever owns the project. So an owner's PUT may leave them out (they are kept as they are,
// not reset) or repeat them unchanged; changing them is DENIED. Retention is the owner's.
core::Result<void> keep_administrators_rules(std::string_view text, const std::string& project,
                                             meta::ProjectSettings& wanted,
                                             const meta::ProjectSettings& stored) {
  // parse_settings_json has accepted the text: it is a JSON object.
  const auto body = boost::json::parse(text).as_object();
  if (!body.contains("quota")) {
    wanted.quota_bytes = stored.quota_bytes;
    wanted.quota_repositories = stored.quota_repositories;
  } else if (wanted.quota_bytes != stored.quota_bytes ||
             wanted.quota_repositories != stored.quota_repositories) {
    return core::fail(ErrorCode::kDenied,
                      "the quota of project " + project +
                          " is set by administrators, and its owners may not change it; leave "
                          "\"quota\" out (it is kept) or ask an administrator");
  }
  if (!body.contains("immutable_tags")) {
    wanted.immutable_tags = stored.immutable_tags;
  } else if (wanted.immutable_tags != stored.immutable_tags) {
    return core::fail(ErrorCode::kDenied,
                      "the immutable tags of project " + project +
                          " are set by administrators, and its owners may not change them; leave "
                          "\"immutable_tags\" out (they are kept) or ask an administrator");
  }
  return {};
}

class ProjectPolicyRequest {
 public:
  ProjectPolicyRequest(RequestContext& ctx, std::string project, std::vector<std::string> rest)
      : ctx_(ctx), project_(std::move(project)), rest_(std::move(rest)) {}

  asio::awaitable<void> serve() {
    auto* policies = ctx_.services().policies;
    auto* retention = ctx_.services().retention;
    if (policies == nullptr || retention == nullptr) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "no such admin endpoint");
    }
    const auto method = ctx_.ex.request().method();
    const bool reads = method == bhttp::verb::get ||
                       (method == bhttp::verb::post && rest_.size() == 2 && rest_[1] == "preview");
    // Unknown and invisible projects look the same: a caller learns nothing of projects it
    // may not pull from.
    if (!admin() && !co_await may(auth::Action::kPull)) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "no project " + project_);
    }
    auto found =
        co_await ctx_.blocking([&] { return ctx_.services().accounts.get_project(project_); });
    if (!found) {
      co_return co_await ctx_.fail(found.error());
    }
    if (!*found) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "no project " + project_);
    }
    if (!reads && !admin() && !co_await may(auth::Action::kManage)) {
      co_return co_await ctx_.fail(ErrorCode::kDenied,
                                   "you may not change or run the policies of project " + project_ +
                                       " (it needs its owner)");
    }

    if (rest_.size() == 1 && rest_[0] == "settings") {
      if (method == bhttp::verb::get) {
        co_return co_await get_settings(*policies);
      }
      if (method == bhttp::verb::put) {
        co_return co_await put_settings(*policies);
      }
      co_return co_await ctx_.method_not_allowed("GET, PUT");
    }
    if (rest_.size() == 1 && rest_[0] == "usage") {
      if (method == bhttp::verb::get) {
        co_return co_await get_usage(*policies);
      }
      co_return co_await ctx_.method_not_allowed("GET");
    }
    if (rest_.size() == 2 && rest_[0] == "retention" && rest_[1] == "preview") {
      if (method == bhttp::verb::get) {
        co_return co_await preview_stored(*retention);
      }
      if (method == bhttp::verb::post) {
        co_return co_await preview_given(*retention);
      }
      co_return co_await ctx_.method_not_allowed("GET, POST");
    }
    if (rest_.size() == 2 && rest_[0] == "retention" && rest_[1] == "run") {
      if (method == bhttp::verb::post) {
        co_return co_await run(*retention);
      }
      co_return co_await ctx_.method_not_allowed("POST");
    }
    co_await ctx_.fail(ErrorCode::kNotFound, "no such admin endpoint");
  }

 private:
  bool admin() const { return !ctx_.access().enabled() || ctx_.identity.admin; }

  asio::awaitable<bool> may(auth::Action action) {
    auto ok =
        co_await ctx_.blocking([&] { return ctx_.access().may(ctx_.identity, project_, action); });
    co_return ok&&* ok;
  }

  // The body as text; on failure answers and returns nullopt.
  asio::awaitable<std::optional<std::string>> body() {
    ctx_.ex.set_body_limit(kMaxBodyBytes);
    auto text = co_await ctx_.ex.read_body_string(kMaxBodyBytes);
    if (!text) {
      co_await ctx_.fail(ErrorCode::kTooLarge, "the JSON body is too large or cut off");
      co_return std::nullopt;
    }
    co_return std::move(*text);
  }

  asio::awaitable<void> get_settings(meta::PolicyStore& policies) {
    auto settings = co_await ctx_.blocking([&] { return policies.settings(project_); });
    if (!settings) {
      co_return co_await ctx_.fail(settings.error());
    }
    co_await ctx_.respond_json(bhttp::status::ok, lifecycle::settings_json(*settings));
  }

  asio::awaitable<void> put_settings(meta::PolicyStore& policies) {
    auto text = co_await body();
    if (!text) {
      co_return;
    }
    auto settings = lifecycle::parse_settings_json(*text);
    if (!settings) {
      co_return co_await ctx_.fail(settings.error());
    }
    if (!admin()) {
      auto stored = co_await ctx_.blocking([&] { return policies.settings(project_); });
      if (!stored) {
        co_return co_await ctx_.fail(stored.error());
      }
      if (auto kept = keep_administrators_rules(*text, project_, *settings, *stored); !kept) {
        co_return co_await ctx_.fail(kept.error());
      }
    }
    auto set = co_await ctx_.blocking([&] { return policies.set_settings(project_, *settings); });
    if (!set) {
      co_return co_await ctx_.fail(set.error());
    }
    co_await ctx_.respond_json(bhttp::status::ok, lifecycle::settings_json(*settings));
  }

  asio::awaitable<void> get_usage(meta::PolicyStore& policies) {
    auto figures = co_await ctx_.blocking(
        [&]() -> core::Result<std::pair<meta::ProjectUsage, meta::ProjectSettings>> {
          auto usage = policies.usage(project_);
          if (!usage) {
            return std::unexpected(usage.error());
          }
          auto settings = policies.settings(project_);
          if (!settings) {
            return std::unexpected(settings.error());
          }
          return std::pair(*usage, std::move(*settings));
        });
    if (!figures) {
      co_return co_await ctx_.fail(figures.error());
    }
    const auto& [usage, settings] = *figures;
    co_await ctx_.respond_json(bhttp::status::ok, lifecycle::usage_json(project_, usage, settings));
  }

  asio::awaitable<void> preview_stored(lifecycle::Retention& retention) {
    auto plan = co_await ctx_.maintenance([&] { return retention.preview(project_); });
    if (!plan) {
      co_return co_await ctx_.fail(plan.error());
    }
    co_await ctx_.respond_json(bhttp::status::ok, lifecycle::plan_json(*plan));
  }

  asio::awaitable<void> preview_given(lifecycle::Retention& retention) {
    auto text = co_await body();
    if (!text) {
      co_return;
    }
    auto policy = lifecycle::parse_retention_policy(*text);
    if (!policy) {
      co_return co_await ctx_.fail(policy.error());
    }
    auto plan = co_await ctx_.maintenance([&] { return retention.preview(project_, *policy); });
    if (!plan) {
      co_return co_await ctx_.fail(plan.error());
    }
    co_await ctx_.respond_json(bhttp::status::ok, lifecycle::plan_json(*plan));
  }

  asio::awaitable<void> run(lifecycle::Retention& retention) {
    auto outcome = co_await ctx_.maintenance([&] { return retention.apply(project_); });
    if (ctx_.services().retention_finished) {
      ctx_.services().retention_finished(
          lifecycle::Retention::ScheduledRun{.project = project_, .outcome = outcome});
    }
    if (!outcome) {
      co_return co_await ctx_.fail(outcome.error());
    }
    co_await ctx_.respond_json(bhttp::status::ok, lifecycle::outcome_json(*outcome));
  }

  RequestContext& ctx_;
  std::string project_;
  std::vector<std::string> rest_;
};

}  // namespace

asio::awaitable<void> serve_project_policy(RequestContext& ctx, std::string project,
                                           std::vector<std::string> rest) {
  ProjectPolicyRequest request(ctx, std::move(project), std::move(rest));
  co_await request.serve();
}

}  // namespace berth::api
