#include "tracker/sync_digest.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "common/text_codec.h"

namespace dt::tracker {

void SyncDigest::Free::operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }

SyncDigest::SyncDigest() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 unavailable");
  }
}

SyncDigest::SyncDigest(const SyncDigest& other) : ctx_(EVP_MD_CTX_new()), count_(other.count_) {
  if (!ctx_ || EVP_MD_CTX_copy_ex(ctx_.get(), other.ctx_.get()) != 1) {
    throw std::runtime_error("SHA-256 context copy failed");
  }
}

SyncDigest& SyncDigest::operator=(const SyncDigest& other) {
  if (this != &other) *this = SyncDigest(other);
  return *this;
}

SyncDigest::~SyncDigest() = default;

void SyncDigest::Add(std::string_view event_id) {
  EVP_DigestUpdate(ctx_.get(), event_id.data(), event_id.size());
  EVP_DigestUpdate(ctx_.get(), "\n", 1);
  ++count_;
}

std::string SyncDigest::Hex() const {
  SyncDigest copy(*this);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy.ctx_.get(), digest, &len);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace dt::tracker
