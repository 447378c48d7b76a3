// stream_state.h: what the engine keeps per stream, and a bounded cache of it.
//
// A StreamState is immutable once published (shared as StatePtr): the writer makes a new
// one for every change, so readers holding the old one see a consistent snapshot.
//
// Thread-safety: StateCache may be used from any thread. Only the store's writer thread
// puts into it, so a reader that misses the cache and reads the index never races an older
// value into the cache. States not yet persisted in the index are pinned: they are never
// evicted (a miss must mean the index holds the latest state).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/store.h"

namespace dt::store {

struct StreamState {
  uint64_t id = 0;               // internal stream id (index keys), never 0 for a known stream
  int64_t last_number = -1;      // last event number written (-1: none); a tombstone excluded
  Position last_position = 0;    // position of the stream's latest record
  int64_t last_written_us = 0;   // creation time of that record
  bool has_records = false;      // the stream itself has records (not only metadata)
  bool tombstoned = false;
  StreamMetadata metadata;       // from "$$<stream>" (metadata.json holds the raw bytes)

  bool soft_deleted() const {
    return !tombstoned && metadata.truncate_before == kDeletedStreamNumber;
  }
  std::string Encode() const;
  static bool Decode(std::string_view bytes, StreamState* out);
};
using StatePtr = std::shared_ptr<const StreamState>;

// Bounded LRU map of stream name -> state.
class StateCache {
 public:
  explicit StateCache(size_t capacity) : capacity_(capacity) {}
  StatePtr Get(std::string_view name);
  // pinned: not evictable until Unpin (the state is not in the index yet).
  void Put(const std::string& name, StatePtr state, bool pinned = false);
  void Unpin(const std::string& name);
  size_t size() const;
  void Clear();

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Entry {
    StatePtr state;
    bool pinned = false;
    std::list<std::string>::iterator lru;  // valid when not pinned
  };
  void Evict();  // requires mu_
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> map_;  // GUARDED_BY(mu_)
  std::list<std::string> lru_;  // GUARDED_BY(mu_); unpinned names, front = most recent
};

}  // namespace dt::store
