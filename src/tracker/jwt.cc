#include "tracker/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace dt::tracker {

using json = nlohmann::json;

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Sign(const std::string& secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

bool Base64UrlDecode(std::string_view in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return bits < 6;
}

std::string JwtSigner::Issue(const std::string& user_id, const std::string& username) const {
  int64_t now = NowSeconds();
  static const std::string kHeader = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  json claims = {{"user_id", user_id}, {"username", username}, {"iat", now},
                 {"exp", now + lifetime_}};
  std::string input = kHeader + "." + Base64UrlEncode(claims.dump());
  return input + "." + Base64UrlEncode(Sign(secret_, input));
}

Result<TokenClaims> JwtSigner::Verify(std::string_view token) const {
  auto bad = [](const char* why) { return Status(Code::kUnauthenticated, why); };
  if (token.size() > 4096) return bad("token too long");
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return bad("malformed token");
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return bad("malformed token");
  std::string header, payload, sig;
  if (!Base64UrlDecode(token.substr(0, d1), header) ||
      !Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1), payload) ||
      !Base64UrlDecode(token.substr(d2 + 1), sig)) {
    return bad("malformed token");
  }
  json h = json::parse(header, nullptr, false);
  if (!h.is_object() || h.value("alg", "") != "HS256") return bad("unsupported token algorithm");
  std::string expected = Sign(secret_, token.substr(0, d2));
  if (sig.size() != expected.size() || CRYPTO_memcmp(sig.data(), expected.data(), sig.size())) {
    return bad("invalid token signature");
  }
  json p = json::parse(payload, nullptr, false);
  if (!p.is_object() || !p.contains("user_id") || !p["user_id"].is_string() ||
      !p.contains("exp") || !p["exp"].is_number_integer()) {
    return bad("token claims missing");
  }
  TokenClaims c;
  c.user_id = p["user_id"].get<std::string>();
  c.username = p.value("username", "");
  c.exp = p["exp"].get<int64_t>();
  if (c.exp <= NowSeconds()) return bad("token expired");
  return c;
}

}  // namespace dt::tracker
