#include "auth/account_cache.hpp"

namespace berth::auth {
namespace {

// Names may hold any byte but NUL (a user name is what a client sent; robot and project names
// are validated), so NUL separates the parts.
std::string identity_key(const std::string& subject, const std::string& account) {
  std::string key = subject;
  key.push_back('\0');
  key += account;
  return key;
}

std::string decision_key(const Identity& identity, std::string_view project, Action action) {
  std::string key;
  key.push_back(static_cast<char>('0' + static_cast<int>(identity.kind)));
  key.push_back(identity.admin ? 'a' : '-');
  key.push_back(static_cast<char>('0' + static_cast<int>(action)));
  key += identity.name;
  key.push_back('\0');
  key += project;
  for (const auto& scope : identity.robot_scopes) {
    key.push_back('\0');
    key += scope.project;
    key.push_back(static_cast<char>('0' + static_cast<int>(scope.role)));
  }
  return key;
}

}  // namespace

AccountCache::AccountCache(const AccountVersion& version, const core::Clock& clock,
                           std::size_t capacity)
    : version_(version), clock_(clock), identities_(capacity), decisions_(capacity) {}

std::optional<Identity> AccountCache::identity(const std::string& subject,
                                               const std::string& account) {
  const auto epoch = version_.current();
  const auto now = clock_.now();
  auto known = identities_.find(identity_key(subject, account), [&](const KnownIdentity& known) {
    return known.epoch == epoch && (!known.identity.expires || now < *known.identity.expires);
  });
  if (!known) {
    return std::nullopt;
  }
  return std::move(known->identity);
}

void AccountCache::remember_identity(const AccountEpoch& epoch, const std::string& subject,
                                     const std::string& account, const Identity& identity) {
  identities_.put(identity_key(subject, account), KnownIdentity{identity, epoch});
}

std::optional<bool> AccountCache::decision(const Identity& identity, std::string_view project,
                                           Action action) {
  const auto epoch = version_.current();
  auto known = decisions_.find(decision_key(identity, project, action),
                               [&](const KnownDecision& known) { return known.epoch == epoch; });
  if (!known) {
    return std::nullopt;
  }
  return known->allowed;
}

void AccountCache::remember_decision(const AccountEpoch& epoch, const Identity& identity,
                                     std::string_view project, Action action, bool allowed) {
  decisions_.put(decision_key(identity, project, action), KnownDecision{allowed, epoch});
}

}  // namespace berth::auth
