#include "api/admin_handlers.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/audit_trail.hpp"
#include "api/auth_gate.hpp"
#include "api/browse_handlers.hpp"
#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/project_policy_handlers.hpp"
#include "api/robot_rights.hpp"
#include "api/session_gate.hpp"
#include "api/session_handlers.hpp"
#include "api/webhook_handlers.hpp"
#include "auth/account_names.hpp"
#include "auth/password.hpp"
#include "core/names.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "meta/policy_store.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;
using core::Result;

namespace {

constexpr std::size_t kMaxBodyBytes = 64 * 1024;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    auto part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      parts.push_back(part);
    }
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  return parts;
}

json::object project_json(const meta::Project& project) {
  return json::object{{"name", project.name},
                      {"public", project.is_public},
                      {"created", core::to_unix_ms(project.created)}};
}

json::object robot_json(const meta::Robot& robot) {
  json::array scopes;
  for (const auto& scope : robot.scopes) {
    scopes.push_back(json::object{{"project", scope.project},
                                  {"role", std::string(meta::role_name(scope.role))}});
  }
  json::object out{{"name", robot.name},
                   {"user", std::string(auth::kRobotPrefix) + robot.name},
                   {"description", robot.description},
                   {"projects", std::move(scopes)},
                   {"created", core::to_unix_ms(robot.created)},
                   {"revoked", robot.revoked}};
  out["expires"] = robot.expires ? json::value(core::to_unix_ms(*robot.expires)) : nullptr;
  out["last_used"] = robot.last_used ? json::value(core::to_unix_ms(*robot.last_used)) : nullptr;
  return out;
}

// The state of one admin request.
class AdminRequest {
 public:
  explicit AdminRequest(RequestContext& ctx) : ctx_(ctx) {}

  asio::awaitable<void> serve() {
    if (!co_await authenticate_api(ctx_, "registry:admin:*")) {
      co_return;
    }
    // A token made for pulling and pushing is not a key to the accounts: tokens reach the
    // admin API only when issued for it.
    if (ctx_.access().enabled() && ctx_.token &&
        !auth::allows(ctx_.token->access, "registry", "admin", "*")) {
      co_return co_await challenge(ctx_, "registry:admin:*", true,
                                   "the token was not issued for the admin API "
                                   "(scope registry:admin:*)");
    }
    parts_ = split_path(ctx_.route.argument);
    const auto method = ctx_.ex.request().method();
    const std::size_t n = parts_.size();
    // The browse API (browse_handlers.hpp) shows anonymous callers what they may pull.
    const bool browse = ctx_.services().browse != nullptr;
    if (browse && n >= 1 && parts_[0] == "projects" && method == bhttp::verb::get &&
        (n <= 2 || (n == 3 && parts_[2] == "repositories"))) {
      co_return co_await serve_browse_projects(ctx_, parts_);
    }
    if (browse && n >= 2 && parts_[0] == "repositories") {
      co_return co_await serve_browse_repository(ctx_);
    }
    if (browse && n == 1 && parts_[0] == "search") {
      co_return co_await serve_search(ctx_);
    }
    if (ctx_.access().enabled() && ctx_.identity.anonymous()) {
      core::Error error{ErrorCode::kUnauthorized, "the admin API needs credentials", {}};
      co_return co_await fail_with_basic_challenge(error);
    }
    if (browse && n == 1 && parts_[0] == "system") {
      co_return co_await serve_system(ctx_);
    }
    if (browse && n == 1 && parts_[0] == "proxies") {
      co_return co_await serve_proxies(ctx_);
    }
    if (n == 1 && parts_[0] == "gc" && method == bhttp::verb::get) {
      co_return co_await serve_gc_history(ctx_);
    }
    if (n == 1 && parts_[0] == "me" && method == bhttp::verb::get) {
      co_return co_await me();
    }
    if (n >= 1 && parts_[0] == "projects") {
      co_return co_await projects(method);
    }
    if (n >= 1 && parts_[0] == "users") {
      co_return co_await users(method);
    }
    if (n >= 1 && parts_[0] == "robots") {
      co_return co_await robots(method);
    }
    if (n == 1 && parts_[0] == "gc") {
      co_return co_await garbage_collection(method);
    }
    if (n == 1 && parts_[0] == "audit") {
      co_return co_await serve_audit(ctx_);
    }
    if (n >= 2 && parts_[0] == "webhooks" && parts_[1] == "deliveries") {
      co_return co_await serve_webhook_deliveries(ctx_, parts_);
    }
    co_await ctx_.fail(ErrorCode::kNotFound, "no such admin endpoint");
  }

 private:
  // ---- plumbing

  asio::awaitable<void> fail_with_basic_challenge(const core::Error& error) {
    auto response = error_response(error, ctx_.ex.request().version(), ctx_.keep_alive());
    // Not to the web UI: the browser would show its own password dialog.
    if (!from_web_ui(ctx_)) {
      response.set(bhttp::field::www_authenticate, "Basic realm=\"berth\"");
    }
    co_await ctx_.send(std::move(response));
  }

  asio::awaitable<void> reply(bhttp::status status, json::value body) {
    auto text = json::serialize(body);
    co_await ctx_.respond_json(status, std::move(text));
  }

  asio::awaitable<void> no_content() {
    co_await ctx_.send(ctx_.response(bhttp::status::no_content));
  }

  asio::awaitable<void> denied(std::string what) {
    co_await ctx_.fail(ErrorCode::kDenied, "you may not " + what);
  }

  // The request body as a JSON object; on failure answers and returns nullopt.
  asio::awaitable<std::optional<json::object>> body() {
    co_return co_await read_json_object(ctx_, kMaxBodyBytes);
  }

  bool admin() const { return !ctx_.access().enabled() || ctx_.identity.admin; }

  asio::awaitable<bool> may(const std::string& project, auth::Action action) {
    auto ok =
        co_await ctx_.blocking([&] { return ctx_.access().may(ctx_.identity, project, action); });
    co_return ok&&* ok;
  }

  // Answers a failed store call; returns true when it did.
  template <class T>
  asio::awaitable<bool> failed(const Result<T>& result) {
    if (result) {
      co_return false;
    }
    co_await ctx_.fail(result.error());
    co_return true;
  }

  // ---- /gc

  // POST /api/v1/gc {"dry_run": bool}: one collection with the server's options, answered
  // with its report (lifecycle::report_json). The body is optional. 409 while another
  // collection runs.
  asio::awaitable<void> garbage_collection(bhttp::verb method) {
    if (method != bhttp::verb::post) {
      co_return co_await ctx_.method_not_allowed("GET, POST");
    }
    if (!admin()) {
      co_return co_await denied("run garbage collection");
    }
    auto& collect = ctx_.services().collect_garbage;
    if (!collect) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "garbage collection is not available");
    }
    ctx_.ex.set_body_limit(kMaxBodyBytes);
    auto text = co_await ctx_.ex.read_body_string(kMaxBodyBytes);
    if (!text) {
      co_return co_await ctx_.fail(ErrorCode::kTooLarge, "the JSON body is too large or cut off");
    }
    bool dry_run = false;
    if (text->find_first_not_of(" \t\r\n") != std::string::npos) {
      boost::system::error_code ec;
      auto value = json::parse(*text, ec);
      const json::value* flag = nullptr;
      if (!ec && value.is_object()) {
        flag = value.as_object().if_contains("dry_run");
      }
      if (ec || !value.is_object() || (flag != nullptr && !flag->is_bool())) {
        co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                     "expected {\"dry_run\": bool} or no body");
      }
      dry_run = flag != nullptr && flag->as_bool();
    }
    const std::string by = ctx_.identity.anonymous() ? "anonymous" : ctx_.identity.name;
    auto report = co_await ctx_.maintenance([&] { return collect(dry_run, by); });
    if (co_await failed(report)) {
      co_return;
    }
    std::string body = lifecycle::report_json(*report);
    co_await ctx_.respond_json(bhttp::status::ok, std::move(body));
  }

  // ---- /me

  asio::awaitable<void> me() {
    auto memberships = co_await ctx_.blocking(
        [&] { return ctx_.services().accounts.memberships(ctx_.identity.name); });
    if (co_await failed(memberships)) {
      co_return;
    }
    json::array projects;
    if (ctx_.identity.kind == auth::Identity::Kind::kRobot) {
      for (const auto& scope : ctx_.identity.robot_scopes) {
        projects.push_back(json::object{{"project", scope.project},
                                        {"role", std::string(meta::role_name(scope.role))}});
      }
    } else {
      for (const auto& member : *memberships) {
        projects.push_back(json::object{{"project", member.project},
                                        {"role", std::string(meta::role_name(member.role))}});
      }
    }
    // Named, not braced inside the co_await: GCC 12 destroys such temporaries twice.
    json::object out{{"name", ctx_.identity.name},
                     {"anonymous", ctx_.identity.anonymous()},
                     {"admin", ctx_.identity.admin},
                     {"robot", ctx_.identity.kind == auth::Identity::Kind::kRobot},
                     {"access_control", ctx_.access().enabled()},
                     {"projects", std::move(projects)}};
    co_await reply(bhttp::status::ok, std::move(out));
  }

  // ---- /projects

  asio::awaitable<void> projects(bhttp::verb method) {
    auto& accounts = ctx_.services().accounts;
    const std::size_t n = parts_.size();
    if (n == 1 && method == bhttp::verb::get) {
      auto all = co_await ctx_.blocking([&] { return accounts.list_projects(); });
      if (co_await failed(all)) {
        co_return;
      }
      json::array out;
      for (const auto& project : *all) {
        if (admin() || co_await may(project.name, auth::Action::kPull)) {
          out.push_back(project_json(project));
        }
      }
      co_return co_await reply(bhttp::status::ok, std::move(out));
    }
    if (n == 1 && method == bhttp::verb::post) {
      co_return co_await create_project();
    }
    if (n < 2) {
      co_return co_await ctx_.method_not_allowed("GET, POST");
    }
    const std::string name = parts_[1];
    if (n == 2) {
      if (method == bhttp::verb::get) {
        if (!admin() && !co_await may(name, auth::Action::kPull)) {
          co_return co_await ctx_.fail(ErrorCode::kNotFound, "no project " + name);
        }
        auto found = co_await ctx_.blocking([&] { return accounts.get_project(name); });
        if (co_await failed(found)) {
          co_return;
        }
        if (!*found) {
          co_return co_await ctx_.fail(ErrorCode::kNotFound, "no project " + name);
        }
        co_return co_await reply(bhttp::status::ok, project_json(**found));
      }
      if (method == bhttp::verb::patch) {
        if (!admin() && !co_await may(name, auth::Action::kManage)) {
          co_return co_await denied("change project " + name);
        }
        auto fields = co_await body();
        if (!fields) {
          co_return;
        }
        auto it = fields->find("public");
        if (it == fields->end() || !it->value().is_bool()) {
          co_return co_await ctx_.fail(ErrorCode::kInvalidRequest, "expected {\"public\": bool}");
        }
        const bool is_public = it->value().as_bool();
        auto set =
            co_await ctx_.blocking([&] { return accounts.set_project_public(name, is_public); });
        if (co_await failed(set)) {
          co_return;
        }
        co_return co_await no_content();
      }
      if (method == bhttp::verb::delete_) {
        if (!admin()) {
          co_return co_await denied("delete projects");
        }
        if (!co_await may_delete_project(name)) {
          co_return;
        }
        auto deleted = co_await ctx_.blocking([&] { return accounts.delete_project(name); });
        if (co_await failed(deleted)) {
          co_return;
        }
        co_return co_await no_content();
      }
      co_return co_await ctx_.method_not_allowed("GET, PATCH, DELETE");
    }
    if (parts_[2] == "webhooks") {
      std::vector<std::string> rest(parts_.begin() + 2, parts_.end());
      std::string project = name;
      co_return co_await serve_project_webhooks(ctx_, std::move(project), std::move(rest));
    }
    if (parts_[2] == "settings" || parts_[2] == "usage" || parts_[2] == "retention") {
      // Named locals, not temporaries inside the co_await (GCC 12 coroutine bug).
      std::vector<std::string> rest(parts_.begin() + 2, parts_.end());
      std::string project = name;
      co_return co_await serve_project_policy(ctx_, std::move(project), std::move(rest));
    }
    if (parts_[2] != "members" || n > 4) {
      co_return co_await ctx_.fail(ErrorCode::kNotFound, "no such admin endpoint");
    }
    if (!admin() && !co_await may(name, auth::Action::kManage)) {
      co_return co_await denied("manage the members of " + name);
    }
    if (n == 3 && method == bhttp::verb::get) {
      if (co_await project_missing(name)) {
        co_return;
      }
      auto members = co_await ctx_.blocking([&] { return accounts.list_members(name); });
      if (co_await failed(members)) {
        co_return;
      }
      json::array out;
      for (const auto& member : *members) {
        out.push_back(json::object{{"user", member.user},
                                   {"role", std::string(meta::role_name(member.role))}});
      }
      co_return co_await reply(bhttp::status::ok, std::move(out));
    }
    if (n != 4) {
      co_return co_await ctx_.method_not_allowed("GET");
    }
    const std::string user = parts_[3];
    if (method == bhttp::verb::put) {
      auto fields = co_await body();
      if (!fields) {
        co_return;
      }
      auto it = fields->find("role");
      std::optional<meta::Role> role;
      if (it != fields->end() && it->value().is_string()) {
        role = meta::parse_role(it->value().as_string());
      }
      if (!role) {
        co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                     "expected {\"role\": reader|writer|maintainer|owner}");
      }
      auto exists =
          co_await ctx_.blocking([&] { return ctx_.services().authenticator.current(user); });
      if (!exists || exists->kind != auth::Identity::Kind::kUser) {
        co_return co_await ctx_.fail(ErrorCode::kNotFound, "no user " + user);
      }
      meta::Member member{name, user, *role};
      auto set = co_await ctx_.blocking([&] { return accounts.set_member(member); });
      if (co_await failed(set)) {
        co_return;
      }
      co_return co_await no_content();
    }
    if (method == bhttp::verb::delete_) {
      auto removed = co_await ctx_.blocking([&] { return accounts.remove_member(name, user); });
      if (co_await failed(removed)) {
        co_return;
      }
      co_return co_await no_content();
    }
    co_await ctx_.method_not_allowed("PUT, DELETE");
  }

  // A project with images goes only with ?with_images=true: its repositories, tags and
  // manifests go with it, and a slip of the name must not take them. Answers a refusal.
  asio::awaitable<bool> may_delete_project(const std::string& name) {
    if (ctx_.route.param("with_images").value_or("") == "true" ||
        ctx_.services().policies == nullptr) {
      co_return true;
    }
    auto usage = co_await ctx_.blocking([&] { return ctx_.services().policies->usage(name); });
    if (co_await failed(usage)) {
      co_return false;
    }
    if (usage->repositories == 0) {
      co_return true;
    }
    co_await ctx_.fail(ErrorCode::kConflict,
                       "project " + name + " still has " + std::to_string(usage->repositories) +
                           (usage->repositories == 1 ? " repository" : " repositories") +
                           "; DELETE with ?with_images=true deletes them with it");
    co_return false;
  }

  asio::awaitable<void> create_project() {
    auto fields = co_await body();
    if (!fields) {
      co_return;
    }
    auto name_it = fields->find("name");
    if (name_it == fields->end() || !name_it->value().is_string() ||
        !auth::valid_project_name(name_it->value().as_string())) {
      co_return co_await ctx_.fail(ErrorCode::kNameInvalid,
                                   "expected {\"name\": a repository name component}");
    }
    const std::string name(name_it->value().as_string());
    ctx_.audit_target = name;
    bool is_public = false;
    if (auto it = fields->find("public"); it != fields->end()) {
      if (!it->value().is_bool()) {
        co_return co_await ctx_.fail(ErrorCode::kInvalidRequest, "\"public\" must be a bool");
      }
      is_public = it->value().as_bool();
    }
    if (!admin() && !co_await may(name, auth::Action::kPush)) {
      co_return co_await denied("create projects");
    }
    auto& accounts = ctx_.services().accounts;
    meta::Project project{name, is_public, ctx_.services().clock.now()};
    auto created = co_await ctx_.blocking([&] { return accounts.create_project(project); });
    if (co_await failed(created)) {
      co_return;
    }
    if (ctx_.identity.kind == auth::Identity::Kind::kUser && !ctx_.identity.admin) {
      meta::Member owner{name, ctx_.identity.name, meta::Role::kOwner};
      auto set = co_await ctx_.blocking([&] { return accounts.set_member(owner); });
      if (co_await failed(set)) {
        co_return;
      }
    }
    co_await reply(bhttp::status::created, project_json(project));
  }

  // ---- /users

  asio::awaitable<void> users(bhttp::verb method) {
    auto& accounts = ctx_.services().accounts;
    const std::size_t n = parts_.size();
    const std::string name = n >= 2 ? parts_[1] : std::string();
    const bool self =
        n == 2 && name == ctx_.identity.name && ctx_.identity.kind == auth::Identity::Kind::kUser;
    if (!admin() && !(self && method == bhttp::verb::patch)) {
      co_return co_await denied("manage users");
    }
    if (n == 3 && parts_[2] == "unlock") {
      co_return co_await unlock_user(method, name);
    }
    if (n == 1 && method == bhttp::verb::get) {
      auto all = co_await ctx_.blocking([&] { return accounts.list_users(); });
      if (co_await failed(all)) {
        co_return;
      }
      json::array out;
      for (const auto& user : *all) {
        out.push_back(json::object{{"name", user.name},
                                   {"admin", user.admin},
                                   {"created", core::to_unix_ms(user.created)}});
      }
      co_return co_await reply(bhttp::status::ok, std::move(out));
    }
    if (n == 1 && method == bhttp::verb::post) {
      auto fields = co_await body();
      if (!fields) {
        co_return;
      }
      auto name_it = fields->find("name");
      auto password_it = fields->find("password");
      if (name_it == fields->end() || !name_it->value().is_string() ||
          !auth::valid_account_name(name_it->value().as_string())) {
        co_return co_await ctx_.fail(ErrorCode::kNameInvalid,
                                     "expected {\"name\": letters, digits, . _ - @}");
      }
      if (password_it == fields->end() || !password_it->value().is_string() ||
          password_it->value().as_string().size() < auth::kMinPasswordLength) {
        co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                     "expected {\"password\": at least 8 characters}");
      }
      ctx_.audit_target = std::string(name_it->value().as_string());
      bool make_admin = false;
      if (auto it = fields->find("admin"); it != fields->end()) {
        if (!it->value().is_bool()) {
          co_return co_await admin_flag_invalid();
        }
        make_admin = it->value().as_bool();
      }
      std::string password(password_it->value().as_string());
      meta::User user{.name = std::string(name_it->value().as_string()),
                      .admin = make_admin,
                      .created = ctx_.services().clock.now()};
      auto created = co_await ctx_.passwords([&]() -> Result<void> {
        auto hash = auth::hash_password(password);
        if (!hash) {
          return std::unexpected(hash.error());
        }
        user.password_hash = *hash;
        return accounts.create_user(user);
      });
      if (co_await failed(created)) {
        co_return;
      }
      json::object out{{"name", user.name}, {"admin", user.admin}};
      co_return co_await reply(bhttp::status::created, std::move(out));
    }
    if (n != 2) {
      co_return co_await ctx_.method_not_allowed("GET, POST");
    }
    if (method == bhttp::verb::delete_) {
      auto deleted = co_await ctx_.blocking([&] { return accounts.delete_user(name); });
      if (co_await failed(deleted)) {
        co_return;
      }
      co_return co_await no_content();
    }
    if (method == bhttp::verb::patch) {
      auto fields = co_await body();
      if (!fields) {
        co_return;
      }
      if (co_await user_missing(name)) {
        co_return;
      }
      if (auto it = fields->find("admin"); it != fields->end()) {
        if (!it->value().is_bool()) {
          co_return co_await admin_flag_invalid();
        }
        if (!admin()) {
          co_return co_await denied("change the admin flag");
        }
        const bool make_admin = it->value().as_bool();
        auto set = co_await ctx_.blocking([&] { return accounts.set_admin(name, make_admin); });
        if (co_await failed(set)) {
          co_return;
        }
      }
      if (auto it = fields->find("password"); it != fields->end()) {
        if (!it->value().is_string() || it->value().as_string().size() < auth::kMinPasswordLength) {
          co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                       "expected {\"password\": at least 8 characters}");
        }
        std::string password(it->value().as_string());
        if (self && ctx_.access().enabled() && !co_await current_password_given(*fields, name)) {
          co_return;
        }
        auto set = co_await ctx_.passwords([&]() -> Result<void> {
          auto hash = auth::hash_password(password);
          if (!hash) {
            return std::unexpected(hash.error());
          }
          return accounts.set_password(name, *hash);
        });
        if (co_await failed(set)) {
          co_return;
        }
      }
      co_return co_await no_content();
    }
    co_await ctx_.method_not_allowed("PATCH, DELETE");
  }

  // A user changing their own password proves they know the current one: a stolen token or
  // an unlocked session must not be enough to take the account over. (An administrator
  // resetting another's password need not know it.) Checked as a login, so guesses here are
  // throttled and logged like any other. Answers and returns false when it is not given right.
  asio::awaitable<bool> current_password_given(const json::object& fields,
                                               const std::string& name) {
    auto it = fields.find("current_password");
    if (it == fields.end() || !it->value().is_string()) {
      co_await ctx_.fail(ErrorCode::kInvalidRequest,
                         "changing your own password needs {\"current_password\": ...} too");
      co_return false;
    }
    std::string current(it->value().as_string());
    std::string address = ctx_.client_address();
    auto checked = co_await ctx_.passwords(
        [&] { return ctx_.services().authenticator.login(name, current, address); });
    if (checked) {
      co_return true;
    }
    if (checked.error().code == ErrorCode::kUnauthorized) {
      co_await denied("change the password: the current password is wrong");
    } else {
      co_await ctx_.fail(checked.error());
    }
    co_return false;
  }

  asio::awaitable<void> admin_flag_invalid() {
    return ctx_.fail(ErrorCode::kInvalidRequest, "expected {\"admin\": true or false}");
  }

  // True after answering 404 (or an error) when the database has no user `name`. A change
  // that names no field must not answer 204 for an account that does not exist.
  asio::awaitable<bool> user_missing(const std::string& name) {
    return missing("user", name, [&] { return ctx_.services().accounts.get_user(name); });
  }

  // True after answering 404 (or an error) when there is no project `name`.
  asio::awaitable<bool> project_missing(const std::string& name) {
    return missing("project", name, [&] { return ctx_.services().accounts.get_project(name); });
  }

  // `lookup` returns Result<std::optional<T>>; runs on the blocking pool.
  template <typename Lookup>
  asio::awaitable<bool> missing(std::string_view what, const std::string& name, Lookup lookup) {
    auto found = co_await ctx_.blocking(std::move(lookup));
    if (co_await failed(found)) {
      co_return true;
    }
    if (!found->has_value()) {
      co_await ctx_.fail(ErrorCode::kNotFound, "no " + std::string(what) + " " + name);
      co_return true;
    }
    co_return false;
  }

  // POST /api/v1/users/{u}/unlock: forgets the user name's failed logins (its lockout at every
  // address), here and in every server sharing the database.
  asio::awaitable<void> unlock_user(bhttp::verb method, const std::string& name) {
    if (method != bhttp::verb::post) {
      co_return co_await ctx_.method_not_allowed("POST");
    }
    if (!admin()) {
      co_return co_await denied("unlock users");
    }
    auto unlocked =
        co_await ctx_.blocking([&] { return ctx_.services().authenticator.unlock(name); });
    if (co_await failed(unlocked)) {
      co_return;
    }
    co_await no_content();
  }

  // ---- /robots

  asio::awaitable<void> robots(bhttp::verb method) {
    // Maintainers and owners manage their projects' robots (robot_rights.hpp).
    auto roles = co_await ctx_.blocking([&] { return robot_manager_roles(ctx_); });
    if (co_await failed(roles)) {
      co_return;
    }
    robot_roles_ = std::move(*roles);
    if (!admin() && robot_roles_.empty()) {
      co_return co_await denied("manage robot accounts");
    }
    auto& accounts = ctx_.services().accounts;
    const std::size_t n = parts_.size();
    if (n == 1 && method == bhttp::verb::get) {
      co_return co_await list_robots();
    }
    if (n >= 2 && !admin() && !co_await robot_is_mine(parts_[1])) {
      co_return co_await denied("manage robot " + parts_[1]);
    }
    if (n == 1 && method == bhttp::verb::post) {
      co_return co_await create_robot();
    }
    if (n == 3 && parts_[2] == "revoke" && method == bhttp::verb::post) {
      const std::string name = parts_[1];
      auto revoked = co_await ctx_.blocking([&] { return accounts.revoke_robot(name); });
      if (co_await failed(revoked)) {
        co_return;
      }
      co_return co_await no_content();
    }
    if (n == 2 && method == bhttp::verb::delete_) {
      const std::string name = parts_[1];
      auto deleted = co_await ctx_.blocking([&] { return accounts.delete_robot(name); });
      if (co_await failed(deleted)) {
        co_return;
      }
      co_return co_await no_content();
    }
    co_await ctx_.method_not_allowed(n == 1 ? "GET, POST" : n == 2 ? "DELETE" : "POST");
  }

  // GET /api/v1/robots[?project=p]: every robot, or those with a scope in p; a maintainer or
  // owner must name a project of theirs, and sees only that project's scopes.
  asio::awaitable<void> list_robots() {
    const auto project = ctx_.route.param("project");
    if (!admin() && (!project || !robot_roles_.contains(*project))) {
      // Named: GCC 12 mishandles a conditional's temporaries inside a co_await.
      const std::string what =
          project ? "list the robots of project " + *project : "list every project's robots";
      co_return co_await denied(what);
    }
    auto all = co_await ctx_.blocking([&] { return ctx_.services().accounts.list_robots(); });
    if (co_await failed(all)) {
      co_return;
    }
    json::array out;
    for (auto robot : *all) {
      if (project) {
        auto in_project = [&](const meta::RobotScope& scope) { return scope.project == *project; };
        if (std::none_of(robot.scopes.begin(), robot.scopes.end(), in_project)) {
          continue;
        }
        if (!admin()) {
          std::erase_if(robot.scopes, [&](const auto& scope) { return !in_project(scope); });
        }
      }
      out.push_back(robot_json(robot));
    }
    co_await reply(bhttp::status::ok, std::move(out));
  }

  // Whether the robot exists and is the caller's to manage; an unknown one is left to the
  // store's answer (404).
  asio::awaitable<bool> robot_is_mine(const std::string& name) {
    auto all = co_await ctx_.blocking([&] { return ctx_.services().accounts.list_robots(); });
    if (!all) {
      co_return false;
    }
    for (const auto& robot : *all) {
      if (robot.name == name) {
        co_return may_manage_robot(robot_roles_, robot.scopes);
      }
    }
    co_return true;
  }

  asio::awaitable<void> create_robot() {
    auto fields = co_await body();
    if (!fields) {
      co_return;
    }
    meta::Robot robot;
    auto name_it = fields->find("name");
    if (name_it == fields->end() || !name_it->value().is_string() ||
        !auth::valid_account_name(name_it->value().as_string())) {
      co_return co_await ctx_.fail(ErrorCode::kNameInvalid,
                                   "expected {\"name\": letters, digits, . _ - @}");
    }
    robot.name = std::string(name_it->value().as_string());
    ctx_.audit_target = robot.name;
    if (auto it = fields->find("description"); it != fields->end() && it->value().is_string()) {
      robot.description = std::string(it->value().as_string());
    }
    auto projects_it = fields->find("projects");
    if (projects_it == fields->end() || !projects_it->value().is_array()) {
      co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                   "expected \"projects\": [{\"project\", \"role\"}]");
    }
    for (const auto& entry : projects_it->value().as_array()) {
      const auto* scope = entry.if_object();
      std::optional<meta::Role> role;
      if (scope != nullptr && scope->contains("project") && scope->contains("role") &&
          scope->at("project").is_string() && scope->at("role").is_string()) {
        role = meta::parse_role(scope->at("role").as_string());
      }
      if (!role) {
        co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                     "each project is {\"project\": name, \"role\": "
                                     "reader|writer|maintainer|owner}");
      }
      robot.scopes.push_back(
          meta::RobotScope{std::string(scope->at("project").as_string()), *role});
    }
    if (!admin() && !may_manage_robot(robot_roles_, robot.scopes)) {
      co_return co_await denied(
          "create this robot: each of its projects must be one you maintain or own, with a role "
          "no higher than yours");
    }
    const auto now = ctx_.services().clock.now();
    robot.created = now;
    if (auto it = fields->find("expires_in_days"); it != fields->end()) {
      if (!it->value().is_int64() || it->value().as_int64() <= 0) {
        co_return co_await ctx_.fail(ErrorCode::kInvalidRequest,
                                     "\"expires_in_days\" must be a positive integer");
      }
      robot.expires = now + std::chrono::hours(24) * it->value().as_int64();
    }
    // Shown once: only its hash is kept.
    const std::string token = auth::random_token("brb_");
    robot.token_hash = auth::token_hash(token);
    auto created =
        co_await ctx_.blocking([&] { return ctx_.services().accounts.create_robot(robot); });
    if (co_await failed(created)) {
      co_return;
    }
    auto out = robot_json(robot);
    out["token"] = token;
    co_await reply(bhttp::status::created, std::move(out));
  }

  RequestContext& ctx_;
  std::vector<std::string> parts_;
  // The projects the caller maintains or owns (robots()).
  std::map<std::string, meta::Role> robot_roles_;
};

}  // namespace

asio::awaitable<void> serve_admin(RequestContext& ctx) {
  // Signing in and asking who is signed in come before (and without) authentication.
  if (ctx.route.argument == "session") {
    co_return co_await serve_session(ctx);
  }
  AdminRequest request(ctx);
  co_await request.serve();
}

}  // namespace berth::api
