// JWT (RFC 7519) with HS256: the API's bearer tokens. Claims: user_id, username, iat, exp.
//
// The HMAC key is absorbed once, at construction: a verification then costs two SHA-256
// runs over the token (OpenSSL's one-shot HMAC() looked the algorithm up and keyed it on every
// call, ~25k instructions per request).
//
// Thread-safety: a JwtSigner is immutable after construction; share it freely.
#pragma once

#include <cstdint>
#include <memory>
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
  JwtSigner(const std::string& secret, int64_t lifetime_seconds);
  ~JwtSigner();

  std::string Issue(const std::string& user_id, const std::string& username) const;
  // kUnauthenticated (with a reason) for a malformed, forged or expired token.
  Result<TokenClaims> Verify(std::string_view token) const;
  int64_t lifetime_seconds() const { return lifetime_; }

 private:
  std::string Sign(std::string_view input) const;  // HMAC-SHA256, 32 bytes

  struct Key;  // the digest states after the inner and the outer padded key
  std::unique_ptr<const Key> key_;
  int64_t lifetime_;
};

}  // namespace dt::tracker
