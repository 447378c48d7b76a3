// UserService: accounts of the Debt Tracker API, kept as events in `user-{user_id}`.
//
// user_id = uuid5(UserNamespace, lower-cased username), so the stream name itself makes a
// username unique (UserCreated is appended with expected version no_stream) and logins
// find the account without any read model. Passwords are stored only as argon2id hashes.
//
// Thread-safety: all methods, any thread. Lifetime: the client must outlive the service.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "client/event_store_client.h"

namespace dt::tracker {

struct User {
  std::string user_id;
  std::string username;
};

class UserService {
 public:
  explicit UserService(client::EventStoreClient& store) : store_(store) {}

  static std::string UserIdFor(std::string_view username);
  // kInvalidArgument for a bad username/password, kConflict when the account exists.
  Result<User> CreateUser(const std::string& username, const std::string& password);
  // kNotFound when there is no such account.
  Result<User> ChangePassword(const std::string& username, const std::string& password);
  // kUnauthenticated "Invalid username or password" unless the pair matches.
  Result<User> Authenticate(const std::string& username, const std::string& password);
  // Creates the accounts that are missing ("name:password" pairs); existing ones are left
  // alone. Returns the names created.
  Result<std::vector<std::string>> EnsureUsers(
      const std::vector<std::pair<std::string, std::string>>& accounts);

  // Parses DEBT_TRACKER_BOOTSTRAP_USER ("name:password[,name:password...]").
  static Result<std::vector<std::pair<std::string, std::string>>> ParseBootstrap(
      const std::string& spec);

 private:
  struct Account {
    User user;
    std::string password_hash;
    int64_t version = -1;
  };
  Result<Account> Load(const std::string& username);

  client::EventStoreClient& store_;
};

}  // namespace dt::tracker
