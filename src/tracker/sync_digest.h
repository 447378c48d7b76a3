// SyncDigest: the digest GET /api/sync/hash answers, and that a client computes from the
// events it holds to tell cheaply whether it is in sync.
//
// The algorithm (documented in docs/API.md; never change it, clients depend on it):
//   hash = lower-case hex of SHA-256 over the concatenation, for every sync event of the
//          user in the order GET /api/sync/events returns them (ascending), of the event's
//          `id` (canonical lower-case UUID) followed by one "\n".
// With no events it is SHA-256 of the empty string
// (e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855).
//
// The digest is incremental: Add() extends it; hex() finishes a copy, so the server keeps a
// running digest per user and only feeds it the events that arrived since.
//
// Thread-safety: a value; one thread at a time per object (copies are independent).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace dt::tracker {

class SyncDigest {
 public:
  SyncDigest();
  SyncDigest(const SyncDigest& other);
  SyncDigest& operator=(const SyncDigest& other);
  SyncDigest(SyncDigest&&) noexcept = default;
  SyncDigest& operator=(SyncDigest&&) noexcept = default;
  ~SyncDigest();

  void Add(std::string_view event_id);
  std::string Hex() const;
  int64_t count() const { return count_; }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const;
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
  int64_t count_ = 0;
};

}  // namespace dt::tracker
