// What the data-directory commands (`berth user`, `project`, `robot`, `gc`, `check`, `backup`)
// share: how they say that something failed, how they print a time, and how they open the
// database of the data directory that --data or --config names.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cli/config_flags.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"
#include "meta/sqlite_metadata_store.hpp"

namespace berth::cli {

// Prints "berth: <message>" on stderr; returns `exit_code` (1: failed, 2: bad usage).
int fail(std::string_view message, int exit_code = 1);
// fail(error.message).
int report(const core::Error& error);

// A progress reporter (core/progress.hpp) writing to stderr, rewriting its line when stderr is
// a terminal.
[[nodiscard]] core::ProgressReporter stderr_progress(std::string label, std::string items);

// "2026-11-26T05:45:22Z" (UTC, whole seconds); "-" for none.
std::string utc_time(const std::optional<core::TimePoint>& time);

enum class MissingDatabase {
  // Make it (and its directory): for commands that set a registry up (`berth user add`).
  kCreate,
  // kNotFound "there is no database at ... (wrong --data or --config?)": for commands that
  // work on what a registry holds, where an empty new database would only hide a typo.
  kRefuse,
};

// The SQLite stores of the configuration's database. Errors other than kRefuse's say
// "cannot open <path>: ...".
[[nodiscard]] core::Result<meta::SqliteStores> open_database(const config::Config& config,
                                                             MissingDatabase missing);

// For a command's callback: the configuration the flags give and its database, which must
// exist. On failure it says why, sets exit_code (2 for a configuration that does not load) and
// returns nothing.
[[nodiscard]] std::optional<meta::SqliteStores> open_existing_database(const ConfigFlags& flags,
                                                                       int& exit_code);

}  // namespace berth::cli
