#include "auth/account_version.hpp"

namespace berth::auth {

AccountVersion::AccountVersion(meta::AccountStore& accounts, HtpasswdFile* htpasswd)
    : accounts_(accounts), htpasswd_(htpasswd) {}

AccountEpoch AccountVersion::current() const {
  return AccountEpoch{.own = accounts_.changes_committed(),
                      .stored = stored_.load(std::memory_order_acquire),
                      .htpasswd = htpasswd_ != nullptr ? htpasswd_->generation() : 0,
                      .failed_syncs = failed_syncs_.load(std::memory_order_acquire)};
}

core::Result<void> AccountVersion::sync() {
  if (htpasswd_ != nullptr) {
    htpasswd_->refresh();
  }
  auto version = accounts_.account_version();
  if (!version) {
    failed_syncs_.fetch_add(1, std::memory_order_acq_rel);
    return std::unexpected(version.error());
  }
  stored_.store(*version, std::memory_order_release);
  return {};
}

}  // namespace berth::auth
