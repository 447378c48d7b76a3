#include "tracker/user_service.h"

#include <nlohmann/json.hpp>

#include "client/time_util.h"
#include "tracker/events.h"
#include "tracker/password.h"

namespace dt::tracker {

using json = nlohmann::json;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status CheckUsername(const std::string& u) {
  if (u.empty() || u.size() > 100) {
    return Status::InvalidArgument("username must be 1-100 characters");
  }
  for (unsigned char c : u) {
    if (c <= 0x20 || c == 0x7F || c == ':' || c == ',') {
      return Status::InvalidArgument("username must not contain spaces, ':' or ','");
    }
  }
  return Status::Ok();
}

Status CheckPassword(const std::string& p) {
  if (p.empty()) return Status::InvalidArgument("password must not be empty");
  if (p.size() > 1024) return Status::InvalidArgument("password is too long");
  return Status::Ok();
}

}  // namespace

std::string UserService::UserIdFor(std::string_view username) {
  return Uuid::NameBased(UserNamespace(), Lower(username)).ToString();
}

Result<UserService::Account> UserService::Load(const std::string& username) {
  std::string id = UserIdFor(username);
  std::vector<client::ResolvedEvent> events;
  Status s = client::ReadWholeStream(store_, UserStream(id), events);
  if (s.Is(Code::kStreamNotFound) || (s.ok() && events.empty())) {
    return Status::NotFound("no user '" + username + "'");
  }
  if (!s.ok()) return s;
  Account a;
  a.user.user_id = id;
  for (const auto& e : events) {
    json d = json::parse(e.data, nullptr, false);
    if (!d.is_object()) continue;
    if (e.type == event_type::kUserCreated) a.user.username = d.value("username", username);
    if (d.contains("password_hash")) a.password_hash = d.value("password_hash", "");
    a.version = e.number;
  }
  return a;
}

Result<User> UserService::CreateUser(const std::string& username, const std::string& password) {
  DT_RETURN_IF_ERROR(CheckUsername(username));
  DT_RETURN_IF_ERROR(CheckPassword(password));
  DT_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  User u{UserIdFor(username), username};
  json data = {{"user_id", u.user_id}, {"username", username}, {"password_hash", hash},
               {"occurred_at", FormatRfc3339Micros(NowMicros())}};
  json meta = {{"source", "admin"}};
  auto r = store_.Append(UserStream(u.user_id), client::kNoStream,
                         {{Uuid::Random(), std::string(event_type::kUserCreated), data.dump(),
                           meta.dump()}});
  if (r.ok()) return u;
  if (r.status().Is(Code::kWrongExpectedVersion)) {
    return Status::Conflict("user '" + username + "' already exists");
  }
  return r.status();
}

Result<User> UserService::ChangePassword(const std::string& username, const std::string& password) {
  DT_RETURN_IF_ERROR(CheckPassword(password));
  DT_ASSIGN_OR_RETURN(Account a, Load(username));
  DT_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  json data = {{"user_id", a.user.user_id}, {"password_hash", hash},
               {"occurred_at", FormatRfc3339Micros(NowMicros())}};
  json meta = {{"source", "admin"}};
  auto r = store_.Append(UserStream(a.user.user_id), client::kAny,
                         {{Uuid::Random(), std::string(event_type::kUserPasswordChanged),
                           data.dump(), meta.dump()}});
  if (!r.ok()) return r.status();
  return a.user;
}

Result<User> UserService::Authenticate(const std::string& username, const std::string& password) {
  static const std::string kDummyHash = [] {
    auto h = HashPassword("dummy password to even out timing");
    return h.ok() ? h.value() : std::string();
  }();
  auto a = Load(username);
  if (!a.ok()) {
    if (!a.status().Is(Code::kNotFound)) return a.status();
    (void)VerifyPassword(kDummyHash, password);
    return Status(Code::kUnauthenticated, "Invalid username or password");
  }
  if (!VerifyPassword(a->password_hash, password)) {
    return Status(Code::kUnauthenticated, "Invalid username or password");
  }
  return a->user;
}

Result<std::vector<std::string>> UserService::EnsureUsers(
    const std::vector<std::pair<std::string, std::string>>& accounts) {
  std::vector<std::string> created;
  for (const auto& [name, password] : accounts) {
    auto r = CreateUser(name, password);
    if (r.ok()) {
      created.push_back(name);
    } else if (!r.status().Is(Code::kConflict)) {
      return r.status();
    }
  }
  return created;
}

Result<std::vector<std::pair<std::string, std::string>>> UserService::ParseBootstrap(
    const std::string& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    if (!item.empty()) {
      auto colon = item.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
        return Status::InvalidArgument(
            "DEBT_TRACKER_BOOTSTRAP_USER must be name:password[,name:password...]");
      }
      out.emplace_back(item.substr(0, colon), item.substr(colon + 1));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace dt::tracker
