// Berth's data is private to the user it runs as: berth.db holds password and token hashes,
// the blobs hold the images of private projects. Files are made 0600 and directories 0700 (the
// berth binary sets umask 077 before anything else, and the blob store asks for those modes
// itself). Versions before this one made them 0644 in 0755 directories; at start the server
// makes such a data directory private and says so in its log.
//
// Only what is Berth's is changed: the database file and its WAL, shared-memory and journal
// files, and the blobs/, uploads/, tmp/ and auth/ trees. A data directory itself is made
// private only when everything in it is Berth's (a data directory pointed at a shared place,
// /srv or /tmp, is reported instead of changed). Symbolic links are never followed.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace berth::server {

struct DataPaths {
  // The data directory (auth/ and, by default, berth.db and the blobs).
  std::filesystem::path data;
  // Where blobs/, uploads/ and tmp/ are (storage.root; often the data directory).
  std::filesystem::path storage_root;
  // The metadata database file (metadata.sqlite_path; often data/berth.db).
  std::filesystem::path sqlite_file;
};

struct PrivacyReport {
  // Files and directories whose group and other permission bits were removed.
  std::size_t tightened = 0;
  // What the operator should know: what was made private, what was left open and why, and
  // what could not be changed. Empty when everything already was private.
  std::vector<std::string> messages;
};

// Removes the group and other permission bits of Berth's files and directories under `paths`.
// Blocking (walks the trees, but only those that are not already private). Never fails:
// what it cannot change is reported in the messages.
[[nodiscard]] PrivacyReport make_data_private(const DataPaths& paths);

}  // namespace berth::server
