// Projection: turns domain events into read-model rows. Pure: no I/O.
//
// Events carry the aggregate's whole state (see tracker/events.h), so each event becomes
// one row upsert (the newest state per id wins within a batch) plus one row of the events
// table. Transaction events also change balances: + the new state's amount, - the old
// state's (an update's old state is its new state with the `previous` values put back). Events of other streams (users, idempotency claims, foreign streams) are skipped.
//
// Event data is read with tracker::EventReader (simdjson), not parsed into a DOM.
//
// Thread-safety: a BatchBuilder is used by one thread.
#pragma once

#include <string>
#include <unordered_map>

#include "client/event_store_client.h"
#include "readmodel/read_model_store.h"
#include "tracker/event_reader.h"

namespace dt::readmodel {

class BatchBuilder {
 public:
  // Adds `e` if it is a domain event; `next_seq` is incremented for each event added.
  // Returns true if it was added.
  bool Add(const client::ResolvedEvent& e, int64_t& next_seq);
  // Same, taking the event's data without a copy.
  bool Add(client::ResolvedEvent&& e, int64_t& next_seq);
  Batch Take();
  size_t size() const { return events_; }

 private:
  Batch batch_;
  size_t events_ = 0;
  void AddBalance(const tracker::Transaction& t, int64_t sign);
  tracker::EventReader reader_;
  std::unordered_map<std::string, size_t> contact_index_, transaction_index_, setting_index_,
      balance_index_;
};

}  // namespace dt::readmodel
