#include "readmodel/pg_store.h"

#include <libpq-fe.h>

#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "client/time_util.h"
#include "readmodel/sql_schema.h"

namespace dt::readmodel {
namespace {

using tracker::Contact;
using tracker::Transaction;

// ---------------------------------------------------------------- named queries
constexpr const char* kUpsertContacts =
    "INSERT INTO contacts{s} (id, user_id, name, username, phone, email, notes, created_at, "
    "updated_at, version, is_deleted) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
    "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], "
    "$11::int[]) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, "
    "name = excluded.name, username = excluded.username, phone = excluded.phone, "
    "email = excluded.email, notes = excluded.notes, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, version = excluded.version, "
    "is_deleted = excluded.is_deleted WHERE excluded.version > contacts{s}.version";
constexpr const char* kUpsertTransactions =
    "INSERT INTO transactions{s} (id, user_id, contact_id, type, direction, amount, currency, "
    "description, transaction_date, due_date, created_at, updated_at, version, is_deleted) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
    "$13::bigint[], $14::int[]) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, "
    "contact_id = excluded.contact_id, type = excluded.type, direction = excluded.direction, "
    "amount = excluded.amount, currency = excluded.currency, "
    "description = excluded.description, transaction_date = excluded.transaction_date, "
    "due_date = excluded.due_date, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, version = excluded.version, "
    "is_deleted = excluded.is_deleted WHERE excluded.version > transactions{s}.version";
constexpr const char* kUpsertSettings =
    "INSERT INTO settings{s} (user_id, key, value, version) SELECT * FROM unnest($1::text[], "
    "$2::text[], $3::text[], $4::bigint[]) ON CONFLICT (user_id, key) DO UPDATE SET "
    "value = excluded.value, version = excluded.version "
    "WHERE excluded.version > settings{s}.version";
constexpr const char* kInsertEvents =
    "INSERT INTO events{s} (seq, event_id, stream, version, user_id, aggregate_type, "
    "aggregate_id, event_type, data, occurred_at) SELECT * FROM unnest($1::bigint[], "
    "$2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::text[], $10::text[])";
constexpr const char* kAddBalances =
    "INSERT INTO balances{s} (user_id, contact_id, currency, amount) SELECT * FROM "
    "unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) "
    "ON CONFLICT (user_id, contact_id, currency) DO UPDATE SET "
    "amount = balances{s}.amount + excluded.amount";
// The bulk phase writes each contact, transaction and setting the first time its key comes
// straight into the *_rebuild table, created without its primary key (built once, sorted, in
// FinishBulk); a key that comes again in a later batch goes to a staging table, which
// FinishBulk upserts over them (newest version wins). Balance deltas are summed in memory and
// written once. So no table is written twice and nothing is folded but the few repeats.
struct KeyedTable {
  const char* name;
  const char* key;
};
constexpr KeyedTable kKeyedTables[] = {
    {"contacts", "id"}, {"transactions", "id"}, {"settings", "user_id, key"}};
constexpr const char* kAddPrimaryKey =
    "ALTER TABLE {t}_rebuild ADD CONSTRAINT {t}_pkey_g{g} PRIMARY KEY ({k})";
constexpr const char* kFoldStaged =
    "INSERT INTO {t}_rebuild SELECT DISTINCT ON ({k}) * FROM {t}_stage ORDER BY {k}, version DESC";
// The bulk phase of a rebuild (see CopyRows): staging tables and the rebuild's events.
// FREEZE: the bulk phase is one transaction that truncated these tables first (see
// BeginRebuild), so PostgreSQL writes the rows already frozen and their pages all-visible.
// Otherwise the first scan after the load (the key's build) sets a hint bit in every row and
// writes each page out once more, and a vacuum later writes each page a third time to mark
// it all-visible: the table's size in extra writes and CPU, twice.
constexpr const char* kCopyContacts =
    "COPY contacts{s} (id, user_id, name, username, phone, email, notes, created_at, "
    "updated_at, version, is_deleted) FROM STDIN (FORMAT binary, FREEZE)";
constexpr const char* kCopyTransactions =
    "COPY transactions{s} (id, user_id, contact_id, type, direction, amount, currency, "
    "description, transaction_date, due_date, created_at, updated_at, version, is_deleted) "
    "FROM STDIN (FORMAT binary, FREEZE)";
constexpr const char* kCopySettings =
    "COPY settings{s} (user_id, key, value, version) FROM STDIN (FORMAT binary, FREEZE)";
constexpr const char* kCopyEvents =
    "COPY events_rebuild (seq, event_id, stream, version, user_id, aggregate_type, "
    "aggregate_id, event_type, data, occurred_at) FROM STDIN (FORMAT binary, FREEZE)";
constexpr const char* kCopyBalances =
    "COPY balances_rebuild (user_id, contact_id, currency, amount) FROM STDIN (FORMAT binary, "
    "FREEZE)";
// Statistics for the planner once the rebuild's tables are filled: of the columns the queries
// filter, join or sort on (computing them for every column, events.data above all, costs more
// than it tells the planner).
constexpr const char* kAnalyzeEvents =
    "ANALYZE events_rebuild (seq, event_id, user_id, aggregate_type, event_type, occurred_at)";
constexpr const char* kAnalyzeKeyed[] = {
    "ANALYZE contacts_rebuild (id, user_id, name, is_deleted)",
    "ANALYZE transactions_rebuild (id, user_id, contact_id, transaction_date, is_deleted)",
    "ANALYZE settings_rebuild (user_id, key)", "ANALYZE balances_rebuild (user_id, contact_id)"};
// The events' and the balances' keys, like the keyed tables', are built once the bulk phase is
// over (a sorted build instead of an index insert per row).
constexpr const char* kAddEventsKey =
    "ALTER TABLE events_rebuild ADD CONSTRAINT events_pkey_g{g} PRIMARY KEY (seq)";
constexpr const char* kAddBalancesKey =
    "ALTER TABLE balances_rebuild ADD CONSTRAINT balances_pkey_g{g} "
    "PRIMARY KEY (user_id, contact_id, currency)";
// Settings of the sessions that complete the tables: memory to sort the keys of an index in
// (the default 64MB spills the events' to disk); no parallel workers, as the sessions
// themselves already run side by side.
constexpr const char* kFinishSettings[] = {
    "SET LOCAL synchronous_commit = off", "SET LOCAL maintenance_work_mem = '256MB'",
    "SET LOCAL max_parallel_maintenance_workers = 0"};
constexpr const char* kSaveState =
    "INSERT INTO projection_state (name, position, events_applied, generation, updated_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "events_applied = excluded.events_applied, generation = excluded.generation, "
    "updated_at = excluded.updated_at";
// A live batch (and a rebuild's catch-up batch) is one statement: the row upserts as
// data-modifying WITH queries of the checkpoint's upsert, so it is atomic without BEGIN and
// COMMIT and costs one round trip; prepared once per session, so not parsed and planned per
// batch. A table without rows in the batch gets empty arrays (unnest gives no row).
// Parameters: each statement's own, numbered on after the ones before (see ApplySql).
constexpr const char* kApplyParts[] = {kUpsertContacts, kUpsertTransactions, kUpsertSettings,
                                       kInsertEvents, kAddBalances};
constexpr int kApplyPartParams[] = {11, 14, 4, 10, 4};
constexpr int kSaveStateParams = 5;
constexpr const char* kLoadState =
    "SELECT position, events_applied, generation, updated_at FROM projection_state "
    "WHERE name = $1";
constexpr const char* kDeleteState = "DELETE FROM projection_state WHERE name = $1";
constexpr const char* kSchemaVersion = "SELECT max(version) FROM schema_version";
constexpr const char* kInsertSchemaVersion = "INSERT INTO schema_version (version) VALUES ($1)";
constexpr const char* kTableExists = "SELECT to_regclass($1) IS NOT NULL";
// Advisory locks are per database: the second key is the schema, so read models kept in
// different schemas of one database each elect their own projector.
constexpr const char* kMigrationLock =
    "SELECT pg_advisory_xact_lock($1::int4, hashtext(current_schema()))";
constexpr const char* kTryProjectorLock =
    "SELECT pg_try_advisory_lock($1::int4, hashtext(current_schema()))";
constexpr const char* kUnlockProjector =
    "SELECT pg_advisory_unlock($1::int4, hashtext(current_schema()))";

constexpr const char* kListContacts =
    "SELECT id, user_id, name, username, phone, email, notes, created_at, updated_at, version, "
    "is_deleted FROM contacts WHERE user_id = $1 AND is_deleted = 0 ORDER BY lower(name), id";
constexpr const char* kGetContact =
    "SELECT id, user_id, name, username, phone, email, notes, created_at, updated_at, version, "
    "is_deleted FROM contacts WHERE user_id = $1 AND id = $2";
constexpr const char* kBalancesAll =
    "SELECT contact_id, currency, amount FROM balances WHERE user_id = $1";
constexpr const char* kBalancesContact =
    "SELECT contact_id, currency, amount FROM balances WHERE user_id = $1 AND contact_id = $2";
constexpr const char* kListTransactions =
    "SELECT t.id, t.user_id, t.contact_id, t.type, t.direction, t.amount, t.currency, "
    "t.description, t.transaction_date, t.due_date, t.created_at, t.updated_at, t.version, "
    "t.is_deleted FROM transactions t JOIN contacts c ON c.id = t.contact_id "
    "WHERE t.user_id = $1 AND t.is_deleted = 0 AND c.is_deleted = 0 "
    "ORDER BY t.transaction_date DESC, t.created_at DESC, t.id";
constexpr const char* kGetTransaction =
    "SELECT id, user_id, contact_id, type, direction, amount, currency, description, "
    "transaction_date, due_date, created_at, updated_at, version, is_deleted "
    "FROM transactions WHERE user_id = $1 AND id = $2";
constexpr const char* kGetSettings = "SELECT key, value FROM settings WHERE user_id = $1";
constexpr const char* kListEvents =
    "SELECT seq, event_id, stream, version, user_id, aggregate_type, aggregate_id, event_type, "
    "data, occurred_at FROM events WHERE user_id = $1 "
    "AND ($2 = '' OR right(event_type, length($2)) = $2) AND ($3 = '' OR aggregate_type = $3) "
    "AND ($4 = '' OR strpos(lower(data), lower($4)) > 0) AND ($5 = '' OR occurred_at >= $5) "
    "AND ($6 = '' OR occurred_at < $6) ORDER BY seq DESC LIMIT $7 OFFSET $8";
constexpr const char* kEventsAfter =
    "SELECT seq, event_id, stream, version, user_id, aggregate_type, aggregate_id, event_type, "
    "data, occurred_at FROM events WHERE user_id = $1 AND seq > $2 AND occurred_at > $3 "
    "ORDER BY seq LIMIT $4";
constexpr const char* kAllEventsAfter =
    "SELECT seq, event_id, stream, version, user_id, aggregate_type, aggregate_id, event_type, "
    "data, occurred_at FROM events WHERE seq > $1 ORDER BY seq LIMIT $2";
constexpr const char* kFindEvent =
    "SELECT seq, event_id, stream, version, user_id, aggregate_type, aggregate_id, event_type, "
    "data, occurred_at FROM events WHERE user_id = $1 AND event_id = $2 ORDER BY seq LIMIT 1";
constexpr const char* kContactVersion = "SELECT version FROM contacts WHERE id = $1";
constexpr const char* kTransactionVersion = "SELECT version FROM transactions WHERE id = $1";
constexpr const char* kSettingsVersion = "SELECT MAX(version) FROM settings WHERE user_id = $1";

constexpr const char* kDumpQueries[] = {
    "SELECT * FROM contacts ORDER BY id", "SELECT * FROM transactions ORDER BY id",
    "SELECT * FROM settings ORDER BY user_id, key", "SELECT * FROM events ORDER BY seq",
    "SELECT * FROM balances ORDER BY user_id, contact_id, currency"};

// ---------------------------------------------------------------- helpers
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, ConnDeleter>;

// Parameters as text; std::nullopt = NULL.
using Params = std::vector<std::optional<std::string>>;

Result<PgResult> Exec(PGconn* c, const std::string& sql, const Params& params = {}) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PgResult r(PQexecParams(c, sql.c_str(), static_cast<int>(params.size()), nullptr,
                          values.data(), nullptr, nullptr, 0));
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string msg = PQerrorMessage(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (PQstatus(c) != CONNECTION_OK) return Status::Unavailable("PostgreSQL: " + msg);
    return Status::IOError("PostgreSQL: " + msg);
  }
  return r;
}

// Runs the statement prepared as `name` (preparing it from `sql` first unless `*prepared`).
// `binary` (when given, one flag per parameter): the parameters sent in binary format.
Result<PgResult> ExecPrepared(PGconn* c, const char* name, const std::string& sql,
                              bool* prepared, const Params& params,
                              const std::vector<int>* binary = nullptr) {
  auto failed = [&](PGresult* r) -> std::optional<Status> {
    auto st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return std::nullopt;
    std::string msg = PQerrorMessage(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (PQstatus(c) != CONNECTION_OK) return Status::Unavailable("PostgreSQL: " + msg);
    return Status::IOError("PostgreSQL: " + msg);
  };
  if (!*prepared) {
    PgResult p(PQprepare(c, name, sql.c_str(), static_cast<int>(params.size()), nullptr));
    if (auto s = failed(p.get())) return *s;
    *prepared = true;
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(params.size());
  lengths.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p ? p->c_str() : nullptr);
    lengths.push_back(p ? static_cast<int>(p->size()) : 0);
  }
  PgResult r(PQexecPrepared(c, name, static_cast<int>(params.size()), values.data(),
                            binary ? lengths.data() : nullptr, binary ? binary->data() : nullptr,
                            0));
  if (auto s = failed(r.get())) return *s;
  return r;
}

std::string Val(PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}
std::optional<std::string> ValOpt(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return Val(r, row, col);
}
int64_t ValInt(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

// `v` appended to `out` big-endian (network order), as PostgreSQL's binary formats want it.
template <typename U>
void AppendBigEndian(std::string& out, U v) {
  char b[sizeof(U)];
  for (size_t i = 0; i < sizeof(U); ++i) {
    b[i] = static_cast<char>(v >> (8 * (sizeof(U) - 1 - i)));
  }
  out.append(b, sizeof b);
}

// A one-dimensional PostgreSQL array in binary format (what array_recv reads), built element
// by element: a header (dimensions, flags, element type, then the length and lower bound of
// the dimension), then per element its length (-1 for NULL) and bytes, integers big-endian.
// A live batch sends its rows this way: PostgreSQL copies each element instead of scanning
// a text literal for quotes, escapes and separators (array_in was an eighth of the writer
// session's CPU), and nothing needs escaping here either. The element type must be the one
// the statement casts the parameter to: kText, kInt8 (BIGINT, Add(int64_t)) or kInt4
// (INTEGER, AddInt4).
class BinaryArray {
 public:
  static constexpr uint32_t kText = 25, kInt8 = 20, kInt4 = 23;  // pg_type OIDs
  BinaryArray(uint32_t element_type) : type_(element_type) {  // implicit: listed by type
    out_.resize(kHeader);  // written by Take, once the number of elements is known
  }
  void Add(std::string_view v) {
    Put(static_cast<uint32_t>(v.size()));
    out_.append(v);
    ++n_;
  }
  void Add(const std::string& v) { Add(std::string_view(v)); }
  void Add(const std::optional<std::string>& v) {
    if (v) return Add(std::string_view(*v));
    Put(static_cast<uint32_t>(-1));
    ++n_;
  }
  void Add(int64_t v) {
    Put(uint32_t{8});
    Put(static_cast<uint64_t>(v));
    ++n_;
  }
  void AddInt4(int32_t v) {
    Put(uint32_t{4});
    Put(static_cast<uint32_t>(v));
    ++n_;
  }
  // The whole array; nothing may be added after.
  std::string Take() {
    // ndim, flags (0: PostgreSQL finds the NULLs itself), element type; then the dimension's
    // length and lower bound. An empty array has no dimension.
    uint32_t head[5] = {n_ ? 1u : 0u, 0, type_, n_, 1};
    char* at = out_.data();
    for (uint32_t v : head) {
      for (int i = 0; i < 4; ++i) *at++ = static_cast<char>(v >> (8 * (3 - i)));
    }
    if (!n_) out_.resize(12);
    return std::move(out_);
  }

 private:
  static constexpr size_t kHeader = 20;
  template <typename U>
  void Put(U v) {
    AppendBigEndian(out_, v);
  }
  uint32_t type_;
  uint32_t n_ = 0;
  std::string out_;
};

// Rows in COPY's binary format: a header, then per row its number of columns and per column
// its length and bytes (integers big-endian, -1 for NULL), then a trailer. The bulk phase of a
// rebuild sends its rows this way (COPY is PostgreSQL's cheapest way in: no SQL per row, no
// array literals; and in binary neither side scans the data for escapes and delimiters).
// The integers must have the columns' types: Add(int64_t) for BIGINT, AddInt4 for INTEGER.
class CopyRows {
 public:
  void BeginRow(int16_t columns) {
    if (out_.empty()) out_.append(kHeader, sizeof kHeader);
    Put(static_cast<uint16_t>(columns));
  }
  void Add(std::string_view v) {
    Put(static_cast<uint32_t>(v.size()));
    out_.append(v);
  }
  void Add(const std::string& v) { Add(std::string_view(v)); }
  void Add(const std::optional<std::string>& v) {
    if (v) {
      Add(std::string_view(*v));
    } else {
      Put(static_cast<uint32_t>(-1));
    }
  }
  void Add(int64_t v) {
    Put(uint32_t{8});
    Put(static_cast<uint64_t>(v));
  }
  void AddInt4(int32_t v) {
    Put(uint32_t{4});
    Put(static_cast<uint32_t>(v));
  }
  bool empty() const { return out_.empty(); }
  // The whole input of the COPY; no row may be added after.
  const std::string& Finish() {
    if (!out_.empty()) Put(static_cast<uint16_t>(-1));
    return out_;
  }

 private:
  // "PGCOPY\n\377\r\n\0", flags 0, no header extension.
  static constexpr char kHeader[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n',
                                       '\0', 0, 0, 0, 0, 0, 0, 0, 0};
  template <typename U>
  void Put(U v) {
    AppendBigEndian(out_, v);
  }
  std::string out_;
};

// `sql` with each parameter $n renumbered $(n + offset).
std::string ShiftParams(std::string_view sql, int offset) {
  std::string out;
  out.reserve(sql.size() + 16);
  for (size_t i = 0; i < sql.size(); ++i) {
    out += sql[i];
    if (sql[i] != '$' || i + 1 >= sql.size() || sql[i + 1] < '0' || sql[i + 1] > '9') continue;
    int n = 0;
    while (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') n = n * 10 + (sql[++i] - '0');
    out += std::to_string(n + offset);
  }
  return out;
}

// The one statement of a batch (see kApplyParts) into the live or the rebuild tables.
std::string ApplySql(std::string_view suffix) {
  std::string sql = "WITH ";
  int offset = 0;
  for (size_t i = 0; i < std::size(kApplyParts); ++i) {
    if (i) sql += ", ";
    sql += 'w';
    sql += std::to_string(i);
    sql += " AS (";
    sql += ShiftParams(sql::Render(kApplyParts[i], suffix, 0), offset);
    sql += ")";
    offset += kApplyPartParams[i];
  }
  sql += " ";
  sql += ShiftParams(kSaveState, offset);
  return sql;
}
constexpr int kApplyParams = 11 + 14 + 4 + 10 + 4 + kSaveStateParams;

// Replaces {t} (table), {k} (key columns) and {g} (generation).
std::string Fill(std::string_view tmpl, const KeyedTable& t, int64_t generation) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{' && i + 2 < tmpl.size() && tmpl[i + 2] == '}') {
      char f = tmpl[i + 1];
      if (f == 't' || f == 'k' || f == 'g') {
        out += f == 't' ? std::string(t.name) : f == 'k' ? std::string(t.key)
                                                          : std::to_string(generation);
        i += 2;
        continue;
      }
    }
    out += tmpl[i];
  }
  return out;
}

// A CREATE TABLE of sql_schema.h without its primary key (inline or as a table constraint).
std::string WithoutPrimaryKey(std::string create) {
  auto at = create.find(", PRIMARY KEY (");
  if (at != std::string::npos) {
    create.erase(at, create.find(')', at) + 1 - at);
  } else if ((at = create.find(" PRIMARY KEY")) != std::string::npos) {
    create.erase(at, std::string_view(" PRIMARY KEY").size());
  }
  return create;
}

// The ON CONFLICT clause of an upsert above (from " ON CONFLICT" to the end), for {s} = "_rebuild".
std::string ConflictClause(const char* upsert) {
  std::string q = sql::Render(upsert, "_rebuild", 0);
  return q.substr(q.find(" ON CONFLICT"));
}

// Runs `copy_sql` (COPY ... FROM STDIN) with `rows` as its input.
Status CopyIn(PGconn* c, const std::string& copy_sql, const std::string& rows) {
  auto fail = [&](const char* what) -> Status {
    std::string msg = PQerrorMessage(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (PQstatus(c) != CONNECTION_OK) return Status::Unavailable("PostgreSQL: " + msg);
    return Status::IOError(std::string("PostgreSQL ") + what + ": " + msg);
  };
  {
    PgResult r(PQexec(c, copy_sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_IN) return fail("COPY");
  }
  constexpr size_t kChunk = 1 << 20;
  bool sent = true;
  for (size_t at = 0; at < rows.size() && sent; at += kChunk) {
    size_t n = std::min(kChunk, rows.size() - at);
    sent = PQputCopyData(c, rows.data() + at, static_cast<int>(n)) == 1;
  }
  if (PQputCopyEnd(c, sent ? nullptr : "client failed to send the rows") != 1) {
    return fail("COPY end");
  }
  Status status = Status::Ok();
  while (PGresult* raw = PQgetResult(c)) {
    PgResult r(raw);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && status.ok()) status = fail("COPY");
  }
  if (status.ok() && !sent) return fail("COPY data");
  return status;
}

Contact ReadContact(PGresult* r, int i) {
  Contact c;
  c.id = Val(r, i, 0);
  c.user_id = Val(r, i, 1);
  c.name = Val(r, i, 2);
  c.username = ValOpt(r, i, 3);
  c.phone = ValOpt(r, i, 4);
  c.email = ValOpt(r, i, 5);
  c.notes = ValOpt(r, i, 6);
  c.created_at = Val(r, i, 7);
  c.updated_at = Val(r, i, 8);
  c.version = ValInt(r, i, 9);
  c.is_deleted = ValInt(r, i, 10) != 0;
  return c;
}

Transaction ReadTransaction(PGresult* r, int i) {
  Transaction t;
  t.id = Val(r, i, 0);
  t.user_id = Val(r, i, 1);
  t.contact_id = Val(r, i, 2);
  t.type = Val(r, i, 3);
  t.direction = Val(r, i, 4);
  t.amount = ValInt(r, i, 5);
  t.currency = Val(r, i, 6);
  t.description = ValOpt(r, i, 7);
  t.transaction_date = Val(r, i, 8);
  t.due_date = ValOpt(r, i, 9);
  t.created_at = Val(r, i, 10);
  t.updated_at = Val(r, i, 11);
  t.version = ValInt(r, i, 12);
  t.is_deleted = ValInt(r, i, 13) != 0;
  return t;
}

EventRow ReadEvent(PGresult* r, int i) {
  EventRow e;
  e.seq = ValInt(r, i, 0);
  e.event_id = Val(r, i, 1);
  e.stream = Val(r, i, 2);
  e.version = ValInt(r, i, 3);
  e.user_id = Val(r, i, 4);
  e.aggregate_type = Val(r, i, 5);
  e.aggregate_id = Val(r, i, 6);
  e.event_type = Val(r, i, 7);
  e.data = Val(r, i, 8);
  e.occurred_at = Val(r, i, 9);
  return e;
}

std::string Redact(const std::string& url) {
  // postgresql://user:password@host... -> postgresql://user:***@host...
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

class PgStore final : public ReadModelStore {
 public:
  explicit PgStore(std::string url) : url_(std::move(url)) {}
  ~PgStore() override {
    {
      std::lock_guard bulk_lock(bulk_mu_);
      ResetBulk();
    }
    ReleaseProjectorLock();
  }

  Result<PgConn> Connect() {
    PgConn c(PQconnectdb(url_.c_str()));
    if (!c || PQstatus(c.get()) != CONNECTION_OK) {
      std::string msg = c ? PQerrorMessage(c.get()) : "out of memory";
      while (!msg.empty() && msg.back() == '\n') msg.pop_back();
      return Status::Unavailable("cannot connect to PostgreSQL at " + Redact(url_) + ": " + msg);
    }
    PgResult r(PQexec(c.get(), "SET client_min_messages = warning"));
    return c;
  }

  Status Migrate() {
    std::lock_guard lock(write_mu_);
    DT_RETURN_IF_ERROR(EnsureWriter());
    PGconn* c = writer_.get();
    DT_RETURN_IF_ERROR(Exec(c, "BEGIN").status());
    Status s = [&]() -> Status {
      DT_RETURN_IF_ERROR(Exec(c, kMigrationLock, {std::to_string(kMigrationLockClass)}).status());
      for (const char* q : sql::kCreateMeta) DT_RETURN_IF_ERROR(Exec(c, q).status());
      DT_ASSIGN_OR_RETURN(PgResult v, Exec(c, kSchemaVersion));
      int64_t version = ValInt(v.get(), 0, 0);
      if (version > sql::kSchemaVersion) {
        return Status::InvalidArgument("DATABASE_URL: the database has schema version " +
                                       std::to_string(version) + ", newer than this dt-server");
      }
      if (version == 0) {
        DT_ASSIGN_OR_RETURN(PgResult e, Exec(c, kTableExists, {std::string("contacts")}));
        if (Val(e.get(), 0, 0) != "t") {
          for (const char* q : sql::kCreateTables) {
            DT_RETURN_IF_ERROR(Exec(c, sql::Render(q, "", 0)).status());
          }
          for (const char* q : sql::kCreateIndexes) {
            DT_RETURN_IF_ERROR(Exec(c, sql::Render(q, "", 0)).status());
          }
        }
        DT_RETURN_IF_ERROR(
            Exec(c, kInsertSchemaVersion, {std::to_string(sql::kSchemaVersion)}).status());
        return Status::Ok();
      }
      if (version < 2) {
        DT_RETURN_IF_ERROR(Exec(c, sql::Render(sql::kCreateBalances, "", 0)).status());
        DT_RETURN_IF_ERROR(Exec(c, sql::kFillBalances).status());
        DT_RETURN_IF_ERROR(Exec(c, kInsertSchemaVersion, {std::string("2")}).status());
      }
      return Status::Ok();
    }();
    if (!s.ok()) {
      (void)Exec(c, "ROLLBACK");
      return s;
    }
    return Exec(c, "COMMIT").status();
  }

  std::string Describe() const override { return "PostgreSQL at " + Redact(url_); }

  Result<ProjectionState> LoadState(Target target) override {
    std::lock_guard lock(write_mu_);
    DT_RETURN_IF_ERROR(EnsureWriter());
    return LoadStateLocked(target == Target::kRebuild);
  }

  Status Apply(Target target, const Batch& b, const ProjectionState& state) override {
    std::lock_guard lock(write_mu_);
    DT_RETURN_IF_ERROR(EnsureWriter());
    DT_RETURN_IF_ERROR(CheckLockKept());
    PGconn* c = writer_.get();
    // Upserts need the keys: a rebuild that skipped the bulk phase gets them now.
    if (target == Target::kRebuild) {
      std::lock_guard bulk_lock(bulk_mu_);
      if (bulk_.pending) DT_RETURN_IF_ERROR(FinishBulkLocked(c));
    }
    return ApplyLocked(c, b, state, target == Target::kRebuild ? Mode::kRebuild : Mode::kLive);
  }

  Status BeginRebuild() override {
    std::lock_guard lock(write_mu_);
    std::lock_guard bulk_lock(bulk_mu_);
    DT_RETURN_IF_ERROR(EnsureWriter());
    PGconn* c = writer_.get();
    DT_ASSIGN_OR_RETURN(ProjectionState live, LoadStateLocked(false));
    int64_t gen = live.generation + 1;
    ResetBulk();
    DT_ASSIGN_OR_RETURN(bulk_.conn, Connect());
    DT_ASSIGN_OR_RETURN(bulk_.rows_conn, Connect());
    // The bulk transactions need not wait for their WAL to reach the disk: a crash discards
    // the whole rebuild, and the swap's commit (synchronous) flushes everything before it.
    for (PGconn* b : {bulk_.conn.get(), bulk_.rows_conn.get()}) {
      DT_RETURN_IF_ERROR(Exec(b, "SET synchronous_commit = off").status());
    }
    DT_RETURN_IF_ERROR(Exec(c, "BEGIN").status());
    Status s = [&]() -> Status {
      for (const char* t : sql::kTables) {
        DT_RETURN_IF_ERROR(Exec(c, std::string("DROP TABLE IF EXISTS ") + t + "_rebuild").status());
      }
      for (const char* t : sql::kStagedTables) {
        DT_RETURN_IF_ERROR(Exec(c, std::string("DROP TABLE IF EXISTS ") + t + "_stage").status());
      }
      for (const char* q : sql::kCreateTables) {
        std::string create = sql::Render(q, "_rebuild", gen);
        bool keyed = create.rfind("CREATE TABLE events_rebuild ", 0) == 0 ||
                     create.rfind("CREATE TABLE balances_rebuild ", 0) == 0;
        for (const auto& k : kKeyedTables) {
          keyed = keyed || create.rfind(std::string("CREATE TABLE ") + k.name + "_rebuild ", 0) == 0;
        }
        if (keyed) create = WithoutPrimaryKey(create);  // added by FinishBulk
        DT_RETURN_IF_ERROR(Exec(c, create).status());
      }
      for (const auto& k : kKeyedTables) {
        // UNLOGGED: staging rows are rebuilt from the events if the server crashes.
        DT_RETURN_IF_ERROR(Exec(c, std::string("CREATE UNLOGGED TABLE ") + k.name +
                                       "_stage (LIKE " + k.name + "_rebuild)")
                               .status());
      }
      ProjectionState st;
      st.generation = gen;
      return SaveStateLocked(c, true, st);
    }();
    if (!s.ok()) {
      (void)Exec(c, "ROLLBACK");
      return s;
    }
    DT_RETURN_IF_ERROR(Exec(c, "COMMIT").status());
    // The bulk phase is one transaction on each bulk session (the events' and the other
    // rows'), from this TRUNCATE of the tables it copies into (empty already: truncated so
    // that COPY may FREEZE, see kCopyEvents) to FinishBulk. Until then they hold these
    // tables' locks (nothing else uses them before the swap) and PostgreSQL's vacuum horizon
    // (the live tables' dead rows stay until the bulk phase ends; the swap replaces those
    // tables anyway). A crash or a failed batch rolls them back; the rebuild then starts
    // over, as it always does.
    std::string truncate = "TRUNCATE ";
    for (const auto& k : kKeyedTables) {
      if (truncate.size() > 9) truncate += ", ";
      truncate += std::string(k.name) + "_rebuild, " + k.name + "_stage";
    }
    for (auto [b, q] : {std::pair{bulk_.conn.get(), std::string("TRUNCATE events_rebuild")},
                        std::pair{bulk_.rows_conn.get(), truncate}}) {
      DT_RETURN_IF_ERROR(Exec(b, "BEGIN").status());
      DT_RETURN_IF_ERROR(Exec(b, q).status());
    }
    bulk_.pending = true;
    bulk_.generation = gen;
    return Status::Ok();
  }

  // The batch's rows are encoded here, on the caller's thread, and sent by a thread of their
  // own while the caller goes on to decode and encode the next batch: the server's work on
  // one batch overlaps the client's on the next. The events go on one bulk session
  // (bulk_.conn) and the other rows at the same time on the other (bulk_.rows_conn): a
  // session's COPY is one server process, and the events alone are about two thirds of the
  // server's work in the bulk phase, so two sessions let it use both cores while the client
  // waits. A batch that fails is reported by the next ApplyBulk or by FinishBulk (and fails
  // the rebuild). Not under write_mu_: the live projector's batches go on meanwhile on the
  // writer session.
  Status ApplyBulk(const Batch& b, const ProjectionState& state) override {
    std::lock_guard bulk_lock(bulk_mu_);
    if (!bulk_.pending) return Status::Internal("ApplyBulk outside a rebuild's bulk phase");
    auto copies = std::make_unique<std::vector<Copy>>(EncodeBulk(b));
    DT_RETURN_IF_ERROR(WaitInFlight());
    bulk_.in_flight = std::thread([this, copies = std::move(copies), state] {
      std::vector<Copy> events, rows;
      for (auto& c : *copies) (c.sql == kCopyEvents ? events : rows).push_back(std::move(c));
      Status rows_sent;
      std::thread other([&] { rows_sent = SendCopies(bulk_.rows_conn.get(), rows); });
      Status sent = SendCopies(bulk_.conn.get(), events);
      if (sent.ok()) sent = SaveStateLocked(bulk_.conn.get(), true, state);
      other.join();
      bulk_.sent = sent.ok() ? rows_sent : sent;
    });
    return Status::Ok();
  }

  Status FinishBulk() override {
    std::lock_guard lock(write_mu_);
    std::lock_guard bulk_lock(bulk_mu_);
    DT_RETURN_IF_ERROR(EnsureWriter());
    if (!bulk_.pending) return Status::Ok();
    return FinishBulkLocked(writer_.get());
  }

  Status FinishRebuild() override {
    std::lock_guard lock(write_mu_);
    DT_RETURN_IF_ERROR(EnsureWriter());
    DT_RETURN_IF_ERROR(CheckLockKept());
    PGconn* c = writer_.get();
    {
      std::lock_guard bulk_lock(bulk_mu_);
      if (bulk_.pending) DT_RETURN_IF_ERROR(FinishBulkLocked(c));
    }
    DT_ASSIGN_OR_RETURN(ProjectionState st, LoadStateLocked(true));
    DT_RETURN_IF_ERROR(Exec(c, "BEGIN").status());
    Status s = [&]() -> Status {
      // A rebuild that skipped the bulk phase still ends with its indexes and no staging.
      for (const char* t : sql::kStagedTables) {
        DT_RETURN_IF_ERROR(Exec(c, std::string("DROP TABLE IF EXISTS ") + t + "_stage").status());
      }
      for (const char* q : sql::kCreateIndexes) {
        DT_RETURN_IF_ERROR(Exec(c, sql::Render(q, "_rebuild", st.generation)).status());
      }
      for (const char* t : sql::kTables) {
        DT_RETURN_IF_ERROR(Exec(c, std::string("DROP TABLE ") + t).status());
        DT_RETURN_IF_ERROR(
            Exec(c, std::string("ALTER TABLE ") + t + "_rebuild RENAME TO " + t).status());
      }
      DT_RETURN_IF_ERROR(SaveStateLocked(c, false, st));
      return Exec(c, kDeleteState, {std::string("rebuild")}).status();
    }();
    if (!s.ok()) {
      (void)Exec(c, "ROLLBACK");
      return s;
    }
    return Exec(c, "COMMIT").status();
  }

  bool RebuildInProgress() override {
    std::lock_guard lock(write_mu_);
    if (!EnsureWriter().ok()) return false;
    auto r = Exec(writer_.get(), kTableExists, {std::string("contacts_rebuild")});
    return r.ok() && Val(r->get(), 0, 0) == "t";
  }

  Result<bool> TryAcquireProjectorLock() override {
    std::lock_guard lock(write_mu_);
    if (locked_ && writer_ && PQstatus(writer_.get()) == CONNECTION_OK) return true;
    locked_ = false;
    DT_RETURN_IF_ERROR(EnsureWriter());
    DT_ASSIGN_OR_RETURN(PgResult r,
                        Exec(writer_.get(), kTryProjectorLock, {std::to_string(kProjectorLockClass)}));
    locked_ = Val(r.get(), 0, 0) == "t";
    if (locked_) lock_lost_ = false;
    return locked_;
  }

  void ReleaseProjectorLock() override {
    std::lock_guard lock(write_mu_);
    if (locked_ && writer_ && PQstatus(writer_.get()) == CONNECTION_OK) {
      (void)Exec(writer_.get(), kUnlockProjector, {std::to_string(kProjectorLockClass)});
    }
    locked_ = false;
    lock_lost_ = false;
  }

  // ---- queries
  Result<std::vector<Contact>> ListContacts(const std::string& user_id) override {
    return Query<std::vector<Contact>>(kListContacts, {user_id}, [](PGresult* r, int i, auto& out) {
      out.push_back(ReadContact(r, i));
    });
  }
  Result<std::optional<Contact>> GetContact(const std::string& user_id,
                                            const std::string& id) override {
    return Query<std::optional<Contact>>(kGetContact, {user_id, id},
                                         [](PGresult* r, int i, auto& out) { out = ReadContact(r, i); });
  }
  Result<std::vector<BalanceRow>> Balances(const std::string& user_id,
                                           const std::string& contact_id) override {
    Params p{user_id};
    if (!contact_id.empty()) p.push_back(contact_id);
    return Query<std::vector<BalanceRow>>(
        contact_id.empty() ? kBalancesAll : kBalancesContact, p,
        [](PGresult* r, int i, auto& out) {
          out.push_back(BalanceRow{Val(r, i, 0), Val(r, i, 1), ValInt(r, i, 2)});
        });
  }
  Result<std::vector<Transaction>> ListTransactions(const std::string& user_id) override {
    return Query<std::vector<Transaction>>(
        kListTransactions, {user_id},
        [](PGresult* r, int i, auto& out) { out.push_back(ReadTransaction(r, i)); });
  }
  Result<std::optional<Transaction>> GetTransaction(const std::string& user_id,
                                                    const std::string& id) override {
    return Query<std::optional<Transaction>>(
        kGetTransaction, {user_id, id},
        [](PGresult* r, int i, auto& out) { out = ReadTransaction(r, i); });
  }
  Result<std::map<std::string, std::string>> GetSettings(const std::string& user_id) override {
    return Query<std::map<std::string, std::string>>(
        kGetSettings, {user_id},
        [](PGresult* r, int i, auto& out) { out[Val(r, i, 0)] = Val(r, i, 1); });
  }
  Result<std::vector<EventRow>> ListEvents(const std::string& user_id,
                                           const EventFilter& f) override {
    return Query<std::vector<EventRow>>(
        kListEvents,
        {user_id, f.event_type, f.aggregate_type, f.search, f.date_from, f.date_to,
         std::to_string(f.limit), std::to_string(f.offset)},
        [](PGresult* r, int i, auto& out) { out.push_back(ReadEvent(r, i)); });
  }
  Result<std::vector<EventRow>> EventsAfter(const std::string& user_id, int64_t after_seq,
                                            const std::string& occurred_after,
                                            size_t limit) override {
    return Query<std::vector<EventRow>>(
        kEventsAfter,
        {user_id, std::to_string(after_seq), occurred_after, std::to_string(limit)},
        [](PGresult* r, int i, auto& out) { out.push_back(ReadEvent(r, i)); });
  }
  Result<std::vector<EventRow>> AllEventsAfter(int64_t after_seq, size_t limit) override {
    return Query<std::vector<EventRow>>(
        kAllEventsAfter, {std::to_string(after_seq), std::to_string(limit)},
        [](PGresult* r, int i, auto& out) { out.push_back(ReadEvent(r, i)); });
  }
  Result<std::optional<EventRow>> FindEvent(const std::string& user_id,
                                            const std::string& event_id) override {
    return Query<std::optional<EventRow>>(
        kFindEvent, {user_id, event_id},
        [](PGresult* r, int i, auto& out) { out = ReadEvent(r, i); });
  }
  Result<std::string> Dump() override {
    std::string out;
    for (const char* q : kDumpQueries) {
      out += std::string("# ") + q + "\n";
      auto r = Query<std::string>(q, {}, [](PGresult* res, int i, std::string& text) {
        for (int c = 0; c < PQnfields(res); ++c) {
          if (c) text += '|';
          text += PQgetisnull(res, i, c) ? std::string("NULL") : Val(res, i, c);
        }
        text += '\n';
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
    auto r = Query<int64_t>(q, {id}, [](PGresult* res, int i, int64_t& out) {
      if (!PQgetisnull(res, i, 0)) out = ValInt(res, i, 0);
    }, int64_t{-1});
    return r;
  }

 private:
  Status EnsureWriter() {
    if (writer_ && PQstatus(writer_.get()) == CONNECTION_OK) return Status::Ok();
    // A lost session lost its advisory lock with it: another instance may hold it now.
    if (locked_) lock_lost_ = true;
    locked_ = false;
    auto c = Connect();
    if (!c.ok()) return c.status();
    writer_ = std::move(c).value();
    prepared_[0] = prepared_[1] = false;  // a new session has none
    // The projector's commits need not wait for PostgreSQL's WAL flush: a batch lost in a
    // database crash is lost together with its checkpoint (same transaction), so the
    // projector simply applies it again from the event store. Saves a flush per batch.
    return Exec(writer_.get(), "SET synchronous_commit = off").status();
  }

  // The projector's writes (a batch, a rebuild's swap) need the lock it took: when the
  // session holding it was lost (a query of another caller on the writer session saw it
  // first, so EnsureWriter opened a new one), they fail until the projector takes the lock
  // again, rather than apply beside the instance that may hold it now.
  Status CheckLockKept() const {
    if (!lock_lost_) return Status::Ok();
    return Status::Unavailable(
        "the database session holding the projector lock was lost; the lock must be taken again");
  }

  Result<ProjectionState> LoadStateLocked(bool rebuild) {
    DT_ASSIGN_OR_RETURN(PgResult r,
                        Exec(writer_.get(), kLoadState, {std::string(sql::StateName(rebuild))}));
    ProjectionState st;
    if (PQntuples(r.get()) > 0) {
      st.position = Val(r.get(), 0, 0);
      st.events_applied = ValInt(r.get(), 0, 1);
      st.generation = ValInt(r.get(), 0, 2);
      st.updated_at = Val(r.get(), 0, 3);
    }
    return st;
  }

  Status SaveStateLocked(PGconn* c, bool rebuild, const ProjectionState& st) {
    return Exec(c, kSaveState,
                {std::string(sql::StateName(rebuild)), st.position,
                 std::to_string(st.events_applied), std::to_string(st.generation),
                 FormatRfc3339Micros(NowMicros())})
        .status();
  }

  enum class Mode { kLive, kRebuild };

  // A COPY statement and its rows.
  struct Copy {
    std::string sql;
    CopyRows rows;
  };

  // The bulk phase: every row by COPY; a key's first row into its *_rebuild table, a repeat
  // into staging; events into the rebuild's events table (a fresh table: no seq is there
  // twice, so nothing to skip on conflict); balance deltas summed for FinishBulk.
  std::vector<Copy> EncodeBulk(const Batch& b) {
    std::vector<Copy> out;
    auto first = [&](int table, std::string_view key) {
      return bulk_.seen[table].insert(std::hash<std::string_view>{}(key)).second;
    };
    if (!b.contacts.empty()) {
      CopyRows rows[2];  // new keys, repeats
      for (const auto& x : b.contacts) {
        CopyRows& r = rows[first(0, x.id) ? 0 : 1];
        r.BeginRow(11);
        r.Add(x.id);
        r.Add(x.user_id);
        r.Add(x.name);
        r.Add(x.username);
        r.Add(x.phone);
        r.Add(x.email);
        r.Add(x.notes);
        r.Add(x.created_at);
        r.Add(x.updated_at);
        r.Add(x.version);
        r.AddInt4(x.is_deleted ? 1 : 0);
      }
      Both(out, kCopyContacts, rows);
    }
    if (!b.transactions.empty()) {
      CopyRows rows[2];
      for (const auto& x : b.transactions) {
        CopyRows& r = rows[first(1, x.id) ? 0 : 1];
        r.BeginRow(14);
        r.Add(x.id);
        r.Add(x.user_id);
        r.Add(x.contact_id);
        r.Add(x.type);
        r.Add(x.direction);
        r.Add(x.amount);
        r.Add(x.currency);
        r.Add(x.description);
        r.Add(x.transaction_date);
        r.Add(x.due_date);
        r.Add(x.created_at);
        r.Add(x.updated_at);
        r.Add(x.version);
        r.AddInt4(x.is_deleted ? 1 : 0);
      }
      Both(out, kCopyTransactions, rows);
    }
    if (!b.settings.empty()) {
      CopyRows rows[2];
      for (const auto& x : b.settings) {
        CopyRows& r = rows[first(2, x.user_id + "\n" + x.key) ? 0 : 1];
        r.BeginRow(4);
        r.Add(x.user_id);
        r.Add(x.key);
        r.Add(x.value);
        r.Add(x.version);
      }
      Both(out, kCopySettings, rows);
    }
    if (!b.events.empty()) {
      CopyRows rows;
      for (const auto& x : b.events) {
        rows.BeginRow(10);
        rows.Add(x.seq);
        rows.Add(x.event_id);
        rows.Add(x.stream);
        rows.Add(x.version);
        rows.Add(x.user_id);
        rows.Add(x.aggregate_type);
        rows.Add(x.aggregate_id);
        rows.Add(x.event_type);
        rows.Add(x.data);
        rows.Add(x.occurred_at);
      }
      out.push_back(Copy{kCopyEvents, std::move(rows)});
    }
    // A batch that fails fails the whole rebuild: its deltas may be summed before it is sent.
    for (const auto& x : b.balances) {
      auto [it, inserted] =
          bulk_.balances.try_emplace(x.user_id + "\n" + x.contact_id + "\n" + x.currency, x);
      if (!inserted) it->second.delta += x.delta;
    }
    return out;
  }

  // The COPYs on a bulk session, in its bulk-phase transaction (committed by FinishBulk; a
  // failure leaves it aborted, and the rebuild fails).
  static Status SendCopies(PGconn* c, std::vector<Copy>& copies) {
    for (auto& copy : copies) {
      DT_RETURN_IF_ERROR(CopyIn(c, copy.sql, copy.rows.Finish()));
      copy.rows = CopyRows{};  // freed as soon as sent
    }
    return Status::Ok();
  }

  // The outcome of the batch in flight, once it is done (the first failure sticks). A failure
  // closes the bulk session: that rolls its transaction back and frees the tables' locks.
  Status WaitInFlight() {
    if (bulk_.in_flight.joinable()) bulk_.in_flight.join();
    if (!bulk_.sent.ok()) {
      bulk_.conn.reset();
      bulk_.rows_conn.reset();
    }
    return bulk_.sent;
  }

  // Drops the bulk phase's state; a batch in flight is waited for first.
  void ResetBulk() {
    if (bulk_.in_flight.joinable()) bulk_.in_flight.join();
    bulk_ = BulkState{};
  }

  // `copy_tmpl` ({s}: the table's suffix) with rows[0] into the *_rebuild table and rows[1]
  // into staging.
  static void Both(std::vector<Copy>& out, const char* copy_tmpl, CopyRows (&rows)[2]) {
    if (!rows[0].empty()) {
      out.push_back(Copy{sql::Render(copy_tmpl, "_rebuild", 0), std::move(rows[0])});
    }
    if (!rows[1].empty()) {
      out.push_back(Copy{sql::Render(copy_tmpl, "_stage", 0), std::move(rows[1])});
    }
  }

  // Ends the bulk phase: primary keys built, staged repeats upserted, balances written,
  // staging dropped, secondary indexes built, statistics taken. The events table (the largest
  // by far) is completed by a second session while this one completes the others: these are
  // the server's CPU work, and two sessions use both cores. Each session commits its own part:
  // nothing reads these tables before the swap, and a rebuild that fails here starts over.
  Status FinishBulkLocked(PGconn* c) {
    const int64_t gen = bulk_.generation;
    DT_RETURN_IF_ERROR(WaitInFlight());
    PGconn* second = bulk_.conn.get();
    // The bulk phase's rows.
    bulk_.sent = Exec(bulk_.rows_conn.get(), "COMMIT").status();
    if (bulk_.sent.ok()) bulk_.sent = Exec(second, "COMMIT").status();
    DT_RETURN_IF_ERROR(WaitInFlight());
    Status events_status;
    std::thread events([&] {
      events_status = InTransaction(second, [&](PGconn* e) { return FinishEvents(e, gen); });
    });
    Status s = InTransaction(c, [&](PGconn* k) { return FinishKeyed(k, gen); });
    events.join();
    DT_RETURN_IF_ERROR(s);
    DT_RETURN_IF_ERROR(events_status);
    ResetBulk();
    return Status::Ok();
  }

  // Runs `fn` in one transaction with kFinishSettings.
  template <typename Fn>
  static Status InTransaction(PGconn* c, Fn&& fn) {
    DT_RETURN_IF_ERROR(Exec(c, "BEGIN").status());
    Status s = [&]() -> Status {
      for (const char* q : kFinishSettings) DT_RETURN_IF_ERROR(Exec(c, q).status());
      return fn(c);
    }();
    if (!s.ok()) {
      (void)Exec(c, "ROLLBACK");
      return s;
    }
    return Exec(c, "COMMIT").status();
  }

  static bool OnEvents(const std::string& create_index) {
    return create_index.find(" ON events_rebuild ") != std::string::npos;
  }

  static Status FinishEvents(PGconn* c, int64_t gen) {
    DT_RETURN_IF_ERROR(Exec(c, sql::Render(kAddEventsKey, "", gen)).status());
    for (const char* q : sql::kCreateIndexes) {
      std::string create = sql::Render(q, "_rebuild", gen);
      if (OnEvents(create)) DT_RETURN_IF_ERROR(Exec(c, create).status());
    }
    return Exec(c, kAnalyzeEvents).status();
  }

  Status FinishKeyed(PGconn* c, int64_t gen) {
    const char* upserts[] = {kUpsertContacts, kUpsertTransactions, kUpsertSettings};
    for (size_t i = 0; i < std::size(kKeyedTables); ++i) {
      const auto& t = kKeyedTables[i];
      DT_RETURN_IF_ERROR(Exec(c, Fill(kAddPrimaryKey, t, gen)).status());
      DT_RETURN_IF_ERROR(Exec(c, Fill(kFoldStaged, t, gen) + ConflictClause(upserts[i])).status());
      DT_RETURN_IF_ERROR(Exec(c, std::string("DROP TABLE ") + t.name + "_stage").status());
    }
    if (!bulk_.balances.empty()) {
      CopyRows rows;
      for (const auto& [key, x] : bulk_.balances) {
        rows.BeginRow(4);
        rows.Add(x.user_id);
        rows.Add(x.contact_id);
        rows.Add(x.currency);
        rows.Add(x.delta);
      }
      // Truncated in this transaction, so that the COPY may FREEZE (see kCopyEvents).
      DT_RETURN_IF_ERROR(Exec(c, "TRUNCATE balances_rebuild").status());
      DT_RETURN_IF_ERROR(CopyIn(c, kCopyBalances, rows.Finish()));
    }
    DT_RETURN_IF_ERROR(Exec(c, sql::Render(kAddBalancesKey, "", gen)).status());
    for (const char* q : sql::kCreateIndexes) {
      std::string create = sql::Render(q, "_rebuild", gen);
      if (!OnEvents(create)) DT_RETURN_IF_ERROR(Exec(c, create).status());
    }
    for (const char* q : kAnalyzeKeyed) DT_RETURN_IF_ERROR(Exec(c, q).status());
    return Status::Ok();
  }

  // The batch and its checkpoint in one prepared statement (see kApplyParts).
  Status ApplyLocked(PGconn* c, const Batch& b, const ProjectionState& state, Mode mode) {
    const bool rebuild = mode == Mode::kRebuild;
    constexpr auto T = BinaryArray::kText, I8 = BinaryArray::kInt8, I4 = BinaryArray::kInt4;
    Params p;
    p.reserve(kApplyParams);
    auto take = [&p](auto& arrays) {
      for (auto& a : arrays) p.push_back(a.Take());
    };
    {
      BinaryArray a[] = {T, T, T, T, T, T, T, T, T, I8, I4};
      for (const auto& x : b.contacts) {
        a[0].Add(x.id);
        a[1].Add(x.user_id);
        a[2].Add(x.name);
        a[3].Add(x.username);
        a[4].Add(x.phone);
        a[5].Add(x.email);
        a[6].Add(x.notes);
        a[7].Add(x.created_at);
        a[8].Add(x.updated_at);
        a[9].Add(x.version);
        a[10].AddInt4(x.is_deleted ? 1 : 0);
      }
      take(a);
    }
    {
      BinaryArray a[] = {T, T, T, T, T, I8, T, T, T, T, T, T, I8, I4};
      for (const auto& x : b.transactions) {
        a[0].Add(x.id);
        a[1].Add(x.user_id);
        a[2].Add(x.contact_id);
        a[3].Add(x.type);
        a[4].Add(x.direction);
        a[5].Add(x.amount);
        a[6].Add(x.currency);
        a[7].Add(x.description);
        a[8].Add(x.transaction_date);
        a[9].Add(x.due_date);
        a[10].Add(x.created_at);
        a[11].Add(x.updated_at);
        a[12].Add(x.version);
        a[13].AddInt4(x.is_deleted ? 1 : 0);
      }
      take(a);
    }
    {
      BinaryArray a[] = {T, T, T, I8};
      for (const auto& x : b.settings) {
        a[0].Add(x.user_id);
        a[1].Add(x.key);
        a[2].Add(x.value);
        a[3].Add(x.version);
      }
      take(a);
    }
    {
      BinaryArray a[] = {I8, T, T, I8, T, T, T, T, T, T};
      for (const auto& x : b.events) {
        a[0].Add(x.seq);
        a[1].Add(x.event_id);
        a[2].Add(x.stream);
        a[3].Add(x.version);
        a[4].Add(x.user_id);
        a[5].Add(x.aggregate_type);
        a[6].Add(x.aggregate_id);
        a[7].Add(x.event_type);
        a[8].Add(x.data);
        a[9].Add(x.occurred_at);
      }
      take(a);
    }
    {
      BinaryArray a[] = {T, T, T, I8};
      for (const auto& x : b.balances) {
        a[0].Add(x.user_id);
        a[1].Add(x.contact_id);
        a[2].Add(x.currency);
        a[3].Add(x.delta);
      }
      take(a);
    }
    p.push_back(std::string(sql::StateName(rebuild)));
    p.push_back(state.position);
    p.push_back(std::to_string(state.events_applied));
    p.push_back(std::to_string(state.generation));
    p.push_back(FormatRfc3339Micros(NowMicros()));
    static const std::string kSql[2] = {ApplySql(""), ApplySql("_rebuild")};
    static constexpr const char* kName[2] = {"dt_apply_live", "dt_apply_rebuild"};
    // The arrays in binary, the checkpoint's parameters as text.
    static const std::vector<int> kBinary = [] {
      std::vector<int> f(kApplyParams, 1);
      std::fill(f.end() - kSaveStateParams, f.end(), 0);
      return f;
    }();
    return ExecPrepared(c, kName[rebuild], kSql[rebuild], &prepared_[rebuild], p, &kBinary)
        .status();
  }

  // A pooled read session and the queries it has prepared (by their constant's address).
  struct Pooled {
    PgConn conn;
    std::unordered_set<const char*> prepared;
  };

  // Runs `sql` (one of the named queries above: a constant) on a pooled session. Each
  // session prepares a query the first time it runs it and then only binds and executes it
  // (PostgreSQL parses and plans it once per session, not once per request); a table a
  // rebuild swapped in is picked up by PostgreSQL itself (it re-analyses the statement).
  template <typename T, typename Row>
  Result<T> Query(const char* sql, const Params& params, Row&& row, T init = T{}) {
    Pooled pc = Acquire();
    struct Release {
      PgStore* self;
      Pooled& pc;
      ~Release() { self->ReleaseSession(std::move(pc)); }
    } release{this, pc};
    auto connect = [&]() -> Status {
      auto c = Connect();
      if (!c.ok()) return c.status();
      pc.conn = std::move(c).value();
      pc.prepared.clear();
      return Status::Ok();
    };
    if (!pc.conn || PQstatus(pc.conn.get()) != CONNECTION_OK) DT_RETURN_IF_ERROR(connect());
    char name[32];
    std::snprintf(name, sizeof name, "dt_q_%zx", reinterpret_cast<size_t>(sql));
    const std::string text(sql);
    auto run = [&] {
      bool prepared = pc.prepared.count(sql) > 0;
      auto r = ExecPrepared(pc.conn.get(), name, text, &prepared, params);
      if (prepared) pc.prepared.insert(sql);
      return r;
    };
    auto r = run();
    if (!r.ok()) {
      if (r.status().Is(Code::kUnavailable)) {
        // The connection died (server restart): one retry on a fresh one.
        DT_RETURN_IF_ERROR(connect());
        r = run();
      }
      if (!r.ok()) return r.status();
    }
    T out = std::move(init);
    int n = PQntuples(r->get());
    for (int i = 0; i < n; ++i) row(r->get(), i, out);
    return out;
  }

  // At most kMaxReadSessions read sessions are open; a query that finds none free waits for
  // one instead of opening (and then closing) another: a session's start costs PostgreSQL a
  // process, far more than the wait, and 64 request threads would otherwise churn them.
  static constexpr size_t kMaxReadSessions = 32;
  Pooled Acquire() {
    std::unique_lock lock(pool_mu_);
    pool_cv_.wait(lock, [&] { return !pool_.empty() || open_sessions_ < kMaxReadSessions; });
    if (!pool_.empty()) {
      Pooled pc = std::move(pool_.back());
      pool_.pop_back();
      return pc;
    }
    ++open_sessions_;  // the caller connects it
    return Pooled{};
  }
  void ReleaseSession(Pooled pc) {
    {
      std::lock_guard lock(pool_mu_);
      if (pc.conn && PQstatus(pc.conn.get()) == CONNECTION_OK) {
        pool_.push_back(std::move(pc));
      } else {
        --open_sessions_;
      }
    }
    pool_cv_.notify_one();
  }

  // The bulk phase of a rebuild (see kKeyedTables).
  struct BulkState {
    bool pending = false;  // between BeginRebuild and FinishBulk: the keyed tables lack keys
    int64_t generation = 0;
    PgConn conn;             // the bulk phase's own session: events, the rebuild's state
    PgConn rows_conn;        // and its second one: contacts, transactions, settings
    std::thread in_flight;   // sends the latest batch on both
    Status sent;             // in_flight's outcome, read once it is joined
    // Hashes of the keys already in contacts_rebuild, transactions_rebuild, settings_rebuild.
    // A collision only sends a first row to staging, which the fold upserts all the same.
    std::unordered_set<uint64_t> seen[3];
    std::unordered_map<std::string, BalanceDelta> balances;  // "user\ncontact\ncurrency"
  };

  const std::string url_;
  std::mutex write_mu_;  // taken before bulk_mu_ when both are
  std::mutex bulk_mu_;
  BulkState bulk_;       // GUARDED_BY(bulk_mu_)
  PgConn writer_;        // GUARDED_BY(write_mu_)
  bool locked_ = false;  // GUARDED_BY(write_mu_): writer_'s session holds the projector lock
  // GUARDED_BY(write_mu_): the session that held the projector lock was lost and the lock
  // has not been taken (or released) since.
  bool lock_lost_ = false;
  bool prepared_[2] = {false, false};  // GUARDED_BY(write_mu_): writer_ has the live / rebuild
                                       // batch statement (ApplyLocked) prepared
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<Pooled> pool_;   // GUARDED_BY(pool_mu_): the free read sessions
  size_t open_sessions_ = 0;   // GUARDED_BY(pool_mu_): free and in use
};

}  // namespace

Result<std::unique_ptr<ReadModelStore>> OpenPgStore(const std::string& url) {
  auto store = std::make_unique<PgStore>(url);
  DT_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<ReadModelStore>(std::move(store));
}

}  // namespace dt::readmodel
