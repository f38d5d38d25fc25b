// The grammar of user, robot and project names, shared by the admin API and the command line.
#pragma once

#include <string_view>

namespace berth::auth {

// User and robot names: 1 to 64 of letters, digits, '.', '_', '-', '@'. No '$' (the robot
// prefix), no '/' or ':' (they would break Basic credentials and URLs).
[[nodiscard]] bool valid_account_name(std::string_view name);

// A project is one component of a repository name: lowercase letters and digits separated
// by '.', '_', '__' or '-'.
[[nodiscard]] bool valid_project_name(std::string_view name);

inline constexpr std::size_t kMinPasswordLength = 8;

}  // namespace berth::auth
