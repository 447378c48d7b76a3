// Projection: turns domain events into read-model rows. Pure: no I/O.
//
// Events carry the aggregate's whole state (see tracker/events.h), so each event becomes
// one row upsert (the newest state per id wins within a batch) plus one row of the events
// table. Transaction events also change balances: + the new state's amount, - the old
// state's (an update's old state is its new state with the `previous` values put back). Events of other streams (users, idempotency claims, foreign streams) are skipped.
//
// Event data is read with tracker::EventReader (simdjson), not parsed into a DOM.
//
// Any JSON can reach the event store (older API versions, other clients, hand-written
// events), but no event may stop the projector, so every added event yields rows that both
// stores take:
//  - text with U+0000 (which PostgreSQL text cannot hold) or, in stream names and event
//    types, bytes that are not UTF-8, is kept with each such character or byte replaced by
//    U+FFFD: a repair, counted and described in problems();
//  - an event of a domain stream whose data cannot be read (not JSON, no user_id, no state,
//    an unknown type, an amount outside 0..10^15) is skipped: counted and described too.
// Both are decided here from the event alone, so the live projector and a rebuild decide the
// same for every event (rebuild equivalence).
//
// Thread-safety: a BatchBuilder is used by one thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/event_store_client.h"
#include "readmodel/read_model_store.h"
#include "tracker/event_reader.h"

namespace dt::readmodel {

// Replaces each U+0000 and each byte that is not part of a well-formed UTF-8 sequence with
// U+FFFD. Returns true when `s` changed.
bool RepairText(std::string& s);

namespace detail {

// Where each key's row is in its vector: open addressing over (hash, position) in one array;
// the key itself is compared in the row, never copied. For BatchBuilder.
class RowIndex {
 public:
  // The position of the row whose key hashes to `hash` and for which `same(position)` holds;
  // when there is none, `next` is recorded as that key's position and returned with true.
  template <typename Same>
  std::pair<size_t, bool> Find(uint64_t hash, size_t next, Same same) {
    if ((used_ + 1) * 2 > slots_.size()) Resize(std::max<size_t>(slots_.size() * 2, 64));
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.position == 0) {
        s = Slot{hash, static_cast<uint32_t>(next + 1)};
        ++used_;
        return {next, true};
      }
      if (s.hash == hash && same(s.position - 1)) return {s.position - 1, false};
    }
  }
  void clear();
  // Room for `n` keys without growing.
  void reserve(size_t n);

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t position = 0;  // + 1; 0: empty
  };
  void Resize(size_t slots);  // a power of two
  std::vector<Slot> slots_;
  size_t used_ = 0;
};

}  // namespace detail

class BatchBuilder {
 public:
  // Adds `e` if it is a domain event; `next_seq` is incremented for each event added.
  // Returns true if it was added.
  bool Add(const client::ResolvedEvent& e, int64_t& next_seq);
  // Same, taking the event's data without a copy.
  bool Add(client::ResolvedEvent&& e, int64_t& next_seq);
  // Same, copying from the views what the rows keep.
  bool Add(const client::ResolvedEventView& e, int64_t& next_seq);
  Batch Take();
  // Gives back a batch that was written: its rows' strings are reused (assigned into, not
  // allocated anew) by later Add() calls, up to a bound; the rest is freed. A rebuild reads
  // millions of events through one builder, and allocating and freeing every row's strings
  // was about half of its reading thread's time.
  void Recycle(Batch&& spent);
  size_t size() const { return events_; }

  // A rebuild folds rows across batches: TakeEvents() takes only the event rows and leaves
  // the rows folded so far (newest state per key, balance deltas summed, exactly as within
  // one batch) for later events to fold into; TakeRows() takes those, each kind sorted by
  // its table's primary key (byte order, as SQLite's BINARY collation), so a store can write
  // them into its B-trees in key order. rows() is how many rows are held.
  Batch TakeEvents();
  Batch TakeRows();
  size_t rows() const {
    return batch_.contacts.size() + batch_.transactions.size() + batch_.settings.size() +
           batch_.balances.size();
  }

  // What Add() repaired or skipped since the last TakeProblems(), for the caller to log and
  // count (descriptions are kept for the first kMaxDescribed of each kind only).
  struct Problems {
    int64_t skipped = 0;
    int64_t repaired = 0;
    std::vector<std::string> skipped_what;   // "stream@number type: reason"
    std::vector<std::string> repaired_what;
    bool empty() const { return skipped == 0 && repaired == 0; }
  };
  static constexpr size_t kMaxDescribed = 20;
  const Problems& problems() const { return problems_; }
  Problems TakeProblems();

 private:
  Batch batch_;
  size_t events_ = 0;
  void AddBalance(const tracker::Transaction& t, int64_t sign);
  bool Skip(const client::ResolvedEventView& e, std::string_view reason);
  // Add(); with `owned` (the event `e` views), its stream, type and data are moved out of
  // it, else copied.
  bool AddEvent(const client::ResolvedEventView& e, client::ResolvedEvent* owned,
                int64_t& next_seq);
  Problems problems_;
  // Rows given back by Recycle(), whose strings keep their buffers.
  std::vector<tracker::Contact> spare_contacts_;
  std::vector<tracker::Transaction> spare_transactions_;
  std::vector<EventRow> spare_events_;
  tracker::Transaction previous_;  // an update's state before, for its balance change
  tracker::EventReader reader_;
  detail::RowIndex contact_index_, transaction_index_, setting_index_, balance_index_;
};

}  // namespace dt::readmodel
