#include "api/config.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/client_factory.h"
#include "common/text_codec.h"
#include "readmodel/read_model_store.h"
#include "tracker/user_service.h"

namespace dt::api {
namespace {

template <typename T>
bool ParseNumber(const std::string& s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

Status Bad(const char* name, const std::string& value, const std::string& why) {
  return Status::InvalidArgument(std::string(name) + "='" + value + "' is invalid: " + why);
}

}  // namespace

Result<Config> Config::Load(const Getenv& getenv) {
  Config c;
  auto get = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
  if (auto v = get("PORT")) {
    int p = 0;
    if (!ParseNumber(*v, p) || p < 0 || p > 65535) return Bad("PORT", *v, "must be 0-65535");
    c.port = static_cast<uint16_t>(p);
  }
  if (auto v = get("DEBT_TRACKER_BIND")) c.bind = *v;
  if (auto v = get("EVENTSTORE_URL")) c.eventstore_url = *v;
  std::string problem = client::CheckEventStoreUrl(c.eventstore_url);
  if (!problem.empty()) return Bad("EVENTSTORE_URL", c.eventstore_url, problem);
  if (auto v = get("EVENTSTORE_USERNAME")) c.eventstore_username = *v;
  if (auto v = get("EVENTSTORE_PASSWORD")) c.eventstore_password = *v;
  if (auto v = get("DATABASE_URL")) c.database_url = *v;
  problem = readmodel::CheckDatabaseUrl(c.database_url);
  if (!problem.empty()) return Bad("DATABASE_URL", "(not shown)", problem);
  if (auto v = get("JWT_SECRET")) {
    if (v->size() < 16) {
      return Status::InvalidArgument("JWT_SECRET is invalid: must be at least 16 characters");
    }
    c.jwt_secret = *v;
  }
  if (auto v = get("JWT_EXPIRATION")) {
    if (!ParseNumber(*v, c.jwt_expiration) || c.jwt_expiration <= 0) {
      return Bad("JWT_EXPIRATION", *v, "must be a positive number of seconds");
    }
  }
  if (auto v = get("DEBT_TRACKER_BOOTSTRAP_USER")) {
    auto parsed = tracker::UserService::ParseBootstrap(*v);
    if (!parsed.ok()) return parsed.status();
    c.bootstrap_users = *v;
  }
  if (auto v = get("DEBT_TRACKER_DATA_DIR")) c.data_dir = *v;
  if (auto v = get("DEBT_TRACKER_LOG_FILE")) c.log_file = *v;
  if (auto v = get("DEBT_TRACKER_READY_MAX_LAG_EVENTS")) {
    if (!ParseNumber(*v, c.ready_max_lag_events) || c.ready_max_lag_events < 0) {
      return Bad("DEBT_TRACKER_READY_MAX_LAG_EVENTS", *v, "must be a number of events >= 0");
    }
  }
  if (auto v = get("DEBT_TRACKER_READY_MAX_LAG_SECONDS")) {
    char* end = nullptr;
    c.ready_max_lag_seconds = std::strtod(v->c_str(), &end);
    if (end != v->c_str() + v->size() || !(c.ready_max_lag_seconds >= 0)) {
      return Bad("DEBT_TRACKER_READY_MAX_LAG_SECONDS", *v, "must be a number of seconds >= 0");
    }
  }
  if (auto v = get("DEBT_TRACKER_ALLOW_REGISTRATION")) {
    if (*v == "true" || *v == "1")
      c.allow_registration = true;
    else if (*v == "false" || *v == "0")
      c.allow_registration = false;
    else
      return Bad("DEBT_TRACKER_ALLOW_REGISTRATION", *v, "must be true or false");
  }
  if (auto v = get("DEBT_TRACKER_ADMIN_USERS")) {
    std::stringstream list(*v);
    for (std::string name; std::getline(list, name, ',');) {
      size_t b = name.find_first_not_of(' '), e = name.find_last_not_of(' ');
      if (b == std::string::npos) return Bad("DEBT_TRACKER_ADMIN_USERS", *v, "a name is empty");
      c.admin_users.push_back(name.substr(b, e - b + 1));
    }
  }
  if (auto v = get("DEBT_TRACKER_WORKERS")) {
    if (!ParseNumber(*v, c.workers) || c.workers == 0 || c.workers > 1024) {
      return Bad("DEBT_TRACKER_WORKERS", *v, "must be 1-1024");
    }
  }
  if (auto v = get("DEBT_TRACKER_READ_YOUR_WRITES_MS")) {
    int64_t ms = 0;
    if (!ParseNumber(*v, ms) || ms < 0 || ms > 600000) {
      return Bad("DEBT_TRACKER_READ_YOUR_WRITES_MS", *v, "must be 0-600000");
    }
    c.read_your_writes = std::chrono::milliseconds(ms);
  }
  if (auto v = get("DEBT_TRACKER_WS_QUEUE")) {
    if (!ParseNumber(*v, c.ws_queue) || c.ws_queue < 8 || c.ws_queue > 1000000) {
      return Bad("DEBT_TRACKER_WS_QUEUE", *v, "must be 8-1000000");
    }
  }
  if (auto v = get("DEBT_TRACKER_WS_IDLE_MS")) {
    int64_t ms = 0;
    if (!ParseNumber(*v, ms) || ms < 100 || ms > 3600000) {
      return Bad("DEBT_TRACKER_WS_IDLE_MS", *v, "must be 100-3600000");
    }
    c.ws_idle = std::chrono::milliseconds(ms);
  }
  if (auto v = get("LOG_LEVEL")) {
    static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (std::find_if(std::begin(kLevels), std::end(kLevels),
                     [&](const char* l) { return *v == l; }) == std::end(kLevels)) {
      return Bad("LOG_LEVEL", *v, "must be trace, debug, info, warn, error, critical or off");
    }
    c.log_level = *v;
  }
  return c;
}

std::string LogFilePath(const Config& config) {
  if (config.log_file == "off") return "";
  if (!config.log_file.empty()) return config.log_file;
  return (std::filesystem::path(config.data_dir) / "logs" / "dt-server.log").string();
}

Result<std::string> ResolveJwtSecret(const Config& config) {
  if (!config.jwt_secret.empty()) return config.jwt_secret;
  namespace fs = std::filesystem;
  fs::path file = fs::path(config.data_dir) / "jwt_secret";
  std::error_code ec;
  if (fs::exists(file, ec)) {
    std::ifstream in(file);
    std::string secret;
    std::getline(in, secret);
    if (secret.size() >= 16) return secret;
    return Status::InvalidArgument("JWT secret file " + file.string() +
                                   " is too short; delete it to generate a new one");
  }
  fs::create_directories(config.data_dir, ec);
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::Internal("no randomness for JWT_SECRET");
  std::string secret = HexEncode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << secret << "\n";
    if (!out) return Status::IOError("cannot write " + tmp.string());
  }
  ::chmod(tmp.c_str(), 0600);
  fs::rename(tmp, file, ec);
  if (ec) return Status::IOError("cannot create " + file.string() + ": " + ec.message());
  return secret;
}

std::string ConfigHelp() {
  return R"(Settings (environment variables):
  PORT                             port of the API (default 8000)
  DEBT_TRACKER_BIND                address to listen on (default 0.0.0.0)
  EVENTSTORE_URL                   http://host:port of an EventStoreDB-compatible server
                                   (default http://localhost:2113), or file:<folder> to run
                                   the event store engine inside dt-server
  EVENTSTORE_USERNAME              event store user (default admin)
  EVENTSTORE_PASSWORD              event store password (default changeit)
  DATABASE_URL                     read model: sqlite:<path> (default sqlite:data/projections.db)
                                   or postgresql://user:pass@host:port/db
  JWT_SECRET                       token signing secret (default: generated once and kept in
                                   <data dir>/jwt_secret)
  JWT_EXPIRATION                   token lifetime in seconds (default 3600)
  DEBT_TRACKER_BOOTSTRAP_USER      name:password[,name:password...] created at start if missing
  DEBT_TRACKER_DATA_DIR            folder for generated files (default data)
  DEBT_TRACKER_LOG_FILE            log file written besides the console (default
                                   <data dir>/logs/dt-server.log; off: console only)
  DEBT_TRACKER_READY_MAX_LAG_EVENTS  GET /health/ready answers 503 while the read model is
                                   more events than this behind the event store (default 1000)
  DEBT_TRACKER_READY_MAX_LAG_SECONDS ... or its oldest unapplied event is older than this
                                   (default 30)
  DEBT_TRACKER_ALLOW_REGISTRATION  true enables POST /api/auth/register (default false)
  DEBT_TRACKER_ADMIN_USERS         name[,name...]: the only accounts allowed the server-wide
                                   POST /api/admin/projections/rebuild (default: unset,
                                   every logged-in user)
  DEBT_TRACKER_WORKERS             threads for blocking handlers (default 64)
  DEBT_TRACKER_READ_YOUR_WRITES_MS longest wait for the read model before a write answers
                                   (default 5000)
  DEBT_TRACKER_WS_QUEUE            messages queued per WebSocket; a client further behind
                                   is dropped (default 256)
  DEBT_TRACKER_WS_IDLE_MS          a WebSocket idle for half of this is pinged, for all of
                                   it is dropped (default 30000)
  LOG_LEVEL                        trace, debug, info, warn, error, critical, off (default info)
)";
}

}  // namespace dt::api
