// Config: dt-server's settings, from the environment, each with a documented default.
//
//   PORT                        8000
//   DEBT_TRACKER_BIND           0.0.0.0        address to listen on
//   EVENTSTORE_URL              http://localhost:2113   (file:<folder> = engine in-process)
//   EVENTSTORE_USERNAME/PASSWORD admin / changeit
//   DATABASE_URL                sqlite:data/projections.db   (postgresql://... for PostgreSQL)
//   JWT_SECRET                  generated once and kept in <data dir>/jwt_secret when unset
//   JWT_EXPIRATION              3600 (seconds)
//   DEBT_TRACKER_BOOTSTRAP_USER  name:password[,name:password...] created at start if missing
//   DEBT_TRACKER_DATA_DIR       data           where generated files live
//   DEBT_TRACKER_LOG_FILE       <data dir>/logs/dt-server.log   ("off": console only)
//   DEBT_TRACKER_READY_MAX_LAG_EVENTS   1000   /health/ready fails when the read model is
//   DEBT_TRACKER_READY_MAX_LAG_SECONDS  30     further behind the event store than this
//   DEBT_TRACKER_ALLOW_REGISTRATION  false     POST /api/auth/register
//   DEBT_TRACKER_ADMIN_USERS    (unset: all)   name[,name...]: the only ones who may POST /api/admin/projections/rebuild
//   DEBT_TRACKER_WORKERS        64             threads for blocking handlers
//   DEBT_TRACKER_READ_YOUR_WRITES_MS  5000     bound on waiting for the read model
//   DEBT_TRACKER_WS_QUEUE       256            messages queued per WebSocket before it is dropped
//   DEBT_TRACKER_WS_IDLE_MS     30000          WebSocket ping after half of it idle, drop after all
//   LOG_LEVEL                   info
// Load() validates everything and fails with one line naming the bad setting.
//
// Thread-safety: values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace dt::api {

struct Config {
  uint16_t port = 8000;
  std::string bind = "0.0.0.0";
  std::string eventstore_url = "http://localhost:2113";
  std::string eventstore_username = "admin";
  std::string eventstore_password = "changeit";
  std::string database_url = "sqlite:data/projections.db";
  std::string jwt_secret;  // empty: from <data_dir>/jwt_secret (created when missing)
  int64_t jwt_expiration = 3600;
  std::string bootstrap_users;
  std::string data_dir = "data";
  std::string log_file;  // "" = <data_dir>/logs/dt-server.log; "off" = console only
  int64_t ready_max_lag_events = 1000;
  double ready_max_lag_seconds = 30;
  bool allow_registration = false;
  std::vector<std::string> admin_users;  // login names (as given) allowed the server-wide admin routes
  size_t workers = 64;
  std::chrono::milliseconds read_your_writes{5000};
  size_t ws_queue = 256;
  std::chrono::milliseconds ws_idle{30000};
  std::string log_level = "info";

  using Getenv = std::function<const char*(const char*)>;
  static Result<Config> Load(const Getenv& getenv);
};

// Returns JWT_SECRET if set, else the secret kept in <data_dir>/jwt_secret (created with 32
// random bytes, mode 0600, when missing).
Result<std::string> ResolveJwtSecret(const Config& config);

// The log file to write besides the console, "" for none.
std::string LogFilePath(const Config& config);

// The help text listing every setting (for --help).
std::string ConfigHelp();

}  // namespace dt::api
