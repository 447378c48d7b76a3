// HTTP Basic authentication helpers (RFC 7617).
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/text_codec.h"
#include "http/exchange.h"

namespace dt::http {

struct Credentials {
  std::string user;
  std::string password;
};

// Parses an Authorization header value "Basic <base64(user:password)>". nullopt when
// the header is absent, of another scheme, or malformed.
std::optional<Credentials> ParseBasicAuth(std::string_view authorization);

// 401 with `WWW-Authenticate: Basic realm="<realm>"`.
Response Unauthorized(std::string_view realm, std::string_view message = "Unauthorized");

// Compares secrets in time independent of where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

using dt::Base64Decode;
using dt::Base64Encode;

}  // namespace dt::http
