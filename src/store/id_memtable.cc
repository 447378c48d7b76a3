#include "store/id_memtable.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dt::store {
namespace {

using rocksdb::MemTableRep;
using rocksdb::Slice;

// An entry is varint32 length + internal key (user key + 8 bytes of sequence and type) + value.
Slice InternalKeyOf(const char* entry) { return rocksdb::GetLengthPrefixedSlice(entry); }
std::string_view UserKeyOf(const Slice& internal_key) {
  return std::string_view(internal_key.data(), internal_key.size() >= 8 ? internal_key.size() - 8 : 0);
}
// The first 8 bytes of a user key, zero-padded, as a big-endian number: ordering by it agrees
// with the bytewise order of the keys whenever two of them differ.
uint64_t Prefix(std::string_view user_key) {
  unsigned char b[8] = {};
  std::memcpy(b, user_key.data(), std::min<size_t>(8, user_key.size()));
  uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}
size_t HashOf(std::string_view user_key) { return std::hash<std::string_view>()(user_key); }

using Entries = std::vector<const char*>;

class IdMemTable final : public MemTableRep {
 public:
  IdMemTable(const KeyComparator& compare, rocksdb::Allocator* allocator)
      : MemTableRep(allocator), compare_(compare) {
    slots_.assign(1 << 12, Slot{});
  }

  void Insert(rocksdb::KeyHandle handle) override {
    const char* entry = static_cast<const char*>(handle);
    const std::string_view user = UserKeyOf(InternalKeyOf(entry));
    const size_t hash = HashOf(user);
    std::lock_guard lock(mu_);
    entries_->push_back(entry);
    // One slot per user key; other versions of it (the checkpoint key, rewritten with every
    // group) wait beside the table.
    size_t i = hash & (slots_.size() - 1);
    for (; slots_[i].entry; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].hash == hash && UserKeyOf(InternalKeyOf(slots_[i].entry)) == user) {
        versions_.emplace(user, slots_[i].entry);
        slots_[i].entry = entry;
        return;
      }
    }
    slots_[i] = Slot{hash, entry};
    if (++keys_ * 2 > slots_.size()) Grow();
  }

  bool Contains(const char* key) const override {
    for (const char* e : *EntriesOf(UserKeyOf(InternalKeyOf(key))))
      if (compare_(e, key) == 0) return true;
    return false;
  }

  // (Called on the write path: the sort waits for the first full iterator, the flush's.)
  void MarkReadOnly() override {
    std::lock_guard lock(mu_);
    read_only_ = true;
  }

  size_t ApproximateMemoryUsage() override {
    std::lock_guard lock(mu_);
    return entries_->capacity() * sizeof(const char*) + slots_.capacity() * sizeof(Slot) + versions_.size() * 48;
  }

  // RocksDB's default Get makes a prefix iterator and never frees it: look up directly.
  // LookupKey (db/dbformat.h) is not public; its first member points to its memtable key
  // (varint32 length + internal key), as in every RocksDB and LevelDB release.
  void Get(const rocksdb::LookupKey& k, void* callback_args,
           bool (*callback_func)(void* arg, const char* entry)) override {
    const char* memtable_key = *reinterpret_cast<const char* const*>(&k);
    const Slice internal_key = InternalKeyOf(memtable_key);
    const std::string_view user = UserKeyOf(internal_key);
    const size_t hash = HashOf(user);
    {
      // Most lookups are of ids not written yet: answer those without collecting anything.
      std::lock_guard lock(mu_);
      if (!FindSlot(user, hash)) return;
    }
    std::shared_ptr<const Entries> list = EntriesOf(user);
    auto it = std::lower_bound(list->begin(), list->end(), internal_key,
                               [&](const char* e, const Slice& key) { return compare_(e, key) < 0; });
    for (; it != list->end() && callback_func(callback_args, *it); ++it) {
    }
  }

  Iterator* GetIterator(rocksdb::Arena* arena) override { return Make(arena, false); }
  Iterator* GetDynamicPrefixIterator(rocksdb::Arena* arena) override { return Make(arena, true); }

 private:
  class Iter final : public Iterator {
   public:
    Iter(const IdMemTable& rep, bool point) : rep_(rep), point_(point) {}
    bool Valid() const override { return list_ && at_ < list_->size(); }
    const char* key() const override { return (*list_)[at_]; }
    void Next() override { ++at_; }
    void Prev() override { at_ = at_ == 0 ? Invalid() : at_ - 1; }
    void Seek(const Slice& internal_key, const char* /*memtable_key*/) override {
      if (point_) {
        list_ = rep_.EntriesOf(UserKeyOf(internal_key));  // a Get: only this key's entries
      } else {
        Load();
      }
      at_ = static_cast<size_t>(std::lower_bound(list_->begin(), list_->end(), internal_key,
                                                 [&](const char* e, const Slice& k) { return rep_.compare_(e, k) < 0; }) -
                                list_->begin());
    }
    void SeekForPrev(const Slice& internal_key, const char* /*memtable_key*/) override {
      Load();
      const size_t n = static_cast<size_t>(std::upper_bound(list_->begin(), list_->end(), internal_key,
                                                            [&](const Slice& k, const char* e) { return rep_.compare_(e, k) > 0; }) -
                                           list_->begin());
      at_ = n == 0 ? Invalid() : n - 1;
    }
    void SeekToFirst() override {
      Load();
      at_ = 0;
    }
    void SeekToLast() override {
      Load();
      at_ = list_->empty() ? Invalid() : list_->size() - 1;
    }

   private:
    size_t Invalid() const { return list_ ? list_->size() : 0; }
    void Load() {
      if (!full_) {
        list_ = rep_.Sorted();
        full_ = true;
      }
    }
    const IdMemTable& rep_;
    const bool point_;
    bool full_ = false;
    std::shared_ptr<const Entries> list_;
    size_t at_ = 0;
  };

  Iterator* Make(rocksdb::Arena* arena, bool point) {
    if (!arena) return new Iter(*this, point);
    // RocksDB only destroys an iterator made in its arena (it frees the arena later), and
    // the arena's interface is not public: keep the storage here, freed with the memtable
    // (which outlives its iterators).
    std::lock_guard lock(mu_);
    iterator_storage_.push_back(std::make_unique<Storage>());
    return new (iterator_storage_.back().get()) Iter(*this, point);
  }

  // A slot keeps its key's hash, so a probe reads an entry only when the hashes agree.
  struct Slot {
    size_t hash = 0;
    const char* entry = nullptr;  // the newest version of the key; null: free
  };
  // Requires mu_.
  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& o : old) {
      if (!o.entry) continue;
      size_t i = o.hash & (slots_.size() - 1);
      while (slots_[i].entry) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = o;
    }
  }
  // The newest entry of a user key, or null. Requires mu_.
  const char* FindSlot(std::string_view user, size_t hash) const {
    for (size_t i = hash & (slots_.size() - 1); slots_[i].entry; i = (i + 1) & (slots_.size() - 1))
      if (slots_[i].hash == hash && UserKeyOf(InternalKeyOf(slots_[i].entry)) == user) return slots_[i].entry;
    return nullptr;
  }
  void Sort(Entries& v) const {
    struct Keyed {
      uint64_t prefix;
      const char* entry;
    };
    std::vector<Keyed> keyed;
    keyed.reserve(v.size());
    for (const char* e : v) keyed.push_back(Keyed{Prefix(UserKeyOf(InternalKeyOf(e))), e});
    std::sort(keyed.begin(), keyed.end(), [&](const Keyed& a, const Keyed& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      return compare_(a.entry, b.entry) < 0;
    });
    for (size_t i = 0; i < v.size(); ++i) v[i] = keyed[i].entry;
  }
  // Every entry in order: a sorted copy (made once when the memtable is read-only).
  std::shared_ptr<const Entries> Sorted() const {
    std::shared_ptr<Entries> copy;
    bool read_only;
    {
      std::lock_guard lock(mu_);
      if (sorted_) return sorted_;
      copy = std::make_shared<Entries>(*entries_);
      read_only = read_only_;
    }
    Sort(*copy);  // outside the lock: point lookups go on meanwhile
    if (read_only) {
      std::lock_guard lock(mu_);
      sorted_ = copy;
    }
    return copy;
  }
  // The entries of one user key, in order.
  std::shared_ptr<const Entries> EntriesOf(std::string_view user) const {
    auto found = std::make_shared<Entries>();
    const size_t hash = HashOf(user);
    {
      std::lock_guard lock(mu_);
      if (const char* newest = FindSlot(user, hash)) {
        found->push_back(newest);
        auto [from, to] = versions_.equal_range(user);
        for (auto it = from; it != to; ++it) found->push_back(it->second);
      }
    }
    std::sort(found->begin(), found->end(), [&](const char* a, const char* b) { return compare_(a, b) < 0; });
    return found;
  }

  struct Storage {
    alignas(Iter) unsigned char bytes[sizeof(Iter)];
  };

  const KeyComparator& compare_;
  mutable std::mutex mu_;
  std::shared_ptr<Entries> entries_ = std::make_shared<Entries>();  // GUARDED_BY(mu_), insertion order
  std::vector<Slot> slots_;                                          // GUARDED_BY(mu_), power of two
  size_t keys_ = 0;                                                  // GUARDED_BY(mu_): used slots
  std::unordered_multimap<std::string_view, const char*> versions_;  // GUARDED_BY(mu_): older versions
  bool read_only_ = false;                                           // GUARDED_BY(mu_)
  mutable std::shared_ptr<const Entries> sorted_;                    // GUARDED_BY(mu_), once read-only
  std::vector<std::unique_ptr<Storage>> iterator_storage_;           // GUARDED_BY(mu_)
};

class IdMemTableFactory final : public rocksdb::MemTableRepFactory {
 public:
  MemTableRep* CreateMemTableRep(const MemTableRep::KeyComparator& compare, rocksdb::Allocator* allocator,
                                 const rocksdb::SliceTransform*, rocksdb::Logger*) override {
    return new IdMemTable(compare, allocator);
  }
  const char* Name() const override { return "DtIdMemTableFactory"; }
};

}  // namespace

std::unique_ptr<rocksdb::MemTableRepFactory> NewIdMemTableFactory() {
  return std::make_unique<IdMemTableFactory>();
}

}  // namespace dt::store
