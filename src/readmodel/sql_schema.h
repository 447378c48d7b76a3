// The read model's tables, once, for both stores. Templates: {s} is the table suffix
// ("" live, "_rebuild" during a rebuild), {g} the generation (index names must be unique per
// database, and a rebuilt table keeps its index names after the rename), {i} the type of an
// integer primary key (SQLite: INTEGER, which makes the key the rowid: one B-tree per row
// instead of a table and an index; PostgreSQL: BIGINT).
// Booleans are INTEGER 0/1 and amounts BIGINT in both SQLite and PostgreSQL.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dt::readmodel::sql {

// 1: contacts, transactions, settings, events. 2: balances (kept by the projector).
inline constexpr int kSchemaVersion = 2;

// Net amount per (user, contact, currency) over the non-deleted money transactions: the
// projector adds each event's change, so balances cost one indexed read.
inline constexpr const char* kCreateBalances =
    "CREATE TABLE balances{s} (user_id TEXT NOT NULL, contact_id TEXT NOT NULL, "
    "currency TEXT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (user_id, contact_id, currency))";
// Migration 1 -> 2: the balances of what is already projected. Deleted money transactions
// count 0 but keep their key, as the projector leaves a 0 row once they are deleted (a key
// that an update moved a transaction away from is not known here any more).
inline constexpr const char* kFillBalances =
    "INSERT INTO balances (user_id, contact_id, currency, amount) SELECT user_id, contact_id, "
    "currency, SUM(CASE WHEN is_deleted <> 0 THEN 0 WHEN direction = 'lent' THEN amount "
    "ELSE -amount END) FROM transactions WHERE type = 'money' "
    "GROUP BY user_id, contact_id, currency";

// The tables (with their primary keys) and, separately, their secondary indexes: a rebuild
// loads the tables first and builds the indexes once at the end.
inline constexpr const char* kCreateTables[] = {
    "CREATE TABLE contacts{s} (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, name TEXT NOT NULL, "
    "username TEXT, phone TEXT, email TEXT, notes TEXT, created_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL, version BIGINT NOT NULL, is_deleted INTEGER NOT NULL)",
    "CREATE TABLE transactions{s} (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
    "contact_id TEXT NOT NULL, type TEXT NOT NULL, direction TEXT NOT NULL, "
    "amount BIGINT NOT NULL, currency TEXT NOT NULL, description TEXT, "
    "transaction_date TEXT NOT NULL, due_date TEXT, created_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL, version BIGINT NOT NULL, is_deleted INTEGER NOT NULL)",
    "CREATE TABLE settings{s} (user_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
    "version BIGINT NOT NULL, PRIMARY KEY (user_id, key))",
    "CREATE TABLE events{s} (seq {i} PRIMARY KEY, event_id TEXT NOT NULL, "
    "stream TEXT NOT NULL, version BIGINT NOT NULL, user_id TEXT NOT NULL, "
    "aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL, event_type TEXT NOT NULL, "
    "data TEXT NOT NULL, occurred_at TEXT NOT NULL)",
    kCreateBalances,
};

inline constexpr const char* kCreateIndexes[] = {
    "CREATE INDEX IF NOT EXISTS contacts_user_g{g} ON contacts{s} (user_id, name)",
    "CREATE INDEX IF NOT EXISTS transactions_user_g{g} ON transactions{s} (user_id, transaction_date)",
    "CREATE INDEX IF NOT EXISTS events_user_g{g} ON events{s} (user_id, seq)",
};

// Staging tables of a rebuild's bulk phase (PostgreSQL): the row tables without any key,
// written append-only; FinishBulk folds them into the *_rebuild tables.
inline constexpr const char* kStagedTables[] = {"contacts", "transactions", "settings",
                                                "balances"};

inline constexpr const char* kTables[] = {"contacts", "transactions", "settings", "events",
                                          "balances"};

inline constexpr const char* kCreateMeta[] = {
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_state (name TEXT PRIMARY KEY, position TEXT NOT NULL, "
    "events_applied BIGINT NOT NULL, generation BIGINT NOT NULL, updated_at TEXT NOT NULL)",
};

// Replaces {s}, {g} and {i}.
inline std::string Render(std::string_view tmpl, std::string_view suffix, long long generation,
                          std::string_view int_key = "BIGINT") {
  std::string out;
  out.reserve(tmpl.size() + 16);
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{' && i + 2 < tmpl.size() && tmpl[i + 2] == '}') {
      if (tmpl[i + 1] == 's') {
        out += suffix;
        i += 2;
        continue;
      }
      if (tmpl[i + 1] == 'g') {
        out += std::to_string(generation);
        i += 2;
        continue;
      }
      if (tmpl[i + 1] == 'i') {
        out += int_key;
        i += 2;
        continue;
      }
    }
    out += tmpl[i];
  }
  return out;
}

inline const char* StateName(bool rebuild) { return rebuild ? "rebuild" : "live"; }

}  // namespace dt::readmodel::sql
