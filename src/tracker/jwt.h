// JWT (RFC 7519) with HS256: the API's bearer tokens. Claims: user_id, username, iat, exp.
//
// The HMAC key is absorbed once, at construction: a verification then costs two SHA-256
// runs over the token (OpenSSL's one-shot HMAC() looked the algorithm up and keyed it on every
// call, ~25k instructions per request).
//
// Verify remembers the tokens it has accepted (up to kRememberedTokens, then it starts over):
// an app sends the same token with every request, and checking it again (three base64
// decodes, two JSON parses and the HMAC, ~21k instructions) was about a tenth of dt-server's
// instructions per write. A remembered token is the exact same bytes, so it is as valid as
// when it was checked, except for its expiry, which is checked on every call.
//
// Thread-safety: thread-safe; share it freely (the remembered tokens are behind a mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

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

  static constexpr size_t kRememberedTokens = 4096;

 private:
  std::string Sign(std::string_view input) const;  // HMAC-SHA256, 32 bytes
  // Signature and claims, not the expiry (Verify checks it, on every call).
  Result<TokenClaims> Check(std::string_view token) const;

  struct Key;  // the digest states after the inner and the outer padded key
  std::unique_ptr<const Key> key_;
  int64_t lifetime_;

  struct TokenHash {
    using is_transparent = void;  // looked up by string_view, without a copy
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex mu_;
  // Accepted tokens (the whole token as key) and their claims.
  mutable std::unordered_map<std::string, TokenClaims, TokenHash, std::equal_to<>>
      verified_;  // guarded by mu_
};

}  // namespace dt::tracker
