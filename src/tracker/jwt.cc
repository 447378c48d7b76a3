#include "tracker/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <simdjson.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <nlohmann/json.hpp>

#include "common/text_codec.h"

namespace dt::tracker {

using json = nlohmann::json;

namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// A digest context per thread for Sign().
EVP_MD_CTX* ScratchContext() {
  thread_local MdCtx ctx(EVP_MD_CTX_new());
  return ctx.get();
}

// The top-level members Verify reads, from a small JSON object (header or claims).
struct Claims {
  std::string_view alg, user_id, username;
  bool has_user_id = false, has_exp = false;
  int64_t exp = 0;
};

bool ParseClaims(std::string_view text, Claims& out) {
  thread_local simdjson::dom::parser parser;
  thread_local simdjson::padded_string buffer;
  buffer = simdjson::padded_string(text);
  simdjson::dom::object o;
  if (parser.parse(buffer).get(o) != simdjson::SUCCESS) return false;
  for (simdjson::dom::key_value_pair f : o) {  // the last of duplicate names wins (nlohmann)
    std::string_view s;
    bool is_string = f.value.get_string().get(s) == simdjson::SUCCESS;
    if (f.key == "alg") {
      out.alg = is_string ? s : std::string_view();
    } else if (f.key == "user_id") {
      out.has_user_id = is_string;
      out.user_id = s;
    } else if (f.key == "username") {
      out.username = is_string ? s : std::string_view();
    } else if (f.key == "exp") {
      out.has_exp = false;
      if (f.value.type() == simdjson::dom::element_type::INT64) {
        out.has_exp = f.value.get_int64().get(out.exp) == simdjson::SUCCESS;
      } else if (f.value.type() == simdjson::dom::element_type::UINT64) {
        uint64_t u = 0;
        out.has_exp = f.value.get_uint64().get(u) == simdjson::SUCCESS;
        out.exp = static_cast<int64_t>(u);
      }
    }
  }
  return true;
}

}  // namespace

struct JwtSigner::Key {
  MdCtx inner, outer;
};

JwtSigner::JwtSigner(const std::string& secret, int64_t lifetime_seconds)
    : lifetime_(lifetime_seconds) {
  // RFC 2104: a key longer than the block is hashed first; then padded to the block.
  constexpr size_t kBlock = 64;
  unsigned char block[kBlock] = {};
  if (secret.size() > kBlock) {
    unsigned int n = 0;
    EVP_Digest(secret.data(), secret.size(), block, &n, EVP_sha256(), nullptr);
  } else {
    std::memcpy(block, secret.data(), secret.size());
  }
  auto key = std::make_unique<Key>();
  for (auto [ctx, pad] : {std::pair{&key->inner, 0x36}, std::pair{&key->outer, 0x5c}}) {
    unsigned char padded[kBlock];
    for (size_t i = 0; i < kBlock; ++i) padded[i] = static_cast<unsigned char>(block[i] ^ pad);
    ctx->reset(EVP_MD_CTX_new());
    EVP_DigestInit_ex(ctx->get(), EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx->get(), padded, kBlock);
    OPENSSL_cleanse(padded, kBlock);
  }
  OPENSSL_cleanse(block, kBlock);
  key_ = std::move(key);
}

JwtSigner::~JwtSigner() = default;

std::string JwtSigner::Sign(std::string_view input) const {
  unsigned char inner[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0, len = 0;
  EVP_MD_CTX* c = ScratchContext();
  EVP_MD_CTX_copy_ex(c, key_->inner.get());
  EVP_DigestUpdate(c, input.data(), input.size());
  EVP_DigestFinal_ex(c, inner, &n);
  EVP_MD_CTX_copy_ex(c, key_->outer.get());
  EVP_DigestUpdate(c, inner, n);
  EVP_DigestFinal_ex(c, mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::string JwtSigner::Issue(const std::string& user_id, const std::string& username) const {
  int64_t now = NowSeconds();
  static const std::string kHeader = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  json claims = {{"user_id", user_id}, {"username", username}, {"iat", now},
                 {"exp", now + lifetime_}};
  std::string input = kHeader + "." + Base64UrlEncode(claims.dump());
  return input + "." + Base64UrlEncode(Sign(input));
}

Result<TokenClaims> JwtSigner::Verify(std::string_view token) const {
  std::optional<TokenClaims> claims;
  {
    std::lock_guard lock(mu_);
    auto it = verified_.find(token);
    if (it != verified_.end()) claims = it->second;
  }
  if (!claims) {
    DT_ASSIGN_OR_RETURN(TokenClaims checked, Check(token));
    std::lock_guard lock(mu_);
    if (verified_.size() >= kRememberedTokens) verified_.clear();
    claims = verified_.emplace(std::string(token), std::move(checked)).first->second;
  }
  // The one check a remembered token needs again.
  if (claims->exp <= NowSeconds()) return Status(Code::kUnauthenticated, "token expired");
  return std::move(*claims);
}

Result<TokenClaims> JwtSigner::Check(std::string_view token) const {
  auto bad = [](const char* why) { return Status(Code::kUnauthenticated, why); };
  if (token.size() > 4096) return bad("token too long");
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return bad("malformed token");
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return bad("malformed token");
  auto header = Base64UrlDecode(token.substr(0, d1));
  auto payload = Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = Base64UrlDecode(token.substr(d2 + 1));
  if (!header || !payload || !sig) return bad("malformed token");
  Claims h;
  if (!ParseClaims(*header, h) || h.alg != "HS256") return bad("unsupported token algorithm");
  std::string expected = Sign(token.substr(0, d2));
  if (sig->size() != expected.size() ||
      CRYPTO_memcmp(sig->data(), expected.data(), expected.size())) {
    return bad("invalid token signature");
  }
  Claims p;
  if (!ParseClaims(*payload, p) || !p.has_user_id || !p.has_exp) return bad("token claims missing");
  TokenClaims c;
  c.user_id = std::string(p.user_id);
  c.username = std::string(p.username);
  c.exp = p.exp;
  return c;
}

}  // namespace dt::tracker
