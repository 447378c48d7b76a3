// LiveContacts: which contacts the read model holds live, remembered in memory, so that a
// transaction's write can check its contact without a read-model query (and so without a
// worker thread: see Api::CreateTransaction).
//
// What it is for: with the remote event store TrackerService checks a transaction's contact
// in the read model (tracker_service.h); each such query cost a round trip to PostgreSQL (or
// a SQLite read) and made the write block, so it ran on the worker pool. This remembers the
// live contacts those queries found, and forgets them all whenever the projector applies an
// event of any contact (contacts change rarely; transactions often). An entry is therefore
// never older than what the read model itself says at that moment.
//
// Only while this instance's projector is active: it alone applies events then, so it sees
// every contact event. A standby instance (another one applies) asks the read model each
// time, and what was remembered before an instance lost the projector lock is dropped when
// it gets it again (Projector::Activations).
//
// Thread-safety: all methods from any thread. Lifetime: the store and projector outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "readmodel/projector.h"
#include "readmodel/read_model_store.h"
#include "tracker/model.h"

namespace dt::api {

class LiveContacts {
 public:
  LiveContacts(readmodel::ReadModelStore& store, const readmodel::Projector& projector,
               size_t max_entries = 200'000);

  // As ReadModelStore::GetContact (the TrackerService::ContactLookup): from memory when the
  // contact is known live, else from the read model (remembered when live).
  Result<std::optional<tracker::Contact>> Get(const std::string& user_id, const std::string& id);

  // The contact when it is known live, without asking the read model; nullopt otherwise.
  std::optional<tracker::Contact> Find(const std::string& user_id, const std::string& id);

  // From the projector's AppliedListener (after the batch committed): forgets every contact
  // when the batch has an event of a contact.
  void Applied(const std::vector<readmodel::EventRow>& events);

  size_t size() const;

  // While one lives, Get on this thread answers for that contact from it, without asking
  // anything: a caller that must not block (an I/O thread) pins what Find gave it.
  class Pin {
   public:
    Pin(const std::string& user_id, const tracker::Contact& contact);
    ~Pin();
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

   private:
    friend class LiveContacts;
    const std::string& user_id_;
    const tracker::Contact& contact_;
    const Pin* outer_;
  };

 private:
  bool Usable(uint64_t activations) const;  // REQUIRES(mu_)
  static std::string Key(const std::string& user_id, const std::string& id);

  readmodel::ReadModelStore& store_;
  const readmodel::Projector& projector_;
  const size_t max_entries_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, tracker::Contact> live_;  // GUARDED_BY(mu_)
  uint64_t generation_ = 0;   // GUARDED_BY(mu_): +1 on each forgetting
  uint64_t activations_ = 0;  // GUARDED_BY(mu_): Projector::Activations() of the entries
};

}  // namespace dt::api
