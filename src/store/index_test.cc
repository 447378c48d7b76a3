// Index: the event-id family (its own memtable, id_memtable.h) through RocksDB: point
// lookups from the mutable memtable, the immutable ones and the flushed tables give the
// newest value of every key; the checkpoint key, rewritten many times, reads as its last.
// The default family (inserts hinted per stream, per state key and for recent-stream keys):
// runs of interleaved streams, states rewritten again and again and the recent-stream keys
// read back complete and in order.
#include "store/index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <algorithm>
#include <random>

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


std::string Be(uint64_t v) {
  std::string s;
  for (int i = 7; i >= 0; --i) s += static_cast<char>(v >> (8 * i));
  return s;
}

TEST(DefaultFamily, InterleavedRunsStatesAndRecentStreamsReadBackInOrder) {
  TempDir dir;
  auto opened = Index::Open(dir.sub("index"));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Index& index = **opened;
  constexpr uint64_t kStreams = 300;
  std::vector<int64_t> last(kStreams + 1, -1);       // per stream id (1-based)
  std::vector<StreamState> states(kStreams + 1);
  std::vector<StatePtr> persisted(kStreams + 1);
  std::mt19937_64 rng(7);
  Position pos = 0;
  auto name = [](uint64_t sid) {
    std::string n = "stream-";
    n += std::to_string(sid);
    return n;
  };
  auto check = [&](Index& ix) {
    for (uint64_t sid = 1; sid <= kStreams; ++sid) {
      if (last[sid] < 0) continue;
      auto runs = ix.Runs(sid, 0, true, SIZE_MAX);
      ASSERT_TRUE(runs.ok());
      ASSERT_EQ(runs->size(), static_cast<size_t>(last[sid] + 1)) << sid;  // one event per run
      for (size_t k = 0; k < runs->size(); ++k) {
        ASSERT_EQ((*runs)[k].first, static_cast<int64_t>(k));
        ASSERT_EQ((*runs)[k].last, static_cast<int64_t>(k));
      }
      auto back = ix.Runs(sid, last[sid], false, 1);
      ASSERT_TRUE(back.ok());
      ASSERT_FALSE(back->empty());
      EXPECT_EQ(back->front().last, last[sid]);
      auto st = ix.ReadState(name(sid));
      ASSERT_TRUE(st.ok());
      ASSERT_TRUE(*st);
      EXPECT_EQ((*st)->last_number, states[sid].last_number);
      EXPECT_EQ((*st)->last_position, states[sid].last_position);
    }
    // Most recently written first, each stream once.
    std::vector<std::pair<std::string, Position>> recent;
    ASSERT_TRUE(ix.VisitRecent([&](std::string_view n, Position p) {
                    recent.emplace_back(std::string(n), p);
                    return true;
                  }).ok());
    std::vector<std::pair<std::string, Position>> want;
    for (uint64_t sid = 1; sid <= kStreams; ++sid)
      if (last[sid] >= 0) want.emplace_back(name(sid), states[sid].last_position);
    std::sort(want.begin(), want.end(), [](auto& a, auto& b) { return a.second > b.second; });
    EXPECT_EQ(recent, want);
  };
  auto round = [&](int groups) {
    for (int g = 0; g < groups; ++g) {
      rocksdb::WriteBatch batch;
      for (int e = 0; e < 30; ++e) {  // one event per run, random streams
        const uint64_t sid = 1 + rng() % kStreams;
        const int64_t n = ++last[sid];
        std::string key(1, 'r'), value = Le(n);
        key += Be(sid);
        key += Be(static_cast<uint64_t>(n));
        value += Le(static_cast<int64_t>(pos));
        value += Le(100);
        batch.Put(key, value);
        states[sid].id = sid;
        states[sid].last_number = n;
        states[sid].last_position = pos;
        states[sid].has_records = true;
        pos += 100;
      }
      batch.Put("c", Le(static_cast<int64_t>(pos)));
      ASSERT_TRUE(index.Write(&batch).ok());
    }
    rocksdb::WriteBatch states_batch;  // as the engine's state flush does
    std::vector<std::string> names;
    names.reserve(kStreams);
    std::vector<Index::StateChange> changes;
    std::vector<StatePtr> next(kStreams + 1);
    for (uint64_t sid = kStreams; sid >= 1; --sid) {  // in no particular order
      if (last[sid] < 0) continue;
      names.push_back(name(sid));
      next[sid] = std::make_shared<StreamState>(states[sid]);
      changes.push_back(Index::StateChange{&names.back(), persisted[sid].get(), next[sid].get()});
    }
    Index::AddStates(&states_batch, std::move(changes));
    ASSERT_TRUE(index.Write(&states_batch).ok());
    for (uint64_t sid = 1; sid <= kStreams; ++sid)
      if (next[sid]) persisted[sid] = next[sid];
  };
  for (int r = 0; r < 10; ++r) round(50);
  check(index);
  ASSERT_TRUE(index.FlushInBackground().ok());
  for (int r = 0; r < 10; ++r) round(50);
  check(index);
  ASSERT_TRUE(index.Flush().ok());
  opened->reset();
  opened = Index::Open(dir.sub("index"));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  check(**opened);
}

}  // namespace
}  // namespace dt::store
