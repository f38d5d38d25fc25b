#include "auth/login_throttle.hpp"

#include <utility>

namespace berth::auth {

LoginReservation::LoginReservation(LoginReservation&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      address_(std::move(other.address_)),
      user_(std::move(other.user_)),
      ticket_(std::move(other.ticket_)) {}

LoginReservation& LoginReservation::operator=(LoginReservation&& other) noexcept {
  if (this != &other) {
    settle(false);
    owner_ = std::exchange(other.owner_, nullptr);
    address_ = std::move(other.address_);
    user_ = std::move(other.user_);
    ticket_ = std::move(other.ticket_);
  }
  return *this;
}

LoginReservation::~LoginReservation() { settle(false); }

void LoginReservation::failed() { settle(true); }

void LoginReservation::succeeded() { settle(false); }

bool LoginThrottle::admits(const std::string& address, const std::string& user) {
  auto reserved = reserve(address, user);
  if (!reserved) {
    return false;
  }
  reserved->succeeded();
  return true;
}

void LoginReservation::settle(bool failed) {
  if (auto* owner = std::exchange(owner_, nullptr)) {
    owner->settle(address_, user_, ticket_, failed);
  }
}

}  // namespace berth::auth
