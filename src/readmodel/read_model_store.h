// ReadModelStore: the query side of the Debt Tracker API, derived from the events.
//
// Two implementations behind this one interface: SQLite (embedded, the default) and
// PostgreSQL (libpq). Both keep the same tables (sql_schema.h has the shape):
//   contacts, transactions, settings, events (the users' domain events, for the admin
//   listing and sync), balances (net amount per user, contact and currency, kept
//   incrementally), projection_state (checkpoint per target), schema_version.
// All SQL is named constant text with bound parameters.
//
// Writes come only from the projector: Apply() writes a batch of rows and the checkpoint in
// ONE transaction, so the read model is always exactly "all events up to the checkpoint".
// Rows are whole states (events carry the full state), upserted only if their version is
// newer, so applying is idempotent.
//
// Rebuild: BeginRebuild() creates empty tables beside the live ones, Apply(kRebuild, ...)
// fills them while the live tables keep serving reads and taking live batches, and
// FinishRebuild() swaps them in atomically (the rebuild's checkpoint becomes the live one).
// PostgreSQL: tables with the suffix _rebuild (index names carry a generation number),
// swapped by renames in one transaction. SQLite: a new database file per generation, made
// live by replacing a link (sqlite_files.h); the old file is removed, nothing is dropped.
//
// Several API instances on one database: exactly one projector may write; it holds the
// projector lock (PostgreSQL: a session advisory lock on the writer connection, released by
// the server when the holder dies; SQLite: a flock on "<db>.projector.lock").
//
// Thread-safety: query methods from any thread (pooled connections). Apply, BeginRebuild,
// FinishRebuild and the lock methods from one projector thread at a time (the projector
// serialises them).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tracker/model.h"

namespace dt::readmodel {

enum class Target { kLive, kRebuild };

struct SettingRow {
  std::string user_id;
  std::string key;
  std::string value;
  int64_t version = 0;  // event number in settings-{user_id}
};

struct EventRow {
  int64_t seq = 0;  // order of application (0, 1, 2, ...): the same after every rebuild
  std::string event_id;
  std::string stream;
  int64_t version = 0;  // event number in its stream
  std::string user_id;
  std::string aggregate_type;  // "contact" | "transaction" | "settings"
  std::string aggregate_id;
  std::string event_type;
  std::string data;         // the event's JSON
  std::string occurred_at;  // RFC 3339 UTC
};

// A change to the net amount of (user, contact, currency).
struct BalanceDelta {
  std::string user_id;
  std::string contact_id;
  std::string currency;
  int64_t delta = 0;
};

struct Batch {
  std::vector<tracker::Contact> contacts;          // full rows, newest state per id
  std::vector<tracker::Transaction> transactions;  // full rows, newest state per id
  std::vector<SettingRow> settings;
  std::vector<EventRow> events;
  std::vector<BalanceDelta> balances;  // one per key touched (zero deltas included)
  bool empty() const {
    return contacts.empty() && transactions.empty() && settings.empty() && events.empty() &&
           balances.empty();
  }
};

struct ProjectionState {
  std::string position;        // opaque $all position ("" = from the start)
  int64_t events_applied = 0;  // domain events applied: the next EventRow::seq
  int64_t generation = 0;      // tables' generation (bumped by each rebuild)
  std::string updated_at;
};

struct BalanceRow {
  std::string contact_id;
  std::string currency;
  int64_t amount = 0;  // lent - owed over non-deleted money transactions
};

struct EventFilter {
  size_t limit = 50;
  size_t offset = 0;
  std::string event_type;      // the type or its ending ("Created": every …Created), "" = any
  std::string aggregate_type;  // exact, "" = any
  std::string search;          // substring of the event's data, case-insensitive (ASCII), "" = any
  std::string date_from;       // occurred_at >= (RFC 3339 or date), "" = open
  std::string date_to;         // occurred_at <  (date: the day after), "" = open
};

class ReadModelStore {
 public:
  virtual ~ReadModelStore() = default;

  // "SQLite at <path>" / "PostgreSQL at host:port/db" (never the password).
  virtual std::string Describe() const = 0;

  // ---- projector side
  virtual Result<ProjectionState> LoadState(Target target) = 0;
  virtual Status Apply(Target target, const Batch& batch, const ProjectionState& state) = 0;
  virtual Status BeginRebuild() = 0;
  // The rebuild's bulk phase: each store writes the batch's rows into the *_rebuild tables
  // its cheapest way (PostgreSQL: COPY into tables without keys yet, a key's repeats in a
  // later batch into staging, balance deltas summed in memory); the state row of the
  // rebuild is saved in the same transaction. FinishBulk() completes the tables (keys,
  // staged repeats folded in with the newest version winning, balances, secondary indexes).
  // Afterwards Apply(kRebuild, ...) upserts as usual (the catch-up before the swap).
  virtual Status ApplyBulk(const Batch& batch, const ProjectionState& state) = 0;
  virtual Status FinishBulk() = 0;
  // How many rows the bulk phase may hold folded in memory across batches before it hands
  // them to ApplyBulk, in key order (BatchBuilder::TakeRows); the batches between carry only
  // events, and the state saved with them covers events whose rows come later (a bulk phase
  // is only ever completed or thrown away, never resumed). 0: every batch brings its own rows.
  virtual size_t BulkFoldRows() const { return 0; }
  virtual Status FinishRebuild() = 0;
  virtual bool RebuildInProgress() = 0;
  // True when this instance now holds the projector lock (non-blocking).
  virtual Result<bool> TryAcquireProjectorLock() = 0;
  virtual void ReleaseProjectorLock() = 0;

  // ---- query side (live tables)
  virtual Result<std::vector<tracker::Contact>> ListContacts(const std::string& user_id) = 0;
  // Deleted contacts are returned with is_deleted (callers decide).
  virtual Result<std::optional<tracker::Contact>> GetContact(const std::string& user_id,
                                                             const std::string& id) = 0;
  // Balances of the user's non-deleted money transactions, by contact and currency
  // (contact_id = "" limits nothing; otherwise only that contact).
  virtual Result<std::vector<BalanceRow>> Balances(const std::string& user_id,
                                                   const std::string& contact_id) = 0;
  // Not deleted, contact not deleted; newest transaction_date first, then newest created_at.
  virtual Result<std::vector<tracker::Transaction>> ListTransactions(
      const std::string& user_id) = 0;
  virtual Result<std::optional<tracker::Transaction>> GetTransaction(const std::string& user_id,
                                                                     const std::string& id) = 0;
  virtual Result<std::map<std::string, std::string>> GetSettings(const std::string& user_id) = 0;
  // The user's events, newest first.
  virtual Result<std::vector<EventRow>> ListEvents(const std::string& user_id,
                                                   const EventFilter& filter) = 0;
  // The user's events with seq > after_seq and occurred_at > occurred_after (RFC 3339 as
  // stored; "" = any), ascending by seq, at most limit (sync).
  virtual Result<std::vector<EventRow>> EventsAfter(const std::string& user_id, int64_t after_seq,
                                                    const std::string& occurred_after,
                                                    size_t limit) = 0;
  // Every user's events with seq > after_seq, ascending, at most limit (real-time fan-out).
  virtual Result<std::vector<EventRow>> AllEventsAfter(int64_t after_seq, size_t limit) = 0;
  // One of the user's events by its event id (undo); nullopt when the user has none such.
  virtual Result<std::optional<EventRow>> FindEvent(const std::string& user_id,
                                                    const std::string& event_id) = 0;
  // The version the read model has applied for a domain stream (-1: none). Used by
  // instances that do not run the projector to wait for their own writes.
  virtual Result<int64_t> AppliedVersion(const std::string& stream) = 0;

  // Every row of the live tables (contacts, transactions, settings, events), ordered by key,
  // one line per row: for diagnostics and the rebuild-equivalence tests.
  virtual Result<std::string> Dump() = 0;
};

// Opens by DATABASE_URL: "sqlite:<path>" (relative or absolute) or "postgresql://..."
// (also "postgres://"). Creates/migrates the schema. kInvalidArgument names the setting.
Result<std::unique_ptr<ReadModelStore>> OpenReadModelStore(const std::string& database_url);
// Checks the form only ("" when fine).
std::string CheckDatabaseUrl(const std::string& database_url);

}  // namespace dt::readmodel
