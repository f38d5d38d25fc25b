// Which metadata database the configuration asks for, and how it is opened: SQLite (one file,
// one process; metadata.sqlite_path) or PostgreSQL (shared by replicas; metadata.postgres.*).
// The server and the CLI commands that need the stores (gc, check, user, project) open them
// here, so both drivers work everywhere.
#pragma once

#include <string>

#include "config/config.hpp"
#include "meta/stores.hpp"

namespace berth::server {

// For logs and messages: "sqlite database <path>" or "postgres database <url without
// credentials>"; a key=value connection string is not shown (it may hold a password).
[[nodiscard]] std::string metadata_description(const config::Config& config);

// Opens (creating or migrating) the configured database and every store over it. The error's
// message does not include metadata_description().
[[nodiscard]] core::Result<meta::Stores> open_metadata(const config::Config& config);

}  // namespace berth::server
