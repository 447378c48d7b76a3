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
// Integer primary keys are the rowid (see sql_schema.h).
constexpr std::string_view kIntKey = "INTEGER";

// ---------------------------------------------------------------- connection
class Conn {
 public:
  ~Conn() {
    for (auto& [k, s] : stmts_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
  }
  static Result<std::unique_ptr<Conn>> Open(const std::string& path, bool read_only) {
    auto c = std::make_unique<Conn>();
    int flags = SQLITE_OPEN_NOMUTEX |
                (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr) != SQLITE_OK) {
      std::string msg = c->db_ ? sqlite3_errmsg(c->db_) : "out of memory";
      return Status::IOError("cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(c->db_, 10000);
    if (!read_only) {
      DT_RETURN_IF_ERROR(c->Exec("PRAGMA journal_mode = WAL"));
      DT_RETURN_IF_ERROR(c->Exec("PRAGMA synchronous = NORMAL"));
    }
    DT_RETURN_IF_ERROR(c->Exec(kCacheSize));
    return c;
  }
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
    ReleaseProjectorLock();
    readers_.clear();
  }

  Status Migrate() {
    std::lock_guard lock(write_mu_);
    for (const char* q : sql::kCreateMeta) DT_RETURN_IF_ERROR(writer_->Exec(q));
    DT_ASSIGN_OR_RETURN(sqlite3_stmt * v, writer_->Prepare(kSchemaVersion));
    int version = 0;
    if (sqlite3_step(v) == SQLITE_ROW) version = sqlite3_column_int(v, 0);
    sqlite3_reset(v);
    if (version > sql::kSchemaVersion) {
      return Status::InvalidArgument("DATABASE_URL: the database has schema version " +
                                     std::to_string(version) + ", newer than this dt-server (" +
                                     std::to_string(sql::kSchemaVersion) + ")");
    }
    if (version == 0) {
      DT_RETURN_IF_ERROR(writer_->Exec("BEGIN"));
      if (!TableExists("contacts")) {
        for (const char* q : sql::kCreateTables) {
          DT_RETURN_IF_ERROR(writer_->Exec(sql::Render(q, "", 0, kIntKey)));
        }
        for (const char* q : sql::kCreateIndexes) {
          DT_RETURN_IF_ERROR(writer_->Exec(sql::Render(q, "", 0)));
        }
      }
      DT_RETURN_IF_ERROR(SetSchemaVersion(sql::kSchemaVersion));
      DT_RETURN_IF_ERROR(writer_->Exec("COMMIT"));
      return Status::Ok();
    }
    if (version < 2) {
      DT_RETURN_IF_ERROR(writer_->Exec("BEGIN"));
      DT_RETURN_IF_ERROR(writer_->Exec(sql::Render(sql::kCreateBalances, "", 0)));
      DT_RETURN_IF_ERROR(writer_->Exec(sql::kFillBalances));
      DT_RETURN_IF_ERROR(SetSchemaVersion(2));
      DT_RETURN_IF_ERROR(writer_->Exec("COMMIT"));
    }
    return Status::Ok();
  }

  Status SetSchemaVersion(int version) {
    DT_RETURN_IF_ERROR(writer_->Exec("DELETE FROM schema_version"));
    DT_ASSIGN_OR_RETURN(sqlite3_stmt * ins, writer_->Prepare(kInsertSchemaVersion));
    sqlite3_bind_int(ins, 1, version);
    if (sqlite3_step(ins) != SQLITE_DONE) return writer_->Err("schema version");
    return Status::Ok();
  }

  std::string Describe() const override { return "SQLite at " + path_; }

  Result<ProjectionState> LoadState(Target target) override {
    std::lock_guard lock(write_mu_);
    return LoadStateLocked(target == Target::kRebuild);
  }

  Status Apply(Target target, const Batch& b, const ProjectionState& state) override {
    std::lock_guard lock(write_mu_);
    DT_RETURN_IF_ERROR(writer_->Exec("BEGIN"));
    Status s = ApplyLocked(b, state, target == Target::kRebuild ? Mode::kRebuild : Mode::kLive);
    if (!s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      return s;
    }
    return writer_->Exec("COMMIT");
  }

  Status BeginRebuild() override {
    std::lock_guard lock(write_mu_);
    DT_ASSIGN_OR_RETURN(ProjectionState live, LoadStateLocked(false));
    int64_t gen = live.generation + 1;
    DT_RETURN_IF_ERROR(writer_->Exec("BEGIN"));
    for (const char* t : sql::kTables) {
      DT_RETURN_IF_ERROR(writer_->Exec(std::string("DROP TABLE IF EXISTS ") + t + "_rebuild"));
    }
    for (const char* t : sql::kStagedTables) {  // left by an older version's rebuild
      DT_RETURN_IF_ERROR(writer_->Exec(std::string("DROP TABLE IF EXISTS ") + t + "_stage"));
    }
    for (const char* q : sql::kCreateTables) {
      DT_RETURN_IF_ERROR(writer_->Exec(sql::Render(q, "_rebuild", gen, kIntKey)));
    }
    ProjectionState st;
    st.generation = gen;
    DT_RETURN_IF_ERROR(SaveStateLocked(true, st));
    DT_RETURN_IF_ERROR(writer_->Exec("COMMIT"));
    writer_->Forget();  // statements on the dropped tables
    // The rebuild tables' primary-key B-trees take random inserts: keep them in memory
    // (pages are only taken as needed; the size goes back at the swap).
    DT_RETURN_IF_ERROR(writer_->Exec(kRebuildCacheSize));
    return Status::Ok();
  }

  // SQLite has no staging: rows are upserted straight into the *_rebuild tables, which have
  // their primary keys only (the secondary indexes come in FinishBulk). With the keys'
  // pages cached that costs less than writing staging rows and folding them with a sort.
  Status ApplyBulk(const Batch& b, const ProjectionState& state) override {
    std::lock_guard lock(write_mu_);
    DT_RETURN_IF_ERROR(writer_->Exec("BEGIN"));
    Status s = ApplyLocked(b, state, Mode::kRebuild);
    if (!s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      return s;
    }
    return writer_->Exec("COMMIT");
  }

  Status FinishBulk() override {
    std::lock_guard lock(write_mu_);
    DT_ASSIGN_OR_RETURN(ProjectionState st, LoadStateLocked(true));
    DT_RETURN_IF_ERROR(writer_->Exec("BEGIN"));
    Status s = [&]() -> Status {
      for (const char* q : sql::kCreateIndexes) {
        DT_RETURN_IF_ERROR(writer_->Exec(sql::Render(q, "_rebuild", st.generation)));
      }
      return Status::Ok();
    }();
    if (!s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      return s;
    }
    DT_RETURN_IF_ERROR(writer_->Exec("COMMIT"));
    writer_->Forget();
    return Status::Ok();
  }

  Status FinishRebuild() override {
    std::lock_guard lock(write_mu_);
    DT_ASSIGN_OR_RETURN(ProjectionState st, LoadStateLocked(true));
    DT_RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
    Status s = [&]() -> Status {
      // A rebuild that skipped the bulk phase still ends with its indexes.
      for (const char* q : sql::kCreateIndexes) {
        DT_RETURN_IF_ERROR(writer_->Exec(sql::Render(q, "_rebuild", st.generation)));
      }
      for (const char* t : sql::kTables) {
        DT_RETURN_IF_ERROR(writer_->Exec(std::string("DROP TABLE ") + t));
        DT_RETURN_IF_ERROR(
            writer_->Exec(std::string("ALTER TABLE ") + t + "_rebuild RENAME TO " + t));
      }
      DT_RETURN_IF_ERROR(SaveStateLocked(false, st));
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * d, writer_->Prepare(kDeleteState));
      sqlite3_bind_text(d, 1, "rebuild", -1, SQLITE_STATIC);
      if (sqlite3_step(d) != SQLITE_DONE) return writer_->Err("delete state");
      return Status::Ok();
    }();
    if (!s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      return s;
    }
    DT_RETURN_IF_ERROR(writer_->Exec("COMMIT"));
    writer_->Forget();
    return writer_->Exec(kCacheSize);
  }

  bool RebuildInProgress() override {
    std::lock_guard lock(write_mu_);
    return TableExists("contacts_rebuild");
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
  bool TableExists(const char* name) {
    auto st = writer_->Prepare(kTableExists);
    if (!st.ok()) return false;
    sqlite3_bind_text(*st, 1, name, -1, SQLITE_STATIC);
    bool exists = sqlite3_step(*st) == SQLITE_ROW && sqlite3_column_int(*st, 0) > 0;
    sqlite3_reset(*st);
    return exists;
  }

  Result<ProjectionState> LoadStateLocked(bool rebuild) {
    DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, writer_->Prepare(kLoadState));
    sqlite3_bind_text(s, 1, sql::StateName(rebuild), -1, SQLITE_STATIC);
    ProjectionState st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      st.position = Col(s, 0);
      st.events_applied = sqlite3_column_int64(s, 1);
      st.generation = sqlite3_column_int64(s, 2);
      st.updated_at = Col(s, 3);
    } else if (rc != SQLITE_DONE) {
      return writer_->Err("load state");
    }
    sqlite3_reset(s);
    return st;
  }

  Status SaveStateLocked(bool rebuild, const ProjectionState& st) {
    DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, writer_->Prepare(kSaveState));
    std::string now = FormatRfc3339Micros(NowMicros());
    sqlite3_bind_text(s, 1, sql::StateName(rebuild), -1, SQLITE_STATIC);
    BindText(s, 2, st.position);
    sqlite3_bind_int64(s, 3, st.events_applied);
    sqlite3_bind_int64(s, 4, st.generation);
    BindText(s, 5, now);
    if (sqlite3_step(s) != SQLITE_DONE) return writer_->Err("save state");
    return Status::Ok();
  }

  enum class Mode { kLive, kRebuild };

  // Row statements per mode: upserts into the live or the rebuild tables.
  std::string RowSql(const char* tmpl, Mode mode) {
    return sql::Render(tmpl, mode == Mode::kRebuild ? "_rebuild" : "", 0);
  }

  Status ApplyLocked(const Batch& b, const ProjectionState& state, Mode mode) {
    const bool rebuild = mode == Mode::kRebuild;
    const std::string sfx = rebuild ? "_rebuild" : "";
    if (!b.contacts.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, writer_->Prepare(RowSql(kUpsertContact, mode)));
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
        if (sqlite3_step(s) != SQLITE_DONE) return writer_->Err("upsert contact");
      }
    }
    if (!b.transactions.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          writer_->Prepare(RowSql(kUpsertTransaction, mode)));
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
        if (sqlite3_step(s) != SQLITE_DONE) return writer_->Err("upsert transaction");
      }
    }
    if (!b.settings.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, writer_->Prepare(RowSql(kUpsertSetting, mode)));
      for (const auto& r : b.settings) {
        sqlite3_reset(s);
        BindText(s, 1, r.user_id);
        BindText(s, 2, r.key);
        BindText(s, 3, r.value);
        sqlite3_bind_int64(s, 4, r.version);
        if (sqlite3_step(s) != SQLITE_DONE) return writer_->Err("upsert setting");
      }
    }
    if (!b.events.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, writer_->Prepare(sql::Render(kInsertEvent, sfx, 0)));
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
        if (sqlite3_step(s) != SQLITE_DONE) return writer_->Err("insert event");
      }
    }
    if (!b.balances.empty()) {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * s, writer_->Prepare(RowSql(kAddBalance, mode)));
      for (const auto& d : b.balances) {
        sqlite3_reset(s);
        BindText(s, 1, d.user_id);
        BindText(s, 2, d.contact_id);
        BindText(s, 3, d.currency);
        sqlite3_bind_int64(s, 4, d.delta);
        if (sqlite3_step(s) != SQLITE_DONE) return writer_->Err("add balance");
      }
    }
    return SaveStateLocked(rebuild, state);
  }

  // Runs `fill` on a pooled read connection's cached statement.
  template <typename T, typename Fill>
  Result<T> Query(const char* sql, Fill&& fill) {
    std::unique_ptr<Conn> conn;
    {
      std::lock_guard lock(pool_mu_);
      if (!readers_.empty()) {
        conn = std::move(readers_.back());
        readers_.pop_back();
      }
    }
    if (!conn) {
      auto opened = Conn::Open(path_, true);
      if (!opened.ok()) return opened.status();
      conn = std::move(opened).value();
    }
    T out{};
    Status s = [&]() -> Status {
      DT_ASSIGN_OR_RETURN(sqlite3_stmt * st, conn->Prepare(sql));
      Status r = fill(st, out);
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
      return r;
    }();
    {
      std::lock_guard lock(pool_mu_);
      if (readers_.size() < 32) readers_.push_back(std::move(conn));
    }
    if (!s.ok()) return s;
    return out;
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
  std::mutex write_mu_;
  std::unique_ptr<Conn> writer_;  // GUARDED_BY(write_mu_)
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> readers_;  // GUARDED_BY(pool_mu_)
  std::mutex lock_mu_;
  int lock_fd_ = -1;  // GUARDED_BY(lock_mu_)
};

}  // namespace

Result<std::unique_ptr<ReadModelStore>> OpenSqliteStore(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  auto writer = Conn::Open(path, false);
  if (!writer.ok()) return writer.status();
  auto store = std::make_unique<SqliteStore>(path, std::move(writer).value());
  DT_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<ReadModelStore>(std::move(store));
}

}  // namespace dt::readmodel
