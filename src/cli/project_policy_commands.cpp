// berth project settings | usage | tags | retention (see project_policy_commands.hpp): flags,
// reading JSON from files, printing. Parsing, checking and planning are lifecycle/'s.
#include "cli/project_policy_commands.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command_support.hpp"
#include "cli/config_flags.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "lifecycle/project_settings.hpp"
#include "lifecycle/registry_policy_impl.hpp"
#include "lifecycle/retention.hpp"
#include "lifecycle/retention_policy.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "util/natural_order.hpp"

namespace berth::cli {
namespace {

namespace json = boost::json;

struct PolicyArgs {
  ConfigFlags flags;
  std::string project;
  bool json = false;
  // settings set: the whole settings (FILE or - for stdin); retention preview: a policy.
  std::string file;
  // settings set: one key each; the option tells whether it was given.
  std::string quota_bytes;
  CLI::Option* quota_bytes_given = nullptr;
  std::string quota_repositories;
  CLI::Option* quota_repositories_given = nullptr;
  std::vector<std::string> immutable;
  bool no_immutable = false;
  std::string retention;
  bool no_retention = false;
};

using PolicyRun = std::function<int(meta::SqliteStores&, const PolicyArgs&)>;

// Adds a subcommand that runs on the stores of an existing project.
CLI::App* policy_command(CLI::App* parent, const std::string& name, const std::string& help,
                         std::shared_ptr<PolicyArgs> args, int& exit_code, PolicyRun run) {
  auto* sub = parent->add_subcommand(name, help);
  add_config_flags(sub, args->flags, false);
  sub->add_option("name", args->project, "Project name")->required();
  sub->callback([args, &exit_code, run] {
    auto stores = open_existing_database(args->flags, exit_code);
    if (!stores) {
      return;
    }
    // As the admin API: settings, usage and policies are a project's, so it must exist.
    auto found = stores->accounts->get_project(args->project);
    if (!found) {
      exit_code = report(found.error());
      return;
    }
    if (!*found) {
      exit_code = fail("no project " + args->project +
                       " (berth project list shows them; a push or berth project create makes "
                       "one)");
      return;
    }
    exit_code = run(*stores, *args);
  });
  return sub;
}

// The whole of FILE, or of stdin for "-".
core::Result<std::string> read_input(const std::string& file) {
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    return core::fail(core::ErrorCode::kNotFound, "cannot read " + file);
  }
  return text.str();
}

// Two-space indented JSON for people; arrays of plain values stay on one line.
void print_pretty(const json::value& value, std::string& out, std::size_t indent) {
  const std::string pad(indent + 2, ' ');
  if (const auto* object = value.if_object(); object != nullptr && !object->empty()) {
    out += "{\n";
    std::size_t i = 0;
    for (const auto& [key, field] : *object) {
      out += pad + json::serialize(json::string(key)) + ": ";
      print_pretty(field, out, indent + 2);
      out += ++i < object->size() ? ",\n" : "\n";
    }
    out += std::string(indent, ' ') + "}";
    return;
  }
  if (const auto* array = value.if_array(); array != nullptr && !array->empty()) {
    const bool flat = std::all_of(array->begin(), array->end(), [](const json::value& item) {
      return !item.is_object() && !item.is_array();
    });
    out += flat ? "[" : "[\n";
    for (std::size_t i = 0; i < array->size(); ++i) {
      out += flat ? (i == 0 ? "" : ", ") : pad;
      print_pretty((*array)[i], out, indent + 2);
      out += flat ? "" : (i + 1 < array->size() ? ",\n" : "\n");
    }
    out += flat ? "]" : std::string(indent, ' ') + "]";
    return;
  }
  out += json::serialize(value);
}

void print_json(const std::string& text, bool pretty) {
  if (!pretty) {
    fmt::print("{}\n", text);
    return;
  }
  std::string out;
  print_pretty(json::parse(text), out, 0);
  fmt::print("{}\n", out);
}

// A last pull, or "never".
std::string pulled_text(const std::optional<core::TimePoint>& time) {
  return time ? utc_time(time) : "never";
}

std::string bytes_text(std::uint64_t bytes) {
  return fmt::format("{} bytes ({})", bytes, lifecycle::human_bytes(bytes));
}

// ---- settings

// The settings that `set` stores: FILE's (or the stored ones), with the flags' keys replaced,
// through the admin API's parser so that both take and refuse the same.
core::Result<meta::ProjectSettings> settings_to_set(meta::PolicyStore& policies,
                                                    const PolicyArgs& a) {
  core::Result<meta::ProjectSettings> base;
  if (!a.file.empty()) {
    auto text = read_input(a.file);
    if (!text) {
      return std::unexpected(text.error());
    }
    base = lifecycle::parse_settings_json(*text);
  } else {
    base = policies.settings(a.project);
  }
  if (!base) {
    return base;
  }
  auto edited = json::parse(lifecycle::settings_json(*base)).as_object();
  auto& quota = edited["quota"].as_object();
  if (a.quota_bytes_given->count() > 0) {
    if (a.quota_bytes == "none") {
      quota["bytes"] = nullptr;
    } else {
      auto bytes = config::parse_byte_size(a.quota_bytes);
      if (!bytes) {
        return core::fail(core::ErrorCode::kInvalidRequest,
                          "--quota-bytes: " + bytes.error().message + " (or none: no limit)");
      }
      quota["bytes"] = *bytes;
    }
  }
  if (a.quota_repositories_given->count() > 0) {
    if (a.quota_repositories == "none") {
      quota["repositories"] = nullptr;
    } else {
      std::uint64_t count = 0;
      const auto& text = a.quota_repositories;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return core::fail(
            core::ErrorCode::kInvalidRequest,
            "--quota-repositories: expected a whole number like 20 (or none: no limit), got '" +
                text + "'");
      }
      quota["repositories"] = count;
    }
  }
  if (a.no_immutable || !a.immutable.empty()) {
    json::array patterns;
    for (const auto& pattern : a.immutable) {
      patterns.emplace_back(pattern);
    }
    edited["immutable_tags"] = std::move(patterns);
  }
  if (a.no_retention) {
    edited["retention"] = nullptr;
  } else if (!a.retention.empty()) {
    auto text = read_input(a.retention);
    if (!text) {
      return std::unexpected(text.error());
    }
    boost::system::error_code ec;
    auto policy = json::parse(*text, ec);
    if (ec) {
      return core::fail(core::ErrorCode::kInvalidRequest,
                        "--retention " + a.retention + ": not JSON (" + ec.message() + ")");
    }
    edited["retention"] = std::move(policy);
  }
  return lifecycle::parse_settings_json(json::serialize(edited));
}

int show_settings(meta::SqliteStores& stores, const PolicyArgs& a) {
  auto settings = stores.policies->settings(a.project);
  if (!settings) {
    return report(settings.error());
  }
  print_json(lifecycle::settings_json(*settings), !a.json);
  return 0;
}

int set_settings(meta::SqliteStores& stores, const PolicyArgs& a) {
  const bool flags = a.quota_bytes_given->count() > 0 || a.quota_repositories_given->count() > 0 ||
                     !a.immutable.empty() || a.no_immutable || !a.retention.empty() ||
                     a.no_retention;
  if (a.file.empty() && !flags) {
    return fail(
        "nothing to set: give the settings as a FILE (- for stdin), or flags like --quota-bytes "
        "(see --help)",
        2);
  }
  auto settings = settings_to_set(*stores.policies, a);
  if (!settings) {
    return report(settings.error());
  }
  if (auto set = stores.policies->set_settings(a.project, *settings); !set) {
    return report(set.error());
  }
  print_json(lifecycle::settings_json(*settings), !a.json);
  return 0;
}

// ---- usage and tags

std::string limit_text(std::uint64_t used, const std::optional<std::uint64_t>& limit, bool bytes) {
  if (!limit) {
    return "no quota";
  }
  const std::string quota = bytes ? bytes_text(*limit) : std::to_string(*limit);
  if (*limit == 0) {
    return "quota " + quota;
  }
  return fmt::format("quota {}, {:.1f}% used", quota,
                     100.0 * static_cast<double>(used) / static_cast<double>(*limit));
}

int show_usage(meta::SqliteStores& stores, const PolicyArgs& a) {
  auto usage = stores.policies->usage(a.project);
  if (!usage) {
    return report(usage.error());
  }
  auto settings = stores.policies->settings(a.project);
  if (!settings) {
    return report(settings.error());
  }
  if (a.json) {
    fmt::print("{}\n", lifecycle::usage_json(a.project, *usage, *settings));
    return 0;
  }
  fmt::print("bytes         {}\t{}\n", bytes_text(usage->bytes),
             limit_text(usage->bytes, settings->quota_bytes, true));
  fmt::print("repositories  {}\t{}\n", usage->repositories,
             limit_text(usage->repositories, settings->quota_repositories, false));
  return 0;
}

int show_tags(meta::SqliteStores& stores, const PolicyArgs& a) {
  auto snapshot = stores.policies->retention_snapshot(a.project);
  if (!snapshot) {
    return report(snapshot.error());
  }
  std::sort(snapshot->tags.begin(), snapshot->tags.end(),
            [](const meta::TagInfo& x, const meta::TagInfo& y) {
              if (x.repository.str() != y.repository.str()) {
                return util::natural_less(x.repository.str(), y.repository.str());
              }
              return util::natural_less(x.tag.str(), y.tag.str());
            });
  // A manifest's pulls are by digest or by any tag, so its last pull is the one retention's
  // not_pulled_days looks at; a tag's own are those by its name.
  std::map<std::pair<std::string, std::string>, const meta::ManifestInfo*> manifests;
  for (const auto& manifest : snapshot->manifests) {
    manifests.emplace(std::pair(manifest.repository.str(), manifest.digest.str()), &manifest);
  }
  std::size_t width = 3;
  for (const auto& tag : snapshot->tags) {
    width = std::max(width, tag.repository.str().size() + 1 + tag.tag.str().size());
  }
  json::array out;
  if (!a.json) {
    fmt::print("{:<{}}  {:<20}  {:<20}  {:>6}  {:>6}  {}\n", "TAG", width, "PUSHED", "LAST PULLED",
               "PULLS", "BY TAG", "DIGEST");
  }
  for (const auto& tag : snapshot->tags) {
    auto it = manifests.find(std::pair(tag.repository.str(), tag.digest.str()));
    const meta::ManifestInfo* manifest = it == manifests.end() ? nullptr : it->second;
    const std::uint64_t pulls = manifest != nullptr ? manifest->pull_count : 0;
    const auto last_pulled =
        manifest != nullptr ? manifest->last_pulled : std::optional<core::TimePoint>();
    if (!a.json) {
      fmt::print("{:<{}}  {:<20}  {:<20}  {:>6}  {:>6}  {}\n",
                 tag.repository.str() + ":" + tag.tag.str(), width, utc_time(tag.pushed),
                 pulled_text(last_pulled), pulls, tag.pull_count, tag.digest.str());
      continue;
    }
    auto ms = [](const std::optional<core::TimePoint>& t) -> json::value {
      return t ? json::value(core::to_unix_ms(*t)) : json::value(nullptr);
    };
    out.push_back(json::object{{"repository", tag.repository.str()},
                               {"tag", tag.tag.str()},
                               {"digest", tag.digest.str()},
                               {"pushed", core::to_unix_ms(tag.pushed)},
                               {"last_pulled", ms(last_pulled)},
                               {"pull_count", pulls},
                               {"tag_last_pulled", ms(tag.last_pulled)},
                               {"tag_pull_count", tag.pull_count}});
  }
  if (a.json) {
    fmt::print("{}\n", json::serialize(out));
  }
  return 0;
}

// ---- retention

void print_planned(const lifecycle::RetentionPlan& plan) {
  std::size_t width = 0;
  for (const auto& tag : plan.tags) {
    width = std::max(width, tag.ref.repository.str().size() + 1 + tag.ref.tag.str().size());
  }
  for (const auto& tag : plan.tags) {
    std::string reasons;
    for (const auto& reason : tag.reasons) {
      reasons += (reasons.empty() ? "" : ", ") + reason;
    }
    fmt::print("tag       {:<{}}  pushed {}  last pulled {:<20}  ({})\n",
               tag.ref.repository.str() + ":" + tag.ref.tag.str(), width, utc_time(tag.ref.pushed),
               pulled_text(tag.last_pulled), reasons);
  }
  for (const auto& manifest : plan.manifests) {
    fmt::print("manifest  {}@{}\n", manifest.repository.str(), manifest.digest.str());
  }
}

int preview(meta::SqliteStores& stores, const PolicyArgs& a) {
  core::SystemClock clock;
  lifecycle::Retention retention(*stores.policies, clock);
  core::Result<lifecycle::RetentionPlan> plan;
  if (a.file.empty()) {
    plan = retention.preview(a.project);
    if (!plan && plan.error().code == core::ErrorCode::kNotFound) {
      return fail(plan.error().message + " (try one with --policy FILE, store it with berth " +
                  "project settings set " + a.project + " --retention FILE)");
    }
  } else {
    auto text = read_input(a.file);
    if (!text) {
      return report(text.error());
    }
    auto policy = lifecycle::parse_retention_policy(*text);
    if (!policy) {
      return report(policy.error());
    }
    plan = retention.preview(a.project, *policy);
  }
  if (!plan) {
    return report(plan.error());
  }
  if (a.json) {
    fmt::print("{}\n", lifecycle::plan_json(*plan));
    return 0;
  }
  print_planned(*plan);
  fmt::print(
      "the policy would delete {} tags and {} manifests of project {}, freeing {} in {} blobs "
      "once garbage collection has run\n",
      plan->tags.size(), plan->manifests.size(), a.project, bytes_text(plan->freed_bytes),
      plan->freed_blobs.size());
  return 0;
}

int run_retention(meta::SqliteStores& stores, const PolicyArgs& a) {
  core::SystemClock clock;
  lifecycle::Retention retention(*stores.policies, clock);
  auto outcome = retention.apply(a.project);
  if (!outcome) {
    return report(outcome.error());
  }
  if (a.json) {
    fmt::print("{}\n", lifecycle::outcome_json(*outcome));
    return 0;
  }
  // The plan's entries (they say why) of the tags deleted.
  std::set<std::pair<std::string, std::string>> gone;
  for (const auto& tag : outcome->deleted.tags) {
    gone.emplace(tag.repository.str(), tag.tag.str());
  }
  lifecycle::RetentionPlan deleted{.project = a.project, .now = outcome->plan.now};
  for (const auto& tag : outcome->plan.tags) {
    if (gone.contains(std::pair(tag.ref.repository.str(), tag.ref.tag.str()))) {
      deleted.tags.push_back(tag);
    }
  }
  deleted.manifests = outcome->deleted.manifests;
  print_planned(deleted);
  fmt::print(
      "deleted {} tags and {} manifests of project {} ({} skipped: changed since planned), "
      "freeing {} once garbage collection has run\n",
      outcome->deleted.tags.size(), outcome->deleted.manifests.size(), a.project,
      outcome->skipped_tags + outcome->skipped_manifests, bytes_text(outcome->freed_bytes));
  return 0;
}

// enable / disable: only the stored policy's "enabled" changes.
int set_enabled(meta::SqliteStores& stores, const PolicyArgs& a, bool enabled) {
  auto settings = stores.policies->settings(a.project);
  if (!settings) {
    return report(settings.error());
  }
  if (settings->retention_json.empty()) {
    return fail("project " + a.project + " has no retention policy (store one with berth " +
                "project settings set " + a.project + " --retention FILE)");
  }
  auto policy = lifecycle::parse_retention_policy(settings->retention_json);
  if (!policy) {
    return report(policy.error());
  }
  policy->enabled = enabled;
  settings->retention_json = lifecycle::to_json(*policy);
  if (auto set = stores.policies->set_settings(a.project, *settings); !set) {
    return report(set.error());
  }
  if (enabled) {
    fmt::print("the retention policy of project {} is enabled: it runs every {}\n", a.project,
               lifecycle::format_schedule(policy->schedule));
  } else {
    fmt::print("the retention policy of project {} is disabled: it runs only when asked\n",
               a.project);
  }
  return 0;
}

void add_json_flag(CLI::App* sub, PolicyArgs& args, const std::string& what) {
  sub->add_flag("--json", args.json, what);
}

}  // namespace

void add_project_policy_commands(CLI::App& project, int& exit_code) {
  auto* settings = project.add_subcommand(
      "settings", "Show or set a project's immutable tags, quotas and retention policy");
  settings->require_subcommand(1);

  auto show_args = std::make_shared<PolicyArgs>();
  auto* show = policy_command(settings, "show", "Print the settings as JSON (the admin API's)",
                              show_args, exit_code, show_settings);
  add_json_flag(show, *show_args, "One line, as the admin API sends it");

  auto set_args = std::make_shared<PolicyArgs>();
  auto* set =
      policy_command(settings, "set",
                     "Replace the settings with FILE's (the JSON of settings show), or change "
                     "only the keys the flags name",
                     set_args, exit_code, set_settings);
  set->add_option("file", set_args->file,
                  "The whole settings as JSON; - reads stdin. Keys left out are reset; flags "
                  "apply on top");
  set_args->quota_bytes_given = set->add_option(
      "--quota-bytes", set_args->quota_bytes,
      "At most this many bytes of unique blobs, like 10GiB (binary units); none: no limit");
  set_args->quota_repositories_given =
      set->add_option("--quota-repositories", set_args->quota_repositories,
                      "At most this many repositories; none: no limit");
  auto* immutable = set->add_option(
      "--immutable", set_args->immutable,
      "Tags matching this pattern (like 'v*') may not be pushed over; repeat for more. "
      "Replaces the patterns");
  immutable->allow_extra_args(false);
  set->add_flag("--no-immutable", set_args->no_immutable, "No immutable tags")->excludes(immutable);
  auto* retention_file = set->add_option("--retention", set_args->retention,
                                         "The retention policy from this JSON file (- for stdin)");
  set->add_flag("--no-retention", set_args->no_retention, "Remove the retention policy")
      ->excludes(retention_file);
  add_json_flag(set, *set_args, "Print the stored settings on one line");

  auto usage_args = std::make_shared<PolicyArgs>();
  auto* usage =
      policy_command(&project, "usage",
                     "Bytes (each blob once) and repositories a project uses, beside its quotas",
                     usage_args, exit_code, show_usage);
  add_json_flag(usage, *usage_args, "As the admin API's GET .../usage");

  auto tags_args = std::make_shared<PolicyArgs>();
  auto* tags =
      policy_command(&project, "tags",
                     "A project's tags with push time and pull statistics: of the manifest (by "
                     "digest or any tag) and by this tag; written by the server every "
                     "stats.flush_interval",
                     tags_args, exit_code, show_tags);
  add_json_flag(tags, *tags_args, "As JSON (times in unix milliseconds, null: never)");

  auto* retention =
      project.add_subcommand("retention", "Preview, run, enable or disable a retention policy");
  retention->require_subcommand(1);

  auto preview_args = std::make_shared<PolicyArgs>();
  auto* preview_cmd = policy_command(
      retention, "preview",
      "List exactly what the stored policy (or --policy FILE's) would delete now, and the "
      "bytes it frees; deletes nothing",
      preview_args, exit_code, preview);
  preview_cmd->add_option("--policy", preview_args->file,
                          "Try this policy (JSON file, - for stdin) instead of the stored one");
  add_json_flag(preview_cmd, *preview_args, "As the admin API's .../retention/preview");

  auto run_args = std::make_shared<PolicyArgs>();
  auto* run_cmd = policy_command(
      retention, "run", "Apply the stored policy now, enabled or not, and list what it deleted",
      run_args, exit_code, run_retention);
  add_json_flag(run_cmd, *run_args, "As the admin API's .../retention/run");

  policy_command(
      retention, "enable", "Let the server run the stored policy on its schedule",
      std::make_shared<PolicyArgs>(), exit_code,
      [](meta::SqliteStores& stores, const PolicyArgs& a) { return set_enabled(stores, a, true); });
  policy_command(retention, "disable", "Stop the schedule; preview and run still work",
                 std::make_shared<PolicyArgs>(), exit_code,
                 [](meta::SqliteStores& stores, const PolicyArgs& a) {
                   return set_enabled(stores, a, false);
                 });
}

}  // namespace berth::cli
