// Config: the settings of dt-eventstore, read the EventStoreDB way: command-line flags
// (`--http-port 2113`) over environment variables (`EVENTSTORE_HTTP_PORT=2113`) over
// defaults. Every setting, its variable and its default are listed by --help.
//
// Thread-safety: a value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace dt::store_http {

struct Config {
  std::string db = "./data/eventstore";  // EVENTSTORE_DB
  std::string node_ip = "127.0.0.1";     // EVENTSTORE_NODE_IP: listen address
  uint16_t http_port = 2113;             // EVENTSTORE_HTTP_PORT
  bool insecure = false;                 // EVENTSTORE_INSECURE: no authentication
  std::string admin_password = "changeit";  // EVENTSTORE_DEFAULT_ADMIN_PASSWORD
  bool atom_pub = true;                  // EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP (accepted, logged)
  std::string run_projections = "None";  // EVENTSTORE_RUN_PROJECTIONS (accepted, logged)
  std::string log_level = "info";        // EVENTSTORE_LOG_LEVEL
  std::string log_dir;                   // EVENTSTORE_LOG: folder of dt-eventstore.log ("" = console only)
  bool log_http_requests = false;        // EVENTSTORE_LOG_HTTP_REQUESTS
  size_t max_append_size = 16u << 20;    // EVENTSTORE_MAX_APPEND_SIZE: request body bytes
  size_t max_connections = 4096;         // EVENTSTORE_MAX_CONNECTIONS
  size_t io_threads = 2;                 // EVENTSTORE_HTTP_THREADS
  size_t worker_threads = 4;             // EVENTSTORE_WORKER_THREADS: blocking reads
  uint64_t segment_size = 256ull << 20;  // EVENTSTORE_SEGMENT_SIZE: bytes per log segment
};

enum class ParseOutcome { kRun, kExit };

struct Parsed {
  ParseOutcome outcome = ParseOutcome::kRun;
  int exit_code = 0;   // for kExit (--help, --version: 0)
  std::string output;  // for kExit: what to print (stdout)
  Config config;
};

// Reads flags and `env` ("NAME=value" entries, as environ). A bad setting is
// kInvalidArgument with one line naming the setting and what is accepted.
Result<Parsed> ParseConfig(int argc, const char* const* argv, const std::vector<std::string>& env);

std::string VersionString();

}  // namespace dt::store_http
