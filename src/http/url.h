// URL helpers for request targets: percent-decoding and query parsing.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/text_codec.h"

namespace dt::http {

using dt::PercentDecode;
using dt::PercentEncode;

// Value of the first `name` parameter in a raw query string, decoded; nullopt if absent.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name);

}  // namespace dt::http
