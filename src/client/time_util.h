// Time helpers shared by the event store clients and the domain: RFC 3339 timestamps in
// UTC and calendar dates (YYYY-MM-DD).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dt {

// Microseconds since the Unix epoch, now (system clock).
int64_t NowMicros();
// "2024-01-31T12:34:56.789012Z" (microsecond precision, UTC).
std::string FormatRfc3339Micros(int64_t micros);
// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" (also a space for 'T'); nullopt when bad.
std::optional<int64_t> ParseRfc3339Micros(std::string_view text);
// Accepts "YYYY-MM-DD" or a full ISO date-time and returns the date part, validated as a
// real calendar date; nullopt when bad.
std::optional<std::string> ParseDate(std::string_view text);

}  // namespace dt
