// URL helpers for request targets: percent-decoding and query parsing.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dt::http {

// Decodes %XX escapes (and '+' as a space when plus_is_space). Returns nullopt for a
// malformed escape, so a bad target is a 400 rather than a guess.
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space = false);

// Encodes everything but unreserved characters (RFC 3986) and, when keep_slash, '/'.
std::string PercentEncode(std::string_view in, bool keep_slash = false);

// Value of the first `name` parameter in a raw query string, decoded; nullopt if absent.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name);

}  // namespace dt::http
