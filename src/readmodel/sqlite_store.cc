#include "readmodel/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "client/time_util.h"
#include "readmodel/sql_schema.h"
#include "readmodel/sqlite_files.h"

namespace dt::readmodel {
namespace {

using tracker::Contact;
using tracker::Transaction;

// ---------------------------------------------------------------- named queries
constexpr const char* kUpsertContact =
    "INSERT INTO contacts{s} (id, user_id, name, username, phone, email, notes, created_at, "
    "updated_at, version, is_deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
    "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name, "
    "username = excluded.username, phone = excluded.phone, email = excluded.email, "
    "notes = excluded.notes, created_at = excluded.created_at, updated_at = excluded.updated_at, "
    "version = excluded.version, is_deleted = excluded.is_deleted "
    "WHERE excluded.version > contacts{s}.version";
constexpr const char* kUpsertTransaction =
    "INSERT INTO transactions{s} (id, user_id, contact_id, type, direction, amount, currency, "
    "description, transaction_date, due_date, created_at, updated_at, version, is_deleted) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
    "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, contact_id = excluded.contact_id, "
    "type = excluded.type, direction = excluded.direction, amount = excluded.amount, "
    "currency = excluded.currency, description = excluded.description, "
    "transaction_date = excluded.transaction_date, due_date = excluded.due_date, "
    "created_at = excluded.created_at, updated_at = excluded.updated_at, "
    "version = excluded.version, is_deleted = excluded.is_deleted "
    "WHERE excluded.version > transactions{s}.version";
constexpr const char* kUpsertSetting =
    "INSERT INTO settings{s} (user_id, key, value, version) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, version = excluded.version "
    "WHERE excluded.version > settings{s}.version";
constexpr const char* kInsertEvent =
    "INSERT OR IGNORE INTO events{s} (seq, event_id, stream, version, user_id, aggregate_type, "
    "aggregate_id, event_type, data, occurred_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr const char* kAddBalance =
    "INSERT INTO balances{s} (user_id, contact_id, currency, amount) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (user_id, contact_id, currency) DO UPDATE SET "
    "amount = balances{s}.amount + excluded.amount";
constexpr const char* kSaveState =
    "INSERT INTO projection_state (name, position, events_applied, generation, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "events_applied = excluded.events_applied, generation = excluded.generation, "
    "updated_at = excluded.updated_at";
constexpr const char* kLoadState =
    "SELECT position, events_applied, generation, updated_at FROM projection_state WHERE name = ?1";
constexpr const char* kDeleteState = "DELETE FROM projection_state WHERE name = ?1";
constexpr const char* kSchemaVersion = "SELECT version FROM schema_version";
constexpr const char* kInsertSchemaVersion = "INSERT INTO schema_version (version) VALUES (?1)";
constexpr const char* kTableExists =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1";

constexpr const char* kListContacts =
    "SELECT id, user_id, name, username, phone, email, notes, created_at, updated_at, version, "
    "is_deleted FROM contacts WHERE user_id = ?1 AND is_deleted = 0 "
    "ORDER BY name COLLATE NOCASE, id";
constexpr const char* kGetContact =
    "SELECT id, user_id, name, username, phone, email, notes, created_at, updated_at, version, "
    "is_deleted FROM contacts WHERE user_id = ?1 AND id = ?2";
constexpr const char* kBalancesAll =
    "SELECT contact_id, currency, amount FROM balances WHERE user_id = ?1";
constexpr const char* kBalancesContact =
    "SELECT contact_id, currency, amount FROM balances WHERE user_id = ?1 AND contact_id = ?2";
constexpr const char* kListTransactions =
    "SELECT t.id, t.user_id, t.contact_id, t.type, t.direction, t.amount, t.currency, "
    "t.description, t.transaction_date, t.due_date, t.created_at, t.updated_at, t.version, "
    "t.is_deleted FROM transactions t JOIN contacts c ON c.id = t.contact_id "
    "WHERE t.user_id = ?1 AND t.is_deleted = 0 AND c.is_deleted = 0 "
    "ORDER BY t.transaction_date DESC, t.created_at DESC, t.id";
constexpr const char* kGetTransaction =
    "SELECT id, user_id, contact_id, type, direction, amount, currency, description, "
    "transaction_date, due_date, created_at, updated_at, version, is_deleted "
    "FROM transactions WHERE user_id = ?1 AND id = ?2";
constexpr const char* kGetSettings = "SELECT key, value FROM settings WHERE user_id = ?1";
constexpr const char* kListEvents =
    "SELECT seq, event_id, stream, version, user_id, aggregate_type, aggregate_id, event_type, "
    "data, occurred_at FROM events WHERE user_id = ?1 "
    "AND (?2 = '' OR substr(event_type, -length(?2)) = ?2) AND (?3 = '' OR aggregate_type = ?3) "
    "AND (?4 = '' OR instr(lower(data), lower(?4)) > 0) AND (?5 = '' OR occurred_at >= ?5) "
    "AND (?6 = '' OR occurred_at < ?6) ORDER BY seq DESC LIMIT ?7 OFFSET ?8";
constexpr const char* kEventsAfter =
    "SELECT seq, event_id, stream, version, user_id, aggregate_type, aggregate_id, event_type, "
    "data, occurred_at FROM events WHERE user_id = ?1 AND seq > ?2 AND occurred_at > ?3 "
    "ORDER BY seq LIMIT ?4";
constexpr const char* kAllEventsAfter =
    "SELECT seq, event_id, stream, version, user_id, aggregate_type, aggregate_id, event_type, "
    "data, occurred_at FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
constexpr const char* kFindEvent =
    "SELECT seq, event_id, stream, version, user_id, aggregate_type, aggregate_id, event_type, "
    "data, occurred_at FROM events WHERE user_id = ?1 AND event_id = ?2 ORDER BY seq LIMIT 1";
constexpr const char* kContactVersion = "SELECT version FROM contacts WHERE id = ?1";
constexpr const char* kTransactionVersion = "SELECT version FROM transactions WHERE id = ?1";
constexpr const char* kSettingsVersion = "SELECT MAX(version) FROM settings WHERE user_id = ?1";

constexpr const char* kDumpQueries[] = {
    "SELECT * FROM contacts ORDER BY id", "SELECT * FROM transactions ORDER BY id",
    "SELECT * FROM settings ORDER BY user_id, key", "SELECT * FROM events ORDER BY seq",
    "SELECT * FROM balances ORDER BY user_id, contact_id, currency"};

// Page cache per connection (KiB), and the writer's during a rebuild.
constexpr const char* kCacheSize = "PRAGMA cache_size = -65536";
constexpr const char* kRebuildCacheSize = "PRAGMA cache_size = -262144";
// While a rebuild builds its indexes: sort runs written to a temporary file (deleted on
// close) and a 4 MiB page cache, which also sets the size of a sorted run (see
// CreateIndexesLocked).
constexpr const char* kIndexSortTempStore = "PRAGMA temp_store = FILE";
constexpr const char* kIndexSortCacheSize = "PRAGMA cache_size = -4096";
constexpr const char* kRebuildTempStore = "PRAGMA temp_store = MEMORY";
// Page size of a rebuilt file (a new live file keeps SQLite's default).
constexpr const char* kRebuildPageSize = "PRAGMA page_size = 16384";
// Integer primary keys are the rowid (see sql_schema.h).
constexpr std::string_view kIntKey = "INTEGER";

// ---------------------------------------------------------------- connection
class Conn {
 public:
  ~Conn() {
    for (auto& [k, s] : stmts_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
  }
  // kReader: read-only, for queries. kWriter: the live file's writer (WAL, synchronous =
  // NORMAL). kBulk: a rebuild's new file, which nobody else opens until it is complete: no
  // journal, no syncs, one exclusive lock for the whole build, a big page cache.
  enum class Kind { kReader, kWriter, kBulk };
  static Result<std::unique_ptr<Conn>> Open(const std::string& path, Kind kind) {
    auto c = std::make_unique<Conn>();
    c->file_ = path;
    int flags = SQLITE_OPEN_NOMUTEX | (kind == Kind::kReader
                                           ? SQLITE_OPEN_READONLY
                                           : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr) != SQLITE_OK) {
      std::string msg = c->db_ ? sqlite3_errmsg(c->db_) : "out of memory";
      return Status::IOError("cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(c->db_, 10000);
    switch (kind) {
      case Kind::kReader:
        DT_RETURN_IF_ERROR(c->Exec(kCacheSize));
        break;
      case Kind::kWriter:
        DT_RETURN_IF_ERROR(c->Exec("PRAGMA journal_mode = WAL"));
        DT_RETURN_IF_ERROR(c->Exec("PRAGMA synchronous = NORMAL"));
        DT_RETURN_IF_ERROR(c->Exec(kCacheSize));
        break;
      case Kind::kBulk:
        // Set before the file's first page is written. Bigger pages than the default 4 KiB
        // cost the bulk writes less B-tree work per row (fewer pages to fill, split and hand
        // to the OS); kept modest because a live batch writes whole pages into the WAL.
        DT_RETURN_IF_ERROR(c->Exec(kRebuildPageSize));
        DT_RETURN_IF_ERROR(c->Exec("PRAGMA locking_mode = EXCLUSIVE"));
        DT_RETURN_IF_ERROR(c->Exec("PRAGMA journal_mode = OFF"));
        DT_RETURN_IF_ERROR(c->Exec("PRAGMA synchronous = OFF"));
        DT_RETURN_IF_ERROR(c->Exec(kRebuildTempStore));
        // Debian's SQLite is built with SECURE_DELETE: it zeroes each new page's free space
        // and overwrites whatever a split or an upsert moves or frees. A new file has no
        // deleted content to hide, and that was ~4 % of the writer's instructions.
        DT_RETURN_IF_ERROR(c->Exec("PRAGMA secure_delete = OFF"));
        // A helper thread sorts for the indexes built at the end (the reader is idle then;
        // see CreateIndexesLocked).
        DT_RETURN_IF_ERROR(c->Exec("PRAGMA threads = 1"));
        DT_RETURN_IF_ERROR(c->Exec(kRebuildCacheSize));
        break;
    }
    return c;
  }
  const std::string& file() const { return file_; }
  Status Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      return Status::IOError("SQLite: " + msg + " (in: " + sql.substr(0, 80) + ")");
    }
    return Status::Ok();
  }
  // A cached prepared statement, reset and unbound.
  Result<sqlite3_stmt*> Prepare(const std::string& sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
        SQLITE_OK) {
      return Status::IOError(std::string("SQLite prepare: ") + sqlite3_errmsg(db_));
    }
    stmts_.emplace(sql, s);
    return s;
  }
  void Forget() {
    for (auto& [k, s] : stmts_) sqlite3_finalize(s);
    stmts_.clear();
  }
  Status Err(const char* what) {
    return Status::IOError(std::string("SQLite ") + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db() { return db_; }

 private:
  std::string file_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void BindOpt(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
  if (v) BindText(s, i, *v);
  else sqlite3_bind_null(s, i);
}
std::string Col(sqlite3_stmt* s, int i) {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string();
}
std::optional<std::string> ColOpt(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return Col(s, i);
}

Contact ReadContact(sqlite3_stmt* s) {
  Contact c;
  c.id = Col(s, 0);
  c.user_id = Col(s, 1);
  c.name = Col(s, 2);
  c.username = ColOpt(s, 3);
  c.phone = ColOpt(s, 4);
  c.email = ColOpt(s, 5);
  c.notes = ColOpt(s, 6);
  c.created_at = Col(s, 7);
  c.updated_at = Col(s, 8);
  c.version = sqlite3_column_int64(s, 9);
  c.is_deleted = sqlite3_column_int(s, 10) != 0;
  return c;
}

Transaction ReadTransaction(sqlite3_stmt* s) {
  Transaction t;
  t.id = Col(s, 0);
  t.user_id = Col(s, 1);
  t.contact_id = Col(s, 2);
  t.type = Col(s, 3);
  t.direction = Col(s, 4);
  t.amount = sqlite3_column_int64(s, 5);
  t.currency = Col(s, 6);
  t.description = ColOpt(s, 7);
  t.transaction_date = Col(s, 8);
  t.due_date = ColOpt(s, 9);
  t.created_at = Col(s, 10);
  t.updated_at = Col(s, 11);
  t.version = sqlite3_column_int64(s, 12);
  t.is_deleted = sqlite3_column_int(s, 13) != 0;
  return t;
}

EventRow ReadEvent(sqlite3_stmt* s) {
  EventRow e;
  e.seq = sqlite3_column_int64(s, 0);
  e.event_id = Col(s, 1);
  e.stream = Col(s, 2);
  e.version = sqlite3_column_int64(s, 3);
  e.user_id = Col(s, 4);
  e.aggregate_type = Col(s, 5);
  e.aggregate_id = Col(s, 6);
  e.event_type = Col(s, 7);
  e.data = Col(s, 8);
  e.occurred_at = Col(s, 9);
  return e;
}

class SqliteStore final : public ReadModelStore {
 public:
  SqliteStore(std::string path, std::unique_ptr<Conn> writer)
      : path_(std::move(path)), writer_(std::move(writer)) {}
  ~SqliteStore() override {
    {
      std::lock_guard lock(rebuild_mu_);
      DropRebuildLocked();
    }
    ReleaseProjectorLock();
    readers_.clear();
  }

  Status Migrate() {
    std::lock_guard lock(write_mu_);
    return MigrateLocked(*writer_);
  }

  std::string Describe() const override { return "SQLite at " + path_; }

  Result<ProjectionState> LoadState(Target target) override {
    if (target == Target::kRebuild) {
      std::lock_guard lock(rebuild_mu_);
      if (!rebuild_) return ProjectionState{};
      return LoadStateLocked(*rebuild_);
    }
    std::lock_guard lock(write_mu_);
    DT_ASSIGN_OR_RETURN(Conn * w, WriterLocked());
    return LoadStateLocked(*w);
  }

  Status Apply(Target target, const Batch& b, const ProjectionState& state) override {
    if (target == Target::kRebuild) {
      std::lock_guard lock(rebuild_mu_);
      DT_RETURN_IF_ERROR(ApplyBulkLocked(b, state));
      return CommitRebuildLocked();
    }
    std::lock_guard lock(write_mu_);
    DT_ASSIGN_OR_RETURN(Conn * w, WriterLocked());
    DT_RETURN_IF_ERROR(w->Exec("BEGIN"));
    Status s = ApplyLocked(*w, b, state);
    if (!s.ok()) {
      (void)w->Exec("ROLLBACK");
      return s;
    }
    return w->Exec("COMMIT");
  }

  // The new generation's file <path>.g<N>, next to the live one: tables with their primary
  // keys only (the secondary indexes come in FinishBulk), its own projection_state.
  Status BeginRebuild() override {
    std::lock_guard lock(rebuild_mu_);
    DropRebuildLocked();
    ProjectionState live;
    std::string live_file;
    {
      std::lock_guard wlock(write_mu_);
      DT_ASSIGN_OR_RETURN(Conn * w, WriterLocked());
      DT_ASSIGN_OR_RETURN(live, LoadStateLocked(*w));
      live_file = w->file();
    }
    const int64_t gen = live.generation + 1;
    const std::string file = sqlite_files::GenerationFile(path_, gen);
    // Whatever a crashed rebuild left (this one's file included) goes first.
    sqlite_files::RemoveOtherGenerations(path_, live_file);
    sqlite_files::RemoveDatabase(file);
    rebuild_file_ = file;
    rebuild_lock_fd_ = ::open((file + ".building").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (rebuild_lock_fd_ >= 0) (void)::flock(rebuild_lock_fd_, LOCK_EX | LOCK_NB);
    DT_ASSIGN_OR_RETURN(rebuild_, Conn::Open(file, Conn::Kind::kBulk));
    Status s = [&]() -> Status {
      DT_RETURN_IF_ERROR(rebuild_->Exec("BEGIN"));
      for (const char* q : sql::kCreateMeta) DT_RETURN_IF_ERROR(rebuild_->Exec(q));
      DT_RETURN_IF_ERROR(SetSchemaVersion(*rebuild_, sql::kSchemaVersion));
      for (const char* q : sql::kCreateTables) {
        DT_RETURN_IF_ERROR(rebuild_->Exec(sql::Render(q, "", gen, kIntKey)));
      }
      // The secondary indexes, the audit trail's too, are built at the end (FinishBulk), when
      // SQLite's helper thread sorts while the writer thread merges: kept while the rows
      // loaded, the audit trail's index cost the writer thread (the bottleneck) more CPU.
      ProjectionState st;
      st.generation = gen;
      DT_RETURN_IF_ERROR(SaveStateLocked(*rebuild_, st));
      return rebuild_->Exec("COMMIT");
    }();
    if (!s.ok()) DropRebuildLocked();
    return s;
  }

  // Rows go straight into the new file's tables (upserts: a key's later events may come in a
  // later batch), many batches per transaction; without a journal a commit only hands the
  // pages to the OS.
  Status ApplyBulk(const Batch& b, const ProjectionState& state) override {
    std::lock_guard lock(rebuild_mu_);
    DT_RETURN_IF_ERROR(ApplyBulkLocked(b, state));
    if (rebuild_rows_ >= kRowsPerBulkCommit) return CommitRebuildLocked();
    return Status::Ok();
  }

  // Rows folded in memory (about 1 KiB each with their key) and written in key order: each
  // table's B-tree is then filled mostly by appends instead of a read-modify-write of a
  // random page per event.
  size_t BulkFoldRows() const override { return kBulkFoldRows; }

  Status FinishBulk() override {
    std::lock_guard lock(rebuild_mu_);
    if (!rebuild_) return Status::Internal("FinishBulk without BeginRebuild");
    DT_RETURN_IF_ERROR(CommitRebuildLocked());
    DT_RETURN_IF_ERROR(CreateIndexesLocked(*rebuild_));
    sqlite_files::StartWriteBack(rebuild_->file());  // the indexes' pages, during the catch-up
    return Status::Ok();
  }

  // Completes the new file (indexes, WAL mode, fsync), points <path> at it, moves the writer
  // over and removes the old generation's file. Readers move at their next query.
  Status FinishRebuild() override {
    std::lock_guard lock(rebuild_mu_);
    if (!rebuild_) return Status::Internal("FinishRebuild without BeginRebuild");
    DT_RETURN_IF_ERROR(CommitRebuildLocked());
    // A rebuild that skipped the bulk phase still ends with its indexes.
    DT_RETURN_IF_ERROR(CreateIndexesLocked(*rebuild_));
    const std::string file = rebuild_->file();
    rebuild_.reset();  // writes out what is cached and drops the exclusive lock
    // Reopened as the live writer: WAL mode (so readers read while it writes), then synced
    // once, folder entry included, before anything points at it.
    DT_ASSIGN_OR_RETURN(std::unique_ptr<Conn> fresh, Conn::Open(file, Conn::Kind::kWriter));
    DT_RETURN_IF_ERROR(sqlite_files::SyncFile(file));
    DT_RETURN_IF_ERROR(sqlite_files::SyncFolderOf(file));
    std::lock_guard wlock(write_mu_);
    const std::string old_file = writer_->file();
    DT_RETURN_IF_ERROR(sqlite_files::PointLiveAt(path_, file));
    writer_ = std::move(fresh);
    {
      std::lock_guard pool(pool_mu_);
      readers_.clear();
    }
    // Readers still on the old file (here or in another process) keep it open until they
    // look again; unlinking it takes nothing from them.
    if (old_file == path_) {  // a regular file, replaced by the link: its WAL and index
      ::unlink((path_ + "-wal").c_str());
      ::unlink((path_ + "-shm").c_str());
    } else {
      sqlite_files::RemoveDatabase(old_file);
    }
    DropRebuildLocked(/*remove_file=*/false);
    return Status::Ok();
  }

  // In this process, or another process holds the lock of <path>.g<live+1> being built.
  bool RebuildInProgress() override {
    {
      std::lock_guard lock(rebuild_mu_);
      if (rebuild_) return true;
    }
    std::lock_guard lock(write_mu_);
    auto w = WriterLocked();
    if (!w.ok()) return false;
    auto live = LoadStateLocked(**w);
    if (!live.ok()) return false;
    std::string marker = sqlite_files::GenerationFile(path_, live->generation + 1) + ".building";
    int fd = ::open(marker.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
    ::close(fd);
    return held;
  }

  Result<bool> TryAcquireProjectorLock() override {
    std::lock_guard lock(lock_mu_);
    if (lock_fd_ >= 0) return true;
    std::string lock_path = path_ + ".projector.lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError("cannot open " + lock_path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return false;
    }
    lock_fd_ = fd;
    return true;
  }

  void ReleaseProjectorLock() override {
    std::lock_guard lock(lock_mu_);
    if (lock_fd_ >= 0) {
      ::close(lock_fd_);
      lock_fd_ = -1;
    }
  }

  // ---- queries
  Result<std::vector<Contact>> ListContacts(const std::string& user_id) override {
    return Query<std::vector<Contact>>(kListContacts, [&](sqlite3_stmt* s, auto& out) {
      BindText(s, 1, user_id);
      return Rows(s, [&] { out.push_back(ReadContact(s)); });
    });
  }
  Result<std::optional<Contact>> GetContact(const std::string& user_id,
                                            const std::string& id) override {
    return Query<std::optional<Contact>>(kGetContact, [&](sqlite3_stmt* s, auto& out) {
      BindText(s, 1, user_id);
      BindText(s, 2, id);
      return Rows(s, [&] { out = ReadContact(s); });
    });
  }
  Result<std::vector<BalanceRow>> Balances(const std::string& user_id,
                                           const std::string& contact_id) override {
    return Query<std::vector<BalanceRow>>(
        contact_id.empty() ? kBalancesAll : kBalancesContact, [&](sqlite3_stmt* s, auto& out) {
          BindText(s, 1, user_id);
          if (!contact_id.empty()) BindText(s, 2, contact_id);
          return Rows(s, [&] {
            out.push_back(BalanceRow{Col(s, 0), Col(s, 1), sqlite3_column_int64(s, 2)});
          });
        });
  }
  Result<std::vector<Transaction>> ListTransactions(const std::string& user_id) override {
    return Query<std::vector<Transaction>>(kListTransactions, [&](sqlite3_stmt* s, auto& out) {
      BindText(s, 1, user_id);
      return Rows(s, [&] { out.push_back(ReadTransaction(s)); });
    });
  }
  Result<std::optional<Transaction>> GetTransaction(const std::string& user_id,
                                                    const std::string& id) override {
    return Query<std::optional<Transaction>>(kGetTransaction, [&](sqlite3_stmt* s, auto& out) {
      BindText(s, 1, user_id);
      BindText(s, 2, id);
      return Rows(s, [&] { out = ReadTransaction(s); });
    });
  }
  Result<std::map<std::string, std::string>> GetSettings(const std::string& user_id) override {
    return Query<std::map<std::string, std::string>>(kGetSettings, [&](sqlite3_stmt* s, auto& out) {
      BindText(s, 1, user_id);
      return Rows(s, [&] { out[Col(s, 0)] = Col(s, 1); });
    });
  }
  Result<std::vector<EventRow>> ListEvents(const std::string& user_id,
                                           const EventFilter& f) override {
    return Query<std::vector<EventRow>>(kListEvents, [&](sqlite3_stmt* s, auto& out) {
      BindText(s, 1, user_id);
      BindText(s, 2, f.event_type);
      BindText(s, 3, f.aggregate_type);
      BindText(s, 4, f.search);
      BindText(s, 5, f.date_from);
      BindText(s, 6, f.date_to);
      sqlite3_bind_int64(s, 7, static_cast<int64_t>(f.limit));
      sqlite3_bind_int64(s, 8, static_cast<int64_t>(f.offset));
      return Rows(s, [&] { out.push_back(ReadEvent(s)); });
    });
  }
  Result<std::vector<EventRow>> EventsAfter(const std::string& user_id, int64_t after_seq,
                                            const std::string& occurred_after,
                                            size_t limit) override {
    return Query<std::vector<EventRow>>(kEventsAfter, [&](sqlite3_stmt* s, auto& out) {
      BindText(s, 1, user_id);
      sqlite3_bind_int64(s, 2, after_seq);
      BindText(s, 3, occurred_after);
      sqlite3_bind_int64(s, 4, static_cast<int64_t>(limit));
      return Rows(s, [&] { out.push_back(ReadEvent(s)); });
    });
  }
  Result<std::vector<EventRow>> AllEventsAfter(int64_t after_seq, size_t limit) override {
    return Query<std::vector<EventRow>>(kAllEventsAfter, [&](sqlite3_stmt* s, auto& out) {
      sqlite3_bind_int64(s, 1, after_seq);
      sqlite3_bind_int64(s, 2, static_cast<int64_t>(limit));
      return Rows(s, [&] { out.push_back(ReadEvent(s)); });
    });
  }
  Result<std::optional<EventRow>> FindEvent(const std::string& user_id,
                                            const std::string& event_id) override {
    return Query<std::optional<EventRow>>(kFindEvent, [&](sqlite3_stmt* s, auto& out) {
      BindText(s, 1, user_id);
      BindText(s, 2, event_id);
      return Rows(s, [&] { out = ReadEvent(s); });
    });
  }
  Result<std::string> Dump() override {
    std::string out;
    for (const char* q : kDumpQueries) {
      out += std::string("# ") + q + "\n";
      auto r = Query<std::string>(q, [&](sqlite3_stmt* s, std::string& text) {
        return Rows(s, [&] {
          for (int i = 0; i < sqlite3_column_count(s); ++i) {
            if (i) text += '|';
            text += sqlite3_column_type(s, i) == SQLITE_NULL ? std::string("NULL") : Col(s, i);
          }
          text += '\n';
        });
      });
      if (!r.ok()) return r.status();
      out += *r;
    }
    return out;
  }

  Result<int64_t> AppliedVersion(const std::string& stream) override {
    const char* q;
    std::string id;
    if (stream.rfind("contact-", 0) == 0) {
      q = kContactVersion;
      id = stream.substr(8);
    } else if (stream.rfind("transaction-", 0) == 0) {
      q = kTransactionVersion;
      id = stream.substr(12);
    } else if (stream.rfind("settings-", 0) == 0) {
      q = kSettingsVersion;
      id = stream.substr(9);
    } else {
      return int64_t{-1};
    }
    return Query<int64_t>(q, [&](sqlite3_stmt* s, int64_t& out) {
      out = -1;
      BindText(s, 1, id);
      return Rows(s, [&] {
        if (sqlite3_column_type(s, 0) != SQLITE_NULL) out = sqlite3_column_int64(s, 0);
      });
    });
  }

 private:
  // Rows since the rebuild's last commit after which ApplyBulk commits.
  static constexpr size_t kRowsPerBulkCommit = 200000;
  static constexpr size_t kBulkFoldRows = 250000;

  static bool TableExists(Conn& c, const char* name) {
    auto st = c.Prepare(kTableExists);
    if (!st.ok()) return false;
    sqlite3_bind_text(*st, 1, name, -1, SQLITE_STATIC);
    bool exists = sqlite3_step(*st) == SQLITE_ROW && sqlite3_column_int(*st, 0) > 0;
    sqlite3_reset(*st);
    return exists;
  }

  static Status SetSchemaVersion(Conn& c, int version) {
    DT_RETURN_IF_ERROR(c.Exec("DELETE FROM schema_version"));
    DT_ASSIGN_OR_RETURN(sqlite3_stmt * ins, c.Prepare(kInsertSchemaVersion));
    sqlite3_bind_int(ins, 1, version);
    if (sqlite3_step(ins) != SQLITE_DONE) return c.Err("schema version");
    return Status::Ok();
  }

  // Schema of the live file: created when missing, migrated when older.
  static Status MigrateLocked(Conn& c) {
    for (const char* q : sql::kCreateMeta) DT_RETURN_IF_ERROR(c.Exec(q));
    DT_ASSIGN_OR_RETURN(sqlite3_stmt * v, c.Prepare(kSchemaVersion));
    int version = 0;
    if (sqlite3_step(v) == SQLITE_ROW) version = sqlite3_column_int(v, 0);
    sqlite3_reset(v);
    if (version > sql::kSchemaVersion) {
      return Status::InvalidArgument("DATABASE_URL: the database has schema version " +
                                     std::to_string(version) + ", newer than this dt-server (" +
                                     std::to_string(sql::kSchemaVersion) + ")");
    }
    if (version == 0) {
      DT_RETURN_IF_ERROR(c.Exec("BEGIN"));
      if (!TableExists(c, "contacts")) {
        for (const char* q : sql::kCreateTables) {
          DT_RETURN_IF_ERROR(c.Exec(sql::Render(q, "", 0, kIntKey)));
        }
        for (const char* q : sql::kCreateIndexes) {
          DT_RETURN_IF_ERROR(c.Exec(sql::Render(q, "", 0)));
        }
      }
      DT_RETURN_IF_ERROR(SetSchemaVersion(c, sql::kSchemaVersion));
      return c.Exec("COMMIT");
    }
    if (version < 2) {
      DT_RETURN_IF_ERROR(c.Exec("BEGIN"));
      DT_RETURN_IF_ERROR(c.Exec(sql::Render(sql::kCreateBalances, "", 0)));
      DT_RETURN_IF_ERROR(c.Exec(sql::kFillBalances));
      DT_RETURN_IF_ERROR(SetSchemaVersion(c, 2));
      DT_RETURN_IF_ERROR(c.Exec("COMMIT"));
    }
    if (TableExists(c, "contacts_rebuild")) {
      // Left by a rebuild of the version that built beside the live tables in this file.
      DT_RETURN_IF_ERROR(c.Exec("BEGIN"));
      for (const char* t : sql::kTables) {
        DT_RETURN_IF_ERROR(c.Exec(std::string("DROP TABLE IF EXISTS ") + t + "_rebuild"));
      }
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * d, c.Prepare(kDeleteState));
      sqlite3_bind_text(d, 1, sql::StateName(true), -1, SQLITE_STATIC);
      if (sqlite3_step(d) != SQLITE_DONE) return c.Err("delete state");
      DT_RETURN_IF_ERROR(c.Exec("COMMIT"));
      c.Forget();
    }
    return Status::Ok();
  }

  // The writer on the live file, reopened first when <path> points elsewhere now (another
  // process swapped in a rebuild while this one was on standby).
  Result<Conn*> WriterLocked() {
    std::string live = live_.Current();
    if (live != writer_->file()) {
      DT_ASSIGN_OR_RETURN(std::unique_ptr<Conn> fresh, Conn::Open(live, Conn::Kind::kWriter));
      DT_RETURN_IF_ERROR(MigrateLocked(*fresh));
      writer_ = std::move(fresh);
    }
    return writer_.get();
  }

  // Builds the secondary indexes of the rebuild's file (c). SQLite's sorter keeps all keys in
  // one in-memory list sorted by the calling thread when temporary storage is in memory; with
  // a temporary file it cuts them into runs of the page cache's size, and its helper thread
  // (PRAGMA threads) sorts and writes each run while this thread reads the next, leaving
  // this thread only the merge. The writer thread is the rebuild's bottleneck and the reader
  // thread is done by now: in rebuild_bench the writer thread spent ~1 us per event less
  // (4.6-5.1 against 5.4-5.9), the process's CPU per event did not rise. The small cache
  // only lasts for the index builds (the table is read in order, the index pages are written
  // in order); the temporary file is unlinked as soon as it is opened.
  static Status CreateIndexesLocked(Conn& c) {
    DT_RETURN_IF_ERROR(c.Exec(kIndexSortTempStore));
    DT_RETURN_IF_ERROR(c.Exec(kIndexSortCacheSize));
    Status s = c.Exec("BEGIN");
    for (const char* q : sql::kCreateIndexes) {
      if (!s.ok()) break;
      s = c.Exec(sql::Render(q, "", 0));
    }
    if (s.ok()) s = c.Exec("COMMIT");
    else (void)c.Exec("ROLLBACK");
    Status restored = c.Exec(kRebuildTempStore);
    if (restored.ok()) restored = c.Exec(kRebuildCacheSize);
    return s.ok() ? restored : s;
  }

  Status ApplyBulkLocked(const Batch& b, const ProjectionState& state) {
    if (!rebuild_) return Status::Internal("rebuild batch without BeginRebuild");
    if (!rebuild_txn_) {
      DT_RETURN_IF_ERROR(rebuild_->Exec("BEGIN"));
      rebuild_txn_ = true;
    }
    Status s = ApplyLocked(*rebuild_, b, state);
    if (!s.ok()) {
      DropRebuildLocked();  // the file is worthless now: the next rebuild starts over
      return s;
    }
    rebuild_rows_ += b.events.size() + b.contacts.size() + b.transactions.size();
    return Status::Ok();
  }

  Status CommitRebuildLocked() {
    if (!rebuild_) return Status::Internal("no rebuild");
    if (!rebuild_txn_) return Status::Ok();
    Status s = rebuild_->Exec("COMMIT");
    rebuild_txn_ = false;
    rebuild_rows_ = 0;
    if (!s.ok()) {
      DropRebuildLocked();
      return s;
    }
    // The disk writes what the commit handed to the OS while the rebuild goes on, instead of
    // all of it at the fsync before the swap.
    sqlite_files::StartWriteBack(rebuild_->file());
    return s;
  }

  // Ends this process's rebuild: its connection closed, its lock released and, unless the
  // file became the live one, the file removed.
  void DropRebuildLocked(bool remove_file = true) {
    rebuild_.reset();
    if (!rebuild_file_.empty()) {
      if (remove_file) sqlite_files::RemoveDatabase(rebuild_file_);
      ::unlink((rebuild_file_ + ".building").c_str());
      rebuild_file_.clear();
    }
    rebuild_txn_ = false;
    rebuild_rows_ = 0;
    if (rebuild_lock_fd_ >= 0) {
      ::close(rebuild_lock_fd_);
      rebuild_lock_fd_ = -1;
    }
  }

  static Result<ProjectionState> LoadStateLocked(Conn& c) {
    DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, c.Prepare(kLoadState));
    sqlite3_bind_text(s, 1, sql::StateName(false), -1, SQLITE_STATIC);
    ProjectionState st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      st.position = Col(s, 0);
      st.events_applied = sqlite3_column_int64(s, 1);
      st.generation = sqlite3_column_int64(s, 2);
      st.updated_at = Col(s, 3);
    } else if (rc != SQLITE_DONE) {
      return c.Err("load state");
    }
    sqlite3_reset(s);
    return st;
  }

  // Each file keeps the checkpoint of its own rows ("live": a rebuild's file becomes live as
  // a whole).
  static Status SaveStateLocked(Conn& c, const ProjectionState& st) {
    DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, c.Prepare(kSaveState));
    std::string now = FormatRfc3339Micros(NowMicros());
    sqlite3_bind_text(s, 1, sql::StateName(false), -1, SQLITE_STATIC);
    BindText(s, 2, st.position);
    sqlite3_bind_int64(s, 3, st.events_applied);
    sqlite3_bind_int64(s, 4, st.generation);
    BindText(s, 5, now);
    if (sqlite3_step(s) != SQLITE_DONE) return c.Err("save state");
    return Status::Ok();
  }

  static Status ApplyLocked(Conn& conn, const Batch& b, const ProjectionState& state) {
    static const std::string kContactSql = sql::Render(kUpsertContact, "", 0);
    static const std::string kTransactionSql = sql::Render(kUpsertTransaction, "", 0);
    static const std::string kSettingSql = sql::Render(kUpsertSetting, "", 0);
    static const std::string kEventSql = sql::Render(kInsertEvent, "", 0);
    static const std::string kBalanceSql = sql::Render(kAddBalance, "", 0);
    if (!b.contacts.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, conn.Prepare(kContactSql));
      for (const auto& c : b.contacts) {
        sqlite3_reset(s);
        BindText(s, 1, c.id);
        BindText(s, 2, c.user_id);
        BindText(s, 3, c.name);
        BindOpt(s, 4, c.username);
        BindOpt(s, 5, c.phone);
        BindOpt(s, 6, c.email);
        BindOpt(s, 7, c.notes);
        BindText(s, 8, c.created_at);
        BindText(s, 9, c.updated_at);
        sqlite3_bind_int64(s, 10, c.version);
        sqlite3_bind_int(s, 11, c.is_deleted ? 1 : 0);
        if (sqlite3_step(s) != SQLITE_DONE) return conn.Err("upsert contact");
      }
    }
    if (!b.transactions.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          conn.Prepare(kTransactionSql));
      for (const auto& t : b.transactions) {
        sqlite3_reset(s);
        BindText(s, 1, t.id);
        BindText(s, 2, t.user_id);
        BindText(s, 3, t.contact_id);
        BindText(s, 4, t.type);
        BindText(s, 5, t.direction);
        sqlite3_bind_int64(s, 6, t.amount);
        BindText(s, 7, t.currency);
        BindOpt(s, 8, t.description);
        BindText(s, 9, t.transaction_date);
        BindOpt(s, 10, t.due_date);
        BindText(s, 11, t.created_at);
        BindText(s, 12, t.updated_at);
        sqlite3_bind_int64(s, 13, t.version);
        sqlite3_bind_int(s, 14, t.is_deleted ? 1 : 0);
        if (sqlite3_step(s) != SQLITE_DONE) return conn.Err("upsert transaction");
      }
    }
    if (!b.settings.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, conn.Prepare(kSettingSql));
      for (const auto& r : b.settings) {
        sqlite3_reset(s);
        BindText(s, 1, r.user_id);
        BindText(s, 2, r.key);
        BindText(s, 3, r.value);
        sqlite3_bind_int64(s, 4, r.version);
        if (sqlite3_step(s) != SQLITE_DONE) return conn.Err("upsert setting");
      }
    }
    if (!b.events.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, conn.Prepare(kEventSql));
      for (const auto& e : b.events) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, e.seq);
        BindText(s, 2, e.event_id);
        BindText(s, 3, e.stream);
        sqlite3_bind_int64(s, 4, e.version);
        BindText(s, 5, e.user_id);
        BindText(s, 6, e.aggregate_type);
        BindText(s, 7, e.aggregate_id);
        BindText(s, 8, e.event_type);
        BindText(s, 9, e.data);
        BindText(s, 10, e.occurred_at);
        if (sqlite3_step(s) != SQLITE_DONE) return conn.Err("insert event");
      }
    }
    if (!b.balances.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, conn.Prepare(kBalanceSql));
      for (const auto& d : b.balances) {
        sqlite3_reset(s);
        BindText(s, 1, d.user_id);
        BindText(s, 2, d.contact_id);
        BindText(s, 3, d.currency);
        sqlite3_bind_int64(s, 4, d.delta);
        if (sqlite3_step(s) != SQLITE_DONE) return conn.Err("add balance");
      }
    }
    return SaveStateLocked(conn, state);
  }

  // Runs `fill` on a pooled read connection's cached statement, on the live file: a
  // connection to a file a rebuild replaced (here or in another process) is closed, not
  // reused. A query that fails while the live file moves is run once more on the new one.
  template <typename T, typename Fill>
  Result<T> Query(const char* sql, Fill&& fill) {
    std::string live = live_.Current();
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Conn> conn;
      std::vector<std::unique_ptr<Conn>> stale;
      {
        std::lock_guard lock(pool_mu_);
        while (!readers_.empty() && !conn) {
          if (readers_.back()->file() == live) conn = std::move(readers_.back());
          else stale.push_back(std::move(readers_.back()));
          readers_.pop_back();
        }
      }
      stale.clear();
      Status s;
      if (!conn) {
        auto opened = Conn::Open(live, Conn::Kind::kReader);
        if (opened.ok()) conn = std::move(opened).value();
        else s = opened.status();
      }
      T out{};
      if (conn) {
        s = [&]() -> Status {
          DT_ASSIGN_OR_RETURN(sqlite3_stmt * st, conn->Prepare(sql));
          Status r = fill(st, out);
          sqlite3_reset(st);
          sqlite3_clear_bindings(st);
          return r;
        }();
        std::lock_guard lock(pool_mu_);
        if (readers_.size() < 32) readers_.push_back(std::move(conn));
      }
      if (s.ok()) return out;
      std::string now_live = live_.Current();
      if (attempt > 0 || now_live == live) return s;
      live = std::move(now_live);
    }
  }

  template <typename Row>
  static Status Rows(sqlite3_stmt* s, Row&& row) {
    for (;;) {
      int rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        row();
        continue;
      }
      if (rc == SQLITE_DONE) return Status::Ok();
      return Status::IOError(std::string("SQLite query: ") + sqlite3_errmsg(sqlite3_db_handle(s)));
    }
  }

  const std::string path_;
  sqlite_files::LiveFileWatch live_{path_};  // <path>'s link target, followed cheaply
  std::mutex write_mu_;
  std::unique_ptr<Conn> writer_;   // GUARDED_BY(write_mu_): on the live file
  // The rebuild has its own lock (taken before write_mu_ when both are), so live batches go
  // on while it writes.
  std::mutex rebuild_mu_;
  std::unique_ptr<Conn> rebuild_;  // GUARDED_BY(rebuild_mu_): the generation being built
  std::string rebuild_file_;       // GUARDED_BY(rebuild_mu_): its file
  bool rebuild_txn_ = false;       // GUARDED_BY(rebuild_mu_): rebuild_ has a transaction open
  size_t rebuild_rows_ = 0;        // GUARDED_BY(rebuild_mu_): rows in that transaction
  int rebuild_lock_fd_ = -1;       // GUARDED_BY(rebuild_mu_): flock on "<file>.building"
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> readers_;  // GUARDED_BY(pool_mu_)
  std::mutex lock_mu_;
  int lock_fd_ = -1;  // GUARDED_BY(lock_mu_)
};

}  // namespace

Result<std::unique_ptr<ReadModelStore>> OpenSqliteStore(const std::string& path) {
  // No statistics of SQLite's memory use (nothing here reads them, and there is no heap
  // limit): with them every sqlite3_malloc and sqlite3_free takes a process-wide mutex, and
  // Debian's SQLite (no lookaside) allocates for most values; ~6 % of a rebuild's writer
  // instructions. It has to come before SQLite's first use in the process (dt-server opens
  // its store at start-up); once SQLite is initialised the call changes nothing.
  static std::once_flag configured;
  std::call_once(configured, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  auto writer = Conn::Open(sqlite_files::LiveFile(path), Conn::Kind::kWriter);
  if (!writer.ok()) return writer.status();
  auto store = std::make_unique<SqliteStore>(path, std::move(writer).value());
  DT_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<ReadModelStore>(std::move(store));
}

}  // namespace dt::readmodel
