// Access log and process logging set-up (spdlog).
//
// One line per request at level info, as logfmt key=value pairs after spdlog's time and
// level: `request_id=… method=GET path=/streams/x status=200 duration_ms=0.42 remote=…`.
// Secrets in the query string (`token=`, `access_token=`, `password=`: a WebSocket takes its
// token there) are logged as `***`.
//
// Thread-safety: thread-safe (spdlog's default logger).
#pragma once

#include <chrono>
#include <string_view>

namespace dt::http {

struct AccessRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view path;
  unsigned status = 0;
  std::chrono::steady_clock::duration duration{};
  std::string_view remote;
};

void LogAccess(const AccessRecord& record);
// Whether LogAccess writes a line now (the log level lets info lines through): when not,
// the server does not gather what the line would say.
bool AccessLogOn();

// Sets the default logger's level ("trace" … "off") and a pattern with UTC ISO-8601 time
// and the level: `2026-01-02T03:04:05.678901Z level=info msg`. false for an unknown level.
bool SetupLogging(std::string_view level);

// Also writes every log line to `path` (appending; parent folders are created), keeping the
// console output. Lines are flushed at least every second (warnings and errors at once).
// The file is rotated at 64 MiB, keeping 4 old files (path.1 … path.4).
// Call after SetupLogging. Returns "" or a one-line reason (e.g. permission denied).
std::string AddLogFile(const std::string& path);

// `target` with the values of secret query parameters replaced by ***.
std::string RedactTarget(std::string_view target);

}  // namespace dt::http
