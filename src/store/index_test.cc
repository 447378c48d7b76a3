// Index: the event-id family (its own memtable, id_memtable.h) through RocksDB: point
// lookups from the mutable memtable, the immutable ones and the flushed tables give the
// newest value of every key; the checkpoint key, rewritten many times, reads as its last.
#include "store/index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "store/test_util.h"

namespace dt::store {
namespace {

using testing::TempDir;

std::string IdKey(const Uuid& id, uint64_t sid) {
  std::string k(reinterpret_cast<const char*>(id.bytes.data()), 16);
  for (int i = 7; i >= 0; --i) k += static_cast<char>(sid >> (8 * i));
  return k;
}
std::string Le(int64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

TEST(IdIndex, FindsEveryIdBeforeAndAfterFlushesWithTheNewestValue) {
  TempDir dir;
  auto opened = Index::Open(dir.sub("index"));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Index& index = **opened;
  std::map<std::pair<Uuid, uint64_t>, int64_t> want;
  std::vector<Uuid> ids;
  int64_t number = 0;
  const std::string checkpoint(24, '\0');
  auto write_round = [&](int events, uint64_t checkpoint_value) {
    rocksdb::WriteBatch batch;
    for (int i = 0; i < events; ++i) {
      const Uuid id = Uuid::Random();
      const uint64_t sid = 1 + static_cast<uint64_t>(i % 7);
      ids.push_back(id);
      want[{id, sid}] = number;
      batch.Put(index.ids_family(), IdKey(id, sid), Le(number++));
    }
    // The same id in another stream, and a rewrite of an earlier key with a newer value.
    const Uuid& shared = ids[ids.size() / 2];
    want[{shared, 99}] = number;
    batch.Put(index.ids_family(), IdKey(shared, 99), Le(number++));
    auto again = want.begin();
    std::advance(again, static_cast<long>(want.size() / 3));
    again->second = number;
    batch.Put(index.ids_family(), IdKey(again->first.first, again->first.second), Le(number++));
    batch.Put(index.ids_family(), checkpoint, Le(static_cast<int64_t>(checkpoint_value)));
    ASSERT_TRUE(index.Write(&batch).ok());
  };
  auto check = [&] {
    for (auto& [key, n] : want) {
      auto found = index.FindEventId(key.second, key.first);
      ASSERT_TRUE(found.ok());
      ASSERT_TRUE(found->has_value());
      ASSERT_EQ(**found, n);
    }
    for (int i = 0; i < 100; ++i) {
      auto missing = index.FindEventId(1, Uuid::Random());
      ASSERT_TRUE(missing.ok());
      EXPECT_FALSE(missing->has_value());
    }
    auto absent_stream = index.FindEventId(1000, ids.front());
    ASSERT_TRUE(absent_stream.ok());
    EXPECT_FALSE(absent_stream->has_value());
  };
  uint64_t round = 0;
  for (; round < 200; ++round) write_round(100, round);
  check();  // all in the mutable memtable
  auto cp = index.ReadCheckpoints();
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->ids, round - 1);
  ASSERT_TRUE(index.FlushInBackground().ok());
  for (; round < 400; ++round) write_round(100, round);
  check();  // flushed tables (or an immutable memtable still being flushed) and the memtable
  ASSERT_TRUE(index.Flush().ok());
  for (; round < 450; ++round) write_round(100, round);
  check();
  cp = index.ReadCheckpoints();
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->ids, round - 1);
  // Reopened: everything comes from the tables.
  ASSERT_TRUE(index.Flush().ok());
  opened->reset();
  opened = Index::Open(dir.sub("index"));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Index& reopened = **opened;
  for (auto& [key, n] : want) {
    auto found = reopened.FindEventId(key.second, key.first);
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(found->has_value());
    ASSERT_EQ(**found, n);
  }
  cp = reopened.ReadCheckpoints();
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->ids, round - 1);
}

}  // namespace
}  // namespace dt::store
