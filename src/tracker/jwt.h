// JWT (RFC 7519) with HS256: the API's bearer tokens. Claims: user_id, username, iat, exp.
//
// Thread-safety: a JwtSigner is immutable after construction; share it freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dt::tracker {

struct TokenClaims {
  std::string user_id;
  std::string username;
  int64_t exp = 0;  // seconds since the Unix epoch
};

class JwtSigner {
 public:
  JwtSigner(std::string secret, int64_t lifetime_seconds)
      : secret_(std::move(secret)), lifetime_(lifetime_seconds) {}

  std::string Issue(const std::string& user_id, const std::string& username) const;
  // kUnauthenticated (with a reason) for a malformed, forged or expired token.
  Result<TokenClaims> Verify(std::string_view token) const;
  int64_t lifetime_seconds() const { return lifetime_; }

 private:
  std::string secret_;
  int64_t lifetime_;
};

std::string Base64UrlEncode(std::string_view in);
bool Base64UrlDecode(std::string_view in, std::string& out);

}  // namespace dt::tracker
