#include "store/index.h"

#include <algorithm>
#include <cstring>

#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/cache.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>

#include "store/id_memtable.h"
#include "store/metadata.h"

namespace dt::store {
namespace {

constexpr char kCheckpointKey[] = "c";        // runs (default family), ids (ids family)
constexpr char kStatesCheckpointKey[] = "S";
// The ids family's checkpoint: nil id and stream id 0, which no event has (a key of the
// same length as the others).
const std::string kIdsCheckpointKey(24, '\0');

void PutBE(std::string* s, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  s->append(b, 8);
}
uint64_t GetBE(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
template <typename T>
void PutLE(std::string* s, T v) {
  s->append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T GetLE(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::string StateKey(std::string_view name) {
  std::string k;
  k.reserve(1 + name.size());
  k += 's';
  k += name;
  return k;
}
std::string RunKey(uint64_t sid, int64_t last) {
  std::string k;
  k.reserve(17);
  k += 'r';
  PutBE(&k, sid);
  PutBE(&k, static_cast<uint64_t>(last));
  return k;
}
// In the "ids" column family: no type byte, so the prefix extractor sees uuid bytes.
std::string IdKey(const Uuid& id, uint64_t sid) {
  std::string k;
  k.reserve(24);
  k.append(reinterpret_cast<const char*>(id.bytes.data()), 16);
  PutBE(&k, sid);
  return k;
}
std::string RecentKey(Position pos, uint64_t sid) {
  std::string k;
  k.reserve(17);
  k += 'w';
  PutBE(&k, pos);
  PutBE(&k, sid);
  return k;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  return Status::IOError("index " + std::string(what) + ": " + s.ToString());
}

}  // namespace

constexpr uint32_t kIndexFormat = 3;
constexpr char kIdsFamily[] = "ids";

Index::Index(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : db_(std::move(db)), handles_(std::move(handles)) {}

Index::~Index() {
  if (db_) {
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }
}

namespace {

// Insert hints for the default family's memtable: RocksDB keeps, per prefix, where the
// last key with it went and starts the next insert there instead of searching the whole
// skiplist from the top (with single-event appends to many streams that search was the
// writer's largest cost). A run key ('r', stream id, last number) always follows the
// stream's previous run: its prefix is the stream. Other keys share a prefix per kind (the
// key's first byte): the state flush writes state keys ('s', name) and recent-stream keys
// ('w', position, stream id) in key order (Index::AddStates), so each starts next to the
// one before it; the one-byte checkpoint keys are their own prefix.
class InsertHint final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "dt.InsertHint"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() == 17 && key[0] == 'r' ? 9 : 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return !key.empty(); }
};

rocksdb::ColumnFamilyOptions FamilyOptions(bool ids) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = 64 << 20;
  cf.max_write_buffer_number = 3;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.block_cache = rocksdb::NewLRUCache(64 << 20);
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (ids) {
    // Event ids are random and only ever looked up whole, never iterated: see
    // id_memtable.h (an insert is O(1), a flush one sort).
    cf.memtable_factory = NewIdMemTableFactory();
  } else {
    cf.memtable_prefix_bloom_size_ratio = 0.02;
    cf.memtable_whole_key_filtering = true;
    cf.memtable_insert_with_hint_prefix_extractor = std::make_shared<InsertHint>();
  }
  return cf;
}

rocksdb::DBOptions DatabaseOptions() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;
  o.avoid_flush_during_shutdown = false;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.keep_log_file_num = 2;
  // Without a WAL, the families must be flushed together so that after a crash the
  // checkpoint (default family) never covers entries lost from another family.
  o.atomic_flush = true;
  o.allow_concurrent_memtable_write = false;  // required by the ids family's memtable
  return o;
}

std::vector<rocksdb::ColumnFamilyDescriptor> Families() {
  return {{rocksdb::kDefaultColumnFamilyName, FamilyOptions(false)}, {kIdsFamily, FamilyOptions(true)}};
}

}  // namespace

Result<std::unique_ptr<Index>> Index::Open(const std::string& path) {
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(DatabaseOptions(), path, Families(), &handles, &raw);
  if (!s.ok()) return Status::IOError("cannot open the index " + path + ": " + s.ToString());
  return std::unique_ptr<Index>(new Index(std::unique_ptr<rocksdb::DB>(raw), std::move(handles)));
}

Status Index::Destroy(const std::string& path) {
  rocksdb::Options o(DatabaseOptions(), FamilyOptions(false));
  return FromRocks(rocksdb::DestroyDB(path, o, Families()), "destroy");
}

Result<IndexCheckpoints> Index::ReadCheckpoints() {
  IndexCheckpoints c;
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[0], kStatesCheckpointKey, &v);
  if (!s.IsNotFound()) {
    DT_RETURN_IF_ERROR(FromRocks(s, "read"));
    if (v.size() < 20) return Status::Corruption("index states checkpoint is malformed");
    c.states_present = c.any_present = true;
    c.states = GetLE<uint64_t>(v.data());
    c.next_stream_id = GetLE<uint64_t>(v.data() + 8);
    c.format = GetLE<uint32_t>(v.data() + 16);
    c.store_id = v.substr(20);
  }
  for (int family = 0; family < 2; ++family) {
    s = db_->Get(rocksdb::ReadOptions(), handles_[family], family == 0 ? std::string(kCheckpointKey) : kIdsCheckpointKey, &v);
    Position p = 0;
    if (!s.IsNotFound()) {
      DT_RETURN_IF_ERROR(FromRocks(s, "read"));
      if (v.size() != 8) return Status::Corruption("index checkpoint is malformed");
      p = GetLE<uint64_t>(v.data());
      c.any_present = true;
    }
    (family == 0 ? c.runs : c.ids) = p;
  }
  return c;
}

void Index::AddStates(rocksdb::WriteBatch* batch, std::vector<StateChange> changes) {
  // In key order, each insert into the skiplist memtable starts where the one before it
  // went (the insert hint of the key's kind) instead of from the top.
  std::sort(changes.begin(), changes.end(),
            [](const StateChange& a, const StateChange& b) { return *a.name < *b.name; });
  struct Recent {
    Position position;
    uint64_t sid;
    const std::string* name;  // null: the key to delete
    bool operator<(const Recent& o) const { return position != o.position ? position < o.position : sid < o.sid; }
  };
  std::vector<Recent> removed, added;
  for (const StateChange& c : changes) {
    batch->Put(StateKey(*c.name), c.current->Encode());
    if (c.current->has_records && (!c.persisted || c.persisted->last_position != c.current->last_position)) {
      if (c.persisted && c.persisted->has_records)
        removed.push_back(Recent{c.persisted->last_position, c.current->id, nullptr});
      added.push_back(Recent{c.current->last_position, c.current->id, c.name});
    }
  }
  // A stream's removed and added keys differ (other positions) and streams differ in id:
  // no key is both deleted and put, so deletes may all go first.
  std::sort(removed.begin(), removed.end());
  std::sort(added.begin(), added.end());
  for (const Recent& r : removed) batch->Delete(RecentKey(r.position, r.sid));
  for (const Recent& a : added) batch->Put(RecentKey(a.position, a.sid), *a.name);
}

void Index::AddStatesCheckpoint(rocksdb::WriteBatch* batch, Position position, uint64_t next_stream_id,
                                const std::string& store_id) {
  std::string c;
  PutLE<uint64_t>(&c, position);
  PutLE<uint64_t>(&c, next_stream_id);
  PutLE<uint32_t>(&c, kIndexFormat);
  c += store_id;
  batch->Put(kStatesCheckpointKey, c);
}

Result<StatePtr> Index::ReadState(std::string_view name) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), StateKey(name), &v);
  if (s.IsNotFound()) return StatePtr();
  DT_RETURN_IF_ERROR(FromRocks(s, "read"));
  auto st = std::make_shared<StreamState>();
  if (!StreamState::Decode(v, st.get()))
    return Status::Corruption("index: malformed state of stream " + std::string(name));
  return StatePtr(std::move(st));
}

Result<std::optional<int64_t>> Index::FindEventId(uint64_t sid, const Uuid& id) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[1], IdKey(id, sid), &v);
  if (s.IsNotFound()) return std::optional<int64_t>();
  DT_RETURN_IF_ERROR(FromRocks(s, "read"));
  if (v.size() != 8) return Status::Corruption("index: malformed event id entry");
  return std::optional<int64_t>(GetLE<int64_t>(v.data()));
}

Result<std::vector<Run>> Index::Runs(uint64_t sid, int64_t from, bool forward, size_t max_events) {
  std::vector<Run> runs;
  std::string prefix;
  prefix += 'r';
  PutBE(&prefix, sid);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->Seek(RunKey(sid, from < 0 ? 0 : from));
  if (!forward) {
    // The run holding `from` is the first with last >= from; start there, then go back.
    if (!it->Valid() || !it->key().starts_with(prefix)) {
      it->SeekForPrev(RunKey(sid, INT64_MAX));
    }
  }
  size_t covered = 0;
  while (it->Valid() && it->key().starts_with(prefix) && covered < max_events) {
    rocksdb::Slice v = it->value();
    if (v.size() != 24 || it->key().size() != 17) return Status::Corruption("index: malformed run entry");
    Run r;
    r.last = static_cast<int64_t>(GetBE(it->key().data() + 9));
    r.first = GetLE<int64_t>(v.data());
    r.position = GetLE<uint64_t>(v.data() + 8);
    r.bytes = GetLE<uint64_t>(v.data() + 16);
    if (forward) {
      const int64_t lo = std::max(r.first, from);
      covered += static_cast<size_t>(r.last - lo + 1);
      runs.push_back(r);
      it->Next();
    } else {
      if (r.first > from) {  // the run is past `from`: step back
        it->Prev();
        continue;
      }
      const int64_t hi = std::min(r.last, from);
      covered += static_cast<size_t>(hi - r.first + 1);
      runs.push_back(r);
      it->Prev();
    }
  }
  DT_RETURN_IF_ERROR(FromRocks(it->status(), "read"));
  return runs;
}

Status Index::VisitRecent(const std::function<bool(std::string_view, Position)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekForPrev("w\xff"); it->Valid() && it->key().starts_with("w"); it->Prev()) {
    if (it->key().size() != 17) return Status::Corruption("index: malformed recent-stream key");
    if (!visit(std::string_view(it->value().data(), it->value().size()), GetBE(it->key().data() + 1))) break;
  }
  return FromRocks(it->status(), "read");
}

Status Index::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  return FromRocks(db_->Write(wo, batch), "write");
}

Status Index::FlushInBackground() {
  rocksdb::FlushOptions fo;
  fo.wait = false;
  fo.allow_write_stall = true;
  return FromRocks(db_->Flush(fo, handles_), "flush");
}

Status Index::Flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return FromRocks(db_->Flush(fo), "flush");
}

// ---------------------------------------------------------------- IndexUpdate

IndexUpdate::IndexUpdate(Index& index, Lookup lookup, uint64_t max_run_bytes)
    : ids_family_(index.ids_family()), lookup_(std::move(lookup)), max_run_bytes_(max_run_bytes) {}

uint32_t Index::Format() { return kIndexFormat; }

void IndexUpdate::Reset(uint64_t next_stream_id) {
  next_stream_id_ = next_stream_id;
  touched_.clear();
  touched_index_.clear();
  pinned_.clear();
  added_.clear();
  has_last_lookup_ = false;
  last_lookup_ = nullptr;
  batch_.Clear();
  run_sid_ = 0;
  records_ = 0;
}

Result<const StreamState*> IndexUpdate::Current(std::string_view name) {
  auto it = touched_index_.find(name);
  if (it != touched_index_.end()) return static_cast<const StreamState*>(touched_[it->second].state.get());
  DT_ASSIGN_OR_RETURN(StatePtr committed, lookup_(name));
  last_lookup_name_.assign(name);
  last_lookup_ = committed;
  has_last_lookup_ = true;
  if (!committed) return static_cast<const StreamState*>(nullptr);
  pinned_.push_back(committed);
  return committed.get();
}

StatePtr IndexUpdate::NewState(std::string_view name) const {
  auto it = touched_index_.find(name);
  return it == touched_index_.end() ? nullptr : StatePtr(touched_[it->second].state);
}

Result<StreamState*> IndexUpdate::Touch(std::string_view name) {
  auto it = touched_index_.find(name);
  if (it != touched_index_.end()) return touched_[it->second].state.get();
  StatePtr committed;
  if (has_last_lookup_ && name == last_lookup_name_) {
    committed = std::move(last_lookup_);  // the append just decided: no second lookup
    has_last_lookup_ = false;
  } else {
    DT_ASSIGN_OR_RETURN(committed, lookup_(name));
  }
  Touched t;
  t.name = std::string(name);
  if (committed) {
    t.state = std::make_shared<StreamState>(*committed);
  } else {
    t.state = std::make_shared<StreamState>();
    t.state->id = next_stream_id_++;
  }
  t.committed = std::move(committed);
  touched_index_.emplace(t.name, touched_.size());
  touched_.push_back(std::move(t));
  return touched_.back().state.get();
}

void IndexUpdate::FlushRun() {
  if (run_sid_ == 0) return;
  // Keys and values built on the stack: no allocation per run.
  char key[17], value[24];
  key[0] = 'r';
  for (int i = 0; i < 8; ++i) {
    key[1 + i] = static_cast<char>(run_sid_ >> (56 - 8 * i));
    key[9 + i] = static_cast<char>(static_cast<uint64_t>(run_.last) >> (56 - 8 * i));
  }
  std::memcpy(value, &run_.first, 8);
  std::memcpy(value + 8, &run_.position, 8);
  std::memcpy(value + 16, &run_.bytes, 8);
  batch_.Put(rocksdb::Slice(key, sizeof key), rocksdb::Slice(value, sizeof value));
  run_sid_ = 0;
}

Status IndexUpdate::Add(const RecordView& r) {
  DT_ASSIGN_OR_RETURN(StreamState* st, Touch(r.stream));
  ++records_;
  const bool tombstone = r.number == kDeletedStreamNumber;
  if (tombstone) {
    st->tombstoned = true;
  } else {
    st->last_number = r.number;
  }
  st->last_position = r.position;
  st->last_written_us = r.created_us;
  st->has_records = true;
  const uint64_t sid = st->id;

  // Runs: never across a batch end, so they depend on the log alone (see index.h).
  if (run_sid_ == sid && !tombstone && r.number == run_.last + 1 &&
      r.position == run_.position + run_.bytes && run_.bytes + r.length <= max_run_bytes_) {
    run_.last = r.number;
    run_.bytes += r.length;
  } else {
    FlushRun();
    run_sid_ = sid;
    run_ = Run{r.number, r.number, r.position, r.length};
  }
  if (tombstone || r.commit()) FlushRun();

  if (!tombstone) {
    char key[24], value[8];
    std::memcpy(key, r.id.bytes.data(), 16);
    for (int i = 0; i < 8; ++i) key[16 + i] = static_cast<char>(sid >> (56 - 8 * i));
    std::memcpy(value, &r.number, 8);
    batch_.Put(ids_family_, rocksdb::Slice(key, sizeof key), rocksdb::Slice(value, sizeof value));
    added_.push_back(AddedEvent{sid, r.number, r.id, r.position});
  }

  if (IsMetastream(r.stream)) {
    DT_ASSIGN_OR_RETURN(StreamState* original, Touch(OriginalOf(r.stream)));
    original->metadata = ParseStreamMetadata(r.data);
  }
  return Status::Ok();
}

std::optional<int64_t> IndexUpdate::FindAddedEventId(uint64_t sid, const Uuid& id) const {
  for (auto it = added_.rbegin(); it != added_.rend(); ++it)
    if (it->sid == sid && it->id == id) return it->number;
  return std::nullopt;
}

const IndexUpdate::AddedEvent* IndexUpdate::AddedEventAt(uint64_t sid, int64_t number) const {
  for (auto it = added_.rbegin(); it != added_.rend(); ++it)
    if (it->sid == sid && it->number == number) return &*it;
  return nullptr;
}

rocksdb::WriteBatch* IndexUpdate::Finish(Position end) {
  FlushRun();
  std::string c;
  PutLE<uint64_t>(&c, end);
  batch_.Put(kCheckpointKey, c);
  batch_.Put(ids_family_, kIdsCheckpointKey, c);
  return &batch_;
}

}  // namespace dt::store
