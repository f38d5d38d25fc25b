// Shared helpers of the data-directory commands (see command_support.hpp).
#include "cli/command_support.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "server/metadata_setup.hpp"
#include "util/utc_time.hpp"

namespace berth::cli {

int fail(std::string_view message, int exit_code) {
  fmt::print(stderr, "berth: {}\n", message);
  return exit_code;
}

int report(const core::Error& error) { return fail(error.message); }

core::ProgressReporter stderr_progress(std::string label, std::string items) {
  return core::ProgressReporter(
      std::move(label), std::move(items), ::isatty(STDERR_FILENO) != 0,
      [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stderr);
        std::fflush(stderr);
      },
      [] { return std::chrono::steady_clock::now(); });
}

std::string utc_time(const std::optional<core::TimePoint>& time) {
  if (!time) {
    return "-";
  }
  return util::format_utc(*time);
}

core::Result<meta::SqliteStores> open_database(const config::Config& config,
                                               MissingDatabase missing) {
  if (config.metadata.driver == "postgres") {
    // A shared server: it exists or the connection fails; its tables are created on open.
    auto stores = server::open_metadata(config);
    if (!stores) {
      return core::fail(stores.error().code, "cannot open " + server::metadata_description(config) +
                                                 ": " + stores.error().message);
    }
    return stores;
  }
  const auto path = config.sqlite_path();
  std::error_code ec;
  if (missing == MissingDatabase::kCreate) {
    std::filesystem::create_directories(path.parent_path(), ec);
  } else if (!std::filesystem::exists(path, ec)) {
    return core::fail(core::ErrorCode::kNotFound,
                      "there is no database at " + path.string() + " (wrong --data or --config?)");
  }
  auto stores = meta::open_sqlite_stores(meta::SqliteOptions{path.string()});
  if (!stores) {
    return core::fail(stores.error().code,
                      "cannot open " + path.string() + ": " + stores.error().message);
  }
  return stores;
}

std::optional<meta::SqliteStores> open_existing_database(const ConfigFlags& flags, int& exit_code) {
  auto config = effective_config(flags);
  if (!config) {
    exit_code = fail(config.error().message, 2);
    return std::nullopt;
  }
  auto stores = open_database(*config, MissingDatabase::kRefuse);
  if (!stores) {
    exit_code = report(stores.error());
    return std::nullopt;
  }
  return std::move(*stores);
}

}  // namespace berth::cli
