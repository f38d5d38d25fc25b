#include "cli/webhook_commands.hpp"

#include <fmt/core.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/command_support.hpp"
#include "cli/config_flags.hpp"
#include "core/webhook_rules.hpp"
#include "meta/outbox_store.hpp"

namespace berth::cli {
namespace {

struct Args {
  ConfigFlags flags;
  std::string project;
  std::string id;
  std::string url;
  std::string secret;
  std::vector<std::string> events;
  std::string format = "cloudevents";
  std::string state;
  bool dead = false;
  std::size_t limit = 100;
};

using Run = std::function<int(meta::Stores&, const Args&)>;

CLI::App* command(CLI::App* parent, const std::string& name, const std::string& help,
                  const std::shared_ptr<Args>& args, int& exit_code, Run run) {
  auto* sub = parent->add_subcommand(name, help);
  add_config_flags(sub, args->flags, false);
  sub->callback([args, &exit_code, run] {
    auto stores = open_existing_database(args->flags, exit_code);
    if (!stores) {
      return;
    }
    exit_code = run(*stores, *args);
  });
  return sub;
}

int list(meta::Stores& stores, const Args& args) {
  auto& store = *stores.outbox;
  auto hooks = store.list_webhooks(args.project);
  if (!hooks) {
    return report(hooks.error());
  }
  fmt::print("{:<18} {:<16} {:<13} {:<28} {}\n", "ID", "PROJECT", "FORMAT", "EVENTS", "URL");
  for (const auto& hook : *hooks) {
    std::string events;
    for (const auto& e : hook.events) {
      events += (events.empty() ? "" : ",") + e;
    }
    fmt::print("{:<18} {:<16} {:<13} {:<28} {}\n", hook.id, hook.project, hook.format,
               events.empty() ? "all" : events, hook.url);
  }
  return 0;
}

int add(meta::Stores& stores, const Args& args) {
  // The rules of the API and the config (core/webhook_rules.hpp).
  if (auto checked = core::check_webhook(args.url, args.secret, args.format, args.events);
      !checked) {
    return fail(checked.error().message, 2);
  }
  // A webhook of a project that does not exist would wait for whoever creates the name.
  auto project = stores.accounts->get_project(args.project);
  if (!project) {
    return report(project.error());
  }
  if (!*project) {
    return fail("there is no project " + args.project);
  }
  meta::Webhook hook{.id = meta::random_event_id().substr(0, 16),
                     .project = args.project,
                     .url = args.url,
                     .secret = args.secret,
                     .events = args.events,
                     .format = args.format,
                     .created = core::SystemClock().now(),
                     .created_by = "berth webhook add"};
  if (auto added = stores.outbox->add_webhook(hook); !added) {
    return report(added.error());
  }
  fmt::print("added webhook {} to project {}\n", hook.id, hook.project);
  return 0;
}

int remove(meta::Stores& stores, const Args& args) {
  auto& store = *stores.outbox;
  auto deleted = store.delete_webhook(args.project, args.id);
  if (!deleted) {
    return report(deleted.error());
  }
  if (!*deleted) {
    return fail("project " + args.project + " has no webhook " + args.id);
  }
  fmt::print("deleted webhook {} of project {}\n", args.id, args.project);
  return 0;
}

int deliveries(meta::Stores& stores, const Args& args) {
  auto& store = *stores.outbox;
  meta::DeliveryFilter filter{
      .state = std::nullopt, .project = args.project, .limit = args.limit, .webhooks_only = false};
  if (args.dead) {
    filter.state = meta::DeliveryState::kDead;
  } else if (!args.state.empty()) {
    filter.state = meta::parse_delivery_state(args.state);
    if (!filter.state) {
      return fail("--state must be pending, delivered or dead", 2);
    }
  }
  auto found = store.list_deliveries(filter);
  if (!found) {
    return report(found.error());
  }
  fmt::print("{:<32} {:<9} {:>8} {:<20} {:<18} {:<30} {}\n", "ID", "STATE", "ATTEMPTS", "UPDATED",
             "EVENT", "ENDPOINT", "LAST ERROR");
  for (const auto& d : *found) {
    fmt::print("{:<32} {:<9} {:>8} {:<20} {:<18} {:<30} {}\n", d.id,
               meta::delivery_state_name(d.state), d.attempts, utc_time(d.updated),
               d.event.type + " " + d.event.repository, meta::shown_endpoint(d.endpoint),
               d.last_error);
  }
  return 0;
}

int redeliver(meta::Stores& stores, const Args& args) {
  auto& store = *stores.outbox;
  auto again = store.redeliver(args.id, core::SystemClock().now());
  if (!again) {
    return report(again.error());
  }
  if (!*again) {
    return fail("there is no delivery " + args.id + ", or it is being sent right now");
  }
  fmt::print("delivery {} is pending again; a running server sends it within its poll interval\n",
             args.id);
  return 0;
}

}  // namespace

void add_webhook_commands(CLI::App& app, int& exit_code) {
  auto* webhook = app.add_subcommand("webhook", "Project webhooks and webhook deliveries");
  webhook->require_subcommand(1);

  auto listed = std::make_shared<Args>();
  command(webhook, "list", "List project webhooks (secrets are not shown)", listed, exit_code, list)
      ->add_option("--project", listed->project, "Only this project's");

  auto added = std::make_shared<Args>();
  auto* add_cmd = command(webhook, "add", "Add a webhook to a project", added, exit_code, add);
  add_cmd->add_option("project", added->project, "Project name")->required();
  add_cmd->add_option("--url", added->url, "Where deliveries are POSTed")->required();
  add_cmd->add_option("--secret", added->secret, "HMAC-SHA256 key of Berth-Signature-256")
      ->required();
  add_cmd->add_option("--events", added->events, "Event types (default: all)")->delimiter(',');
  add_cmd->add_option("--format", added->format, "cloudevents (default) or distribution");

  auto deleted = std::make_shared<Args>();
  auto* delete_cmd =
      command(webhook, "delete", "Delete a project's webhook", deleted, exit_code, remove);
  delete_cmd->add_option("project", deleted->project, "Project name")->required();
  delete_cmd->add_option("id", deleted->id, "Webhook id (berth webhook list)")->required();

  auto listed_deliveries = std::make_shared<Args>();
  auto* deliveries_cmd = command(webhook, "deliveries", "List webhook deliveries, newest first",
                                 listed_deliveries, exit_code, deliveries);
  deliveries_cmd->add_flag("--dead", listed_deliveries->dead,
                           "Only dead ones (out of attempts): the dead-letter list");
  deliveries_cmd->add_option("--state", listed_deliveries->state, "pending, delivered or dead");
  deliveries_cmd->add_option("--project", listed_deliveries->project, "Only this project's");
  deliveries_cmd->add_option("-n,--limit", listed_deliveries->limit, "At most this many");

  auto again = std::make_shared<Args>();
  command(webhook, "redeliver", "Send a delivery again (same Berth-Delivery id)", again, exit_code,
          redeliver)
      ->add_option("id", again->id, "Delivery id (berth webhook deliveries)")
      ->required();
}

}  // namespace berth::cli
