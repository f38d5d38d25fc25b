// LoginThrottle: how many password and token guesses a client gets. The Authenticator asks it
// before every check of a secret and tells it the outcome; what it counts and where it keeps
// the counts is the implementation's (rate_limiter.hpp keeps them in this process; a store
// shared by several server processes can implement the same interface).
//
// The contract, for every implementation:
//  - Failures count per client address, and per user name *from that address*. A user name is
//    never locked out everywhere: guesses from one address must not keep its owner out from
//    another, so a right secret from an address that has not failed goes through.
//  - An attempt is reserved before its secret is checked, and the reservation counts against
//    the limits until it is settled. So N concurrent wrong guesses check at most `limit`
//    secrets, not N (a check then a count would let every concurrent guess through).
//  - A reservation that is never settled as failed (a success, or an error before any answer)
//    leaves the counts as they were: earlier failures stay (an attacker who owns one account
//    gets no free guesses at others from a success).
//  - Thread-safe.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace berth::auth {

class LoginThrottle;

// The refusal of an attempt: when to come back; and when the user name's failures at that
// address are (part of) why, since when they count (an administrator's unlock after that time
// lifts them: see unlock_user).
struct LoginRefusal {
  std::chrono::seconds retry_after{1};
  std::optional<core::TimePoint> user_failures_since{};
  // Set when the attempt could not be counted (the database that counts is unreachable): the
  // error to answer with instead of TOOMANYREQUESTS.
  std::optional<core::Error> error{};
};

// One reserved attempt. Move-only; settle it with failed() or succeeded(). Destroyed unsettled,
// it is released as if it had not happened.
class LoginReservation {
 public:
  LoginReservation(LoginReservation&& other) noexcept;
  LoginReservation& operator=(LoginReservation&& other) noexcept;
  LoginReservation(const LoginReservation&) = delete;
  LoginReservation& operator=(const LoginReservation&) = delete;
  ~LoginReservation();

  // The secret was wrong: the attempt counts as a failure now.
  void failed();
  // The secret was right: the reservation is released.
  void succeeded();

 private:
  friend class LoginThrottle;
  LoginReservation(LoginThrottle* owner, std::string address, std::string user, std::string ticket)
      : owner_(owner),
        address_(std::move(address)),
        user_(std::move(user)),
        ticket_(std::move(ticket)) {}
  void settle(bool failed);

  LoginThrottle* owner_;
  std::string address_;
  std::string user_;
  // The implementation's name for this reservation (a shared store's row), if it needs one.
  std::string ticket_;
};

class LoginThrottle {
 public:
  virtual ~LoginThrottle() = default;

  // Reserves one attempt by `user` from `address`. An empty user is counted per address only
  // (robot tokens are 256 random bits: nobody guesses them, so their names are not locked);
  // an empty address is not counted per address.
  [[nodiscard]] virtual std::expected<LoginReservation, LoginRefusal> reserve(
      const std::string& address, const std::string& user) = 0;

  // Whether an attempt by `user` from `address` whose secret is already known to be right (a
  // credential cache hit) goes through now: what reserve() then succeeded() would say, and
  // like them it changes no count. Implementations may answer without reserving anything.
  [[nodiscard]] virtual bool admits(const std::string& address, const std::string& user);
  // Forgets the failures of `user` (from every address) that happened at or before `until`
  // (`berth user unlock`, POST /api/v1/users/{u}/unlock). Per-address counts stay.
  virtual void unlock_user(const std::string& user, core::TimePoint until) = 0;

  // Whether reserve() and settling block (a database counts): then only a pool may call them.
  // One that does not may be asked on the event loop (a login answered by the credential
  // cache, Authenticator::known_login).
  [[nodiscard]] virtual bool blocking() const = 0;

 protected:
  LoginReservation make_reservation(std::string address, std::string user,
                                    std::string ticket = {}) {
    return LoginReservation(this, std::move(address), std::move(user), std::move(ticket));
  }

 private:
  friend class LoginReservation;
  // Ends a reservation made by reserve(): counts a failure iff `failed`.
  virtual void settle(const std::string& address, const std::string& user,
                      const std::string& ticket, bool failed) = 0;
};

}  // namespace berth::auth
