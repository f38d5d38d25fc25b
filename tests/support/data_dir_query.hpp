// Reads a number from a data directory's SQLite database while its server may be running
// (read-only, waiting for its writers): what a black-box test counts that no API shows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace berth::testing {

// The first column of the first row `sql` gives; std::runtime_error when the query fails.
std::int64_t query_number(const std::filesystem::path& data, const std::string& sql);

}  // namespace berth::testing
