// berth project create|list|public|delete and berth project member add|remove|list.
#include <fmt/core.h>

#include <algorithm>

#include "auth/account_names.hpp"
#include "cli/account_command_support.hpp"
#include "cli/command_support.hpp"
#include "core/clock.hpp"
#include "core/human_bytes.hpp"
#include "meta/policy_store.hpp"

namespace berth::cli {
namespace {

int create_project(AccountContext& context, const AccountArgs& a) {
  if (!auth::valid_project_name(a.name)) {
    return usage("a project name is one repository-name component, like ci or team-a");
  }
  core::SystemClock clock;
  auto created =
      context.stores.accounts->create_project(meta::Project{a.name, a.is_public, clock.now()});
  if (!created) {
    return report(created.error());
  }
  fmt::print("created project {}{}\n", a.name, a.is_public ? " (public: anyone may pull)" : "");
  return 0;
}

int list_projects(AccountContext& context, const AccountArgs&) {
  auto projects = context.stores.accounts->list_projects();
  if (!projects) {
    return report(projects.error());
  }
  fmt::print("{:<24} {:<8} {:<8} {:>12} {:>12}\n", "PROJECT", "KIND", "ACCESS", "REPOSITORIES",
             "BYTES");
  for (const auto& p : *projects) {
    auto usage = context.stores.policies->usage(p.name);
    if (!usage) {
      return report(usage.error());
    }
    fmt::print("{:<24} {:<8} {:<8} {:>12} {:>12}\n", p.name, context.config.project_kind(p.name),
               p.is_public ? "public" : "private", usage->repositories,
               core::human_bytes(usage->bytes));
  }
  return 0;
}

// A project with images goes only with --with-images: its repositories, tags and manifests go
// with it, and a typo in the name must not take them.
int delete_project(AccountContext& context, const AccountArgs& a) {
  auto usage = context.stores.policies->usage(a.name);
  if (!usage) {
    return report(usage.error());
  }
  if (usage->repositories > 0 && !a.with_images) {
    return fail(fmt::format(
        "project {} still has {} {} ({}); `berth project delete {} --with-images` "
        "deletes them with it",
        a.name, usage->repositories, usage->repositories == 1 ? "repository" : "repositories",
        core::human_bytes(usage->bytes), a.name));
  }
  if (auto deleted = context.stores.accounts->delete_project(a.name); !deleted) {
    return report(deleted.error());
  }
  if (usage->repositories == 0) {
    fmt::print("deleted project {} (its members, robots' access and settings)\n", a.name);
  } else {
    fmt::print(
        "deleted project {} with its {} repositories, their tags and manifests, members, robots' "
        "access and settings; the next garbage collection frees {}\n",
        a.name, usage->repositories, core::human_bytes(usage->bytes));
  }
  return 0;
}

// Members are database or htpasswd users; anything else is a typo the API refuses too.
int add_member(AccountContext& context, const AccountArgs& a) {
  auto role = meta::parse_role(a.role);
  if (!role) {
    return usage("roles are reader, writer, maintainer and owner");
  }
  if (!auth::valid_account_name(a.user)) {
    return usage("user names are 1-64 letters, digits, . _ - @");
  }
  auto user = context.stores.accounts->get_user(a.user);
  if (!user) {
    return report(user.error());
  }
  if (!*user) {
    const auto from_file = htpasswd_users(context.config);
    if (std::find(from_file.begin(), from_file.end(), a.user) == from_file.end()) {
      return fail(
          fmt::format("no user {} (in the database or the htpasswd file); `berth user "
                      "add {}` makes one",
                      a.user, a.user));
    }
  }
  if (auto set = context.stores.accounts->set_member(meta::Member{a.project, a.user, *role});
      !set) {
    return report(set.error());
  }
  fmt::print("{} is {} of {}\n", a.user, a.role, a.project);
  return 0;
}

void add_member_commands(CLI::App* project, int& exit_code) {
  auto* member = project->add_subcommand("member", "Manage the members of a project");
  member->require_subcommand(1);
  auto add = std::make_shared<AccountArgs>();
  auto* add_cmd =
      account_command(member, "add", "Give a user a role: reader, writer, maintainer or owner", add,
                      exit_code, add_member);
  add_cmd->add_option("project", add->project, "Project name")->required();
  add_cmd->add_option("user", add->user, "User name (database or htpasswd)")->required();
  add_cmd->add_option("role", add->role, "reader | writer | maintainer | owner")->required();

  auto remove = std::make_shared<AccountArgs>();
  auto* remove_cmd = account_command(
      member, "remove", "Take a user's role away", remove, exit_code,
      [](AccountContext& context, const AccountArgs& a) {
        if (auto removed = context.stores.accounts->remove_member(a.project, a.user); !removed) {
          return report(removed.error());
        }
        fmt::print("{} is no member of {}\n", a.user, a.project);
        return 0;
      });
  remove_cmd->add_option("project", remove->project, "Project name")->required();
  remove_cmd->add_option("user", remove->user, "User name")->required();

  auto members = std::make_shared<AccountArgs>();
  auto* members_cmd =
      account_command(member, "list", "List a project's members", members, exit_code,
                      [](AccountContext& context, const AccountArgs& a) {
                        auto list = context.stores.accounts->list_members(a.project);
                        if (!list) {
                          return report(list.error());
                        }
                        fmt::print("{:<32} {}\n", "USER", "ROLE");
                        for (const auto& m : *list) {
                          fmt::print("{:<32} {}\n", m.user, meta::role_name(m.role));
                        }
                        return 0;
                      });
  members_cmd->add_option("project", members->project, "Project name")->required();
}

}  // namespace

void add_project_commands(CLI::App& app, int& exit_code) {
  auto* project = app.add_subcommand("project", "Manage projects and their members");
  project->require_subcommand(1);

  auto create = std::make_shared<AccountArgs>();
  auto* create_cmd =
      account_command(project, "create", "Create a project", create, exit_code, create_project);
  create_cmd->add_option("name", create->name, "Project name")->required();
  create_cmd->add_flag("--public", create->is_public, "Anonymous callers may pull");

  auto list = std::make_shared<AccountArgs>();
  account_command(project, "list", "List projects with their kind, access and usage", list,
                  exit_code, list_projects);

  auto visibility = std::make_shared<AccountArgs>();
  auto* public_cmd = account_command(
      project, "public", "Make a project public or private (true|false)", visibility, exit_code,
      [](AccountContext& context, const AccountArgs& a) {
        if (a.value != "true" && a.value != "false") {
          return usage("expected true or false");
        }
        if (auto set = context.stores.accounts->set_project_public(a.name, a.value == "true");
            !set) {
          return report(set.error());
        }
        fmt::print("project {} is {}\n", a.name, a.value == "true" ? "public" : "private");
        return 0;
      });
  public_cmd->add_option("name", visibility->name, "Project name")->required();
  public_cmd->add_option("value", visibility->value, "true or false")->required();

  auto del = std::make_shared<AccountArgs>();
  auto* del_cmd = account_command(
      project, "delete",
      "Delete a project: its members, robots' access and settings; with --with-images also "
      "its repositories, tags and manifests (refused without it while it has any)",
      del, exit_code, delete_project);
  del_cmd->add_option("name", del->name, "Project name")->required();
  del_cmd->add_flag("--with-images", del->with_images,
                    "Also delete the project's repositories (their bytes go at the next gc)");

  add_member_commands(project, exit_code);
}

}  // namespace berth::cli
