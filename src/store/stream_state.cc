#include "store/stream_state.h"

#include <cstring>

#include "store/metadata.h"

namespace dt::store {
namespace {

template <typename T>
void Append(std::string* s, T v) {
  s->append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
bool Take(std::string_view* s, T* v) {
  if (s->size() < sizeof(T)) return false;
  std::memcpy(v, s->data(), sizeof(T));
  s->remove_prefix(sizeof(T));
  return true;
}

constexpr uint8_t kTombstoned = 1, kHasRecords = 2;

}  // namespace

std::string StreamState::Encode() const {
  std::string s;
  s.reserve(41 + metadata.json.size());
  Append<uint64_t>(&s, id);
  Append<int64_t>(&s, last_number);
  Append<uint64_t>(&s, last_position);
  Append<int64_t>(&s, last_written_us);
  Append<uint8_t>(&s, static_cast<uint8_t>((tombstoned ? kTombstoned : 0) | (has_records ? kHasRecords : 0)));
  Append<uint32_t>(&s, static_cast<uint32_t>(metadata.json.size()));
  s += metadata.json;
  return s;
}

bool StreamState::Decode(std::string_view b, StreamState* out) {
  uint8_t flags;
  uint32_t meta_len;
  if (!Take(&b, &out->id) || !Take(&b, &out->last_number) || !Take(&b, &out->last_position) ||
      !Take(&b, &out->last_written_us) || !Take(&b, &flags) || !Take(&b, &meta_len) ||
      b.size() != meta_len)
    return false;
  out->tombstoned = flags & kTombstoned;
  out->has_records = flags & kHasRecords;
  out->metadata = ParseStreamMetadata(b);
  return true;
}

StatePtr StateCache::Get(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = map_.find(name);
  if (it == map_.end()) return nullptr;
  if (!it->second.pinned) lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.state;
}

void StateCache::Put(const std::string& name, StatePtr state, bool pinned) {
  std::lock_guard lock(mu_);
  auto it = map_.find(std::string_view(name));
  if (it == map_.end()) {
    it = map_.emplace(name, Entry{}).first;
  } else if (!it->second.pinned) {
    lru_.erase(it->second.lru);
  }
  it->second.state = std::move(state);
  it->second.pinned = pinned;
  if (!pinned) {
    lru_.push_front(name);
    it->second.lru = lru_.begin();
  }
  Evict();
}

void StateCache::Unpin(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = map_.find(std::string_view(name));
  if (it == map_.end() || !it->second.pinned) return;
  it->second.pinned = false;
  lru_.push_front(name);
  it->second.lru = lru_.begin();
  Evict();
}

void StateCache::Evict() {
  while (lru_.size() > capacity_) {
    map_.erase(map_.find(std::string_view(lru_.back())));
    lru_.pop_back();
  }
}

size_t StateCache::size() const {
  std::lock_guard lock(mu_);
  return map_.size();
}

void StateCache::Clear() {
  std::lock_guard lock(mu_);
  map_.clear();
  lru_.clear();
}

}  // namespace dt::store
