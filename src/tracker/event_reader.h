// EventReader: reads the data of domain events (JSON text) fast, for the paths every event
// passes: the projector (live batches and rebuilds) and the commands that load an
// aggregate's last event.
//
// simdjson parses and fully validates the text into its tape, and only the members asked for
// are copied out; no DOM of nlohmann::json values is built (that cost ~60k instructions per
// event, most of the projector's and a fifth of a write's CPU).
//
// It decides as the nlohmann path (json::parse, then ContactFromJson / TransactionFromJson of
// a member, model.h) does, value for value, for every event this API writes and for any JSON
// object, except:
//  - a top-level member asked for with String() that is not a string counts as absent
//    (nlohmann's `value(key, "")` threw there, which stopped the projector);
//  - integers that need more than 64 bits, anywhere in the text, make it unreadable
//    (nlohmann read them as floats), and "-0" is a float (nlohmann: the integer 0).
// Duplicate member names: the last one wins, as in nlohmann.
//
// Thread-safety: one EventReader per thread (it owns simdjson's buffers). What String()
// returns is valid until the next Parse().
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "tracker/model.h"

namespace dt::tracker {

class EventReader {
 public:
  EventReader();
  ~EventReader();
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  // Parses `data`; false when it is not valid JSON or not an object.
  bool Parse(std::string_view data);

  // After a successful Parse() (ContactAt / TransactionAt set every member of `out` that the
  // JSON holds and clear the others, so a reused object ends as a fresh one would; its
  // strings' buffers are reused):
  // The top-level member `key` if it is a string, else nullopt.
  std::optional<std::string_view> String(std::string_view key) const;
  // ContactFromJson(data[key]): false when absent or not a contact.
  bool ContactAt(std::string_view key, Contact& out) const;
  // TransactionFromJson(data[key]).
  bool TransactionAt(std::string_view key, Transaction& out) const;
  // TransactionFromJson of data[key] with each member of data[overlay] (when that is an
  // object) put over it: an update's state before the change.
  bool TransactionAt(std::string_view key, std::string_view overlay, Transaction& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dt::tracker
