// Making an existing data directory private (see private_data.hpp).
#include "server/private_data.hpp"

#include <algorithm>
#include <set>
#include <system_error>

namespace berth::server {
namespace {

namespace fs = std::filesystem;

constexpr fs::perms kOpen = fs::perms::group_all | fs::perms::others_all;

// The trees of the blob store (storage/layout.hpp) and of the signing key.
constexpr std::string_view kStorageTrees[] = {"blobs", "uploads", "tmp"};
constexpr std::string_view kDataTrees[] = {"auth"};
// What SQLite keeps beside the database file.
constexpr std::string_view kDatabaseSuffixes[] = {"", "-wal", "-shm", "-journal"};

class Tightener {
 public:
  explicit Tightener(PrivacyReport& report) : report_(report) {}

  // Removes the open bits of one file or directory (never through a symbolic link).
  void tighten(const fs::path& path) {
    std::error_code ec;
    const auto status = fs::symlink_status(path, ec);
    if (ec || fs::is_symlink(status) ||
        !(fs::is_regular_file(status) || fs::is_directory(status)) ||
        (status.permissions() & kOpen) == fs::perms::none) {
      return;
    }
    fs::permissions(path, kOpen, fs::perm_options::remove | fs::perm_options::nofollow, ec);
    if (ec) {
      failed(path, ec);
      return;
    }
    ++report_.tightened;
  }

  // A tree, unless its top is private already: what made it private made its content too.
  void tighten_tree(const fs::path& top) {
    std::error_code ec;
    const auto status = fs::symlink_status(top, ec);
    if (ec || !fs::is_directory(status) || (status.permissions() & kOpen) == fs::perms::none) {
      return;
    }
    tighten(top);
    fs::recursive_directory_iterator it(top, fs::directory_options::none, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      tighten(it->path());
    }
    if (ec) {
      failed(top, ec);
    }
  }

 private:
  void failed(const fs::path& path, const std::error_code& ec) {
    if (failures_++ < 5) {
      report_.messages.push_back("cannot make " + path.string() + " private: " + ec.message());
    }
  }

  PrivacyReport& report_;
  std::size_t failures_ = 0;
};

// The names Berth keeps directly in `dir`.
std::set<std::string> berth_names(const DataPaths& paths, const fs::path& dir) {
  std::set<std::string> names;
  if (dir == paths.data) {
    for (auto tree : kDataTrees) {
      names.emplace(tree);
    }
  }
  if (dir == paths.storage_root) {
    for (auto tree : kStorageTrees) {
      names.emplace(tree);
    }
  }
  if (paths.sqlite_file.parent_path() == dir) {
    for (auto suffix : kDatabaseSuffixes) {
      names.insert(paths.sqlite_file.filename().string() + std::string(suffix));
    }
  }
  return names;
}

// A data or storage root: private if everything in it is Berth's, reported otherwise.
void tighten_root(const DataPaths& paths, const fs::path& dir, Tightener& tightener,
                  PrivacyReport& report) {
  std::error_code ec;
  const auto status = fs::symlink_status(dir, ec);
  if (ec || !fs::is_directory(status) || (status.permissions() & kOpen) == fs::perms::none) {
    return;
  }
  const auto known = berth_names(paths, dir);
  std::vector<std::string> others;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!known.contains(name)) {
      others.push_back(name);
    }
  }
  if (ec) {
    report.messages.push_back("cannot list " + dir.string() + ": " + ec.message());
    return;
  }
  if (!others.empty()) {
    std::sort(others.begin(), others.end());
    report.messages.push_back(
        "the directory " + dir.string() +
        " may be read by other users of this machine, and it holds files that are not Berth's (" +
        others.front() + (others.size() > 1 ? ", ..." : "") +
        "), so Berth leaves it as it is; make it private with: chmod 700 " + dir.string());
    return;
  }
  tightener.tighten(dir);
}

// "./data/" and "data" name one directory: compared as written they would not.
fs::path normal(const fs::path& path) {
  fs::path result = path.lexically_normal();
  if (!result.has_filename() && result.has_relative_path()) {
    result = result.parent_path();
  }
  return result;
}

}  // namespace

PrivacyReport make_data_private(const DataPaths& given) {
  const DataPaths paths{normal(given.data), normal(given.storage_root), normal(given.sqlite_file)};
  PrivacyReport report;
  Tightener tightener(report);
  for (auto suffix : kDatabaseSuffixes) {
    fs::path file = paths.sqlite_file;
    file += std::string(suffix);
    tightener.tighten(file);
  }
  for (auto tree : kDataTrees) {
    tightener.tighten_tree(paths.data / tree);
  }
  for (auto tree : kStorageTrees) {
    tightener.tighten_tree(paths.storage_root / tree);
  }
  std::set<fs::path> roots = {paths.data, paths.storage_root};
  for (const fs::path& root : roots) {
    tighten_root(paths, root, tightener, report);
  }
  if (report.tightened > 0) {
    report.messages.insert(
        report.messages.begin(),
        "made " + std::to_string(report.tightened) + " files and directories of " +
            paths.data.string() +
            " private to this user (owner-only permissions): older versions of Berth left the "
            "database and the blobs readable by every user of this machine");
  }
  return report;
}

}  // namespace berth::server
