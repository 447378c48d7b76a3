#include "common/uuid.h"

#include <openssl/evp.h>

#include <chrono>
#include <random>

#include "common/text_codec.h"

namespace dt {

Uuid Uuid::Random() {
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  Uuid u;
  uint64_t a = gen(), b = gen();
  __builtin_memcpy(u.bytes.data(), &a, 8);
  __builtin_memcpy(u.bytes.data() + 8, &b, 8);
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0F) | 0x40);
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3F) | 0x80);
  return u;
}

Uuid Uuid::TimeOrdered() {
  Uuid u = Random();  // variant already RFC 4122's; the version nibble is set below
  auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  for (size_t i = 0; i < 6; ++i) u.bytes[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0F) | 0x70);
  return u;
}

Uuid Uuid::NameBased(const Uuid& name_space, std::string_view name) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, name_space.bytes.data(), name_space.bytes.size());
  EVP_DigestUpdate(ctx, name.data(), name.size());
  EVP_DigestFinal_ex(ctx, digest, &digest_len);
  EVP_MD_CTX_free(ctx);
  Uuid u;
  __builtin_memcpy(u.bytes.data(), digest, 16);
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0F) | 0x50);
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3F) | 0x80);
  return u;
}

std::optional<Uuid> Uuid::Parse(std::string_view text) {
  if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, 36);
  }
  Uuid u;
  size_t nibble = 0;
  if (text.size() == 36) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        if (text[i] != '-') return std::nullopt;
        continue;
      }
      int v = HexDigitValue(text[i]);
      if (v < 0) return std::nullopt;
      u.bytes[nibble / 2] = static_cast<uint8_t>(u.bytes[nibble / 2] | (nibble % 2 ? v : v << 4));
      ++nibble;
    }
    return u;
  }
  if (text.size() == 32) {
    for (char c : text) {
      int v = HexDigitValue(c);
      if (v < 0) return std::nullopt;
      u.bytes[nibble / 2] = static_cast<uint8_t>(u.bytes[nibble / 2] | (nibble % 2 ? v : v << 4));
      ++nibble;
    }
    return u;
  }
  return std::nullopt;
}

bool Uuid::IsNil() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xF]);
  }
  return out;
}

}  // namespace dt
