// parse_htpasswd: an htpasswd file's text. Every entry is a non-empty user with a bcrypt
// hash, each user once; every problem names its line; and writing the entries back out as
// a file gives the same entries with no problems.
#include <algorithm>
#include <set>
#include <string>

#include "auth/htpasswd.hpp"
#include "auth/password.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = berth::fuzz::as_text(data, size);
  const auto parsed = berth::auth::parse_htpasswd(text);

  const std::size_t lines =
      static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  FUZZ_CHECK(parsed.entries.size() <= lines);
  std::set<std::string> users;
  std::string rewritten;
  for (const auto& entry : parsed.entries) {
    FUZZ_CHECK(!entry.user.empty());
    FUZZ_CHECK(entry.user.find(':') == std::string::npos);
    FUZZ_CHECK(entry.user.find('\n') == std::string::npos);
    FUZZ_CHECK(berth::auth::is_bcrypt_hash(entry.hash));
    FUZZ_CHECK(users.insert(entry.user).second);
    rewritten += entry.user + ":" + entry.hash + "\n";
  }
  for (const auto& problem : parsed.refused) {
    FUZZ_CHECK(problem.starts_with("line "));
  }

  const auto again = berth::auth::parse_htpasswd(rewritten);
  FUZZ_CHECK(again.refused.empty());
  FUZZ_CHECK(again.entries.size() == parsed.entries.size());
  for (std::size_t i = 0; i < again.entries.size(); ++i) {
    FUZZ_CHECK(again.entries[i].user == parsed.entries[i].user);
    FUZZ_CHECK(again.entries[i].hash == parsed.entries[i].hash);
  }
  return 0;
}
