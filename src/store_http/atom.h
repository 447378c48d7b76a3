// Atom: the JSON documents of EventStoreDB's AtomPub API (stream feeds, $all feeds,
// entries) built from engine results. Pure functions: no I/O.
//
// Shapes follow EventStoreDB: a feed has title, id, updated, streamId, author{name},
// headOfStream, selfUrl, eTag, links[{uri, relation}] and entries (newest first in every
// page). An entry has title "{n}@{stream}", id, updated, author, summary (the event type)
// and links edit/alternate; `embed` adds fields (see Embed).
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace dt::store_http {

// ?embed= levels, in EventStoreDB's order.
enum class Embed { kNone, kContent, kRich, kBody, kPretty, kTryHarder };
Embed ParseEmbed(const std::optional<std::string>& value);  // unknown → kNone

// "2024-05-01T19:42:41.256511Z" (microseconds, UTC).
std::string FormatTime(int64_t unix_us);

// $all positions: 32 upper-case hex digits (16 commit + 16 prepare). Ours are both the
// record's byte offset. Parse accepts either half equal or a prepare of 0..commit.
std::string FormatAllPosition(store::Position p);
std::optional<store::Position> ParseAllPosition(std::string_view text);

// Serialises JSON; bytes that are not UTF-8 (stream names, types and bodies are stored
// as given) become U+FFFD instead of an exception.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

// "{base}/streams/{percent-encoded stream}"
std::string StreamUrl(std::string_view base, std::string_view stream);

// `single`: the entry is the whole answer (GET /streams/{s}/{n}), which always carries
// the content of a JSON event, whatever the embed level.
nlohmann::json Entry(const store::RecordedEvent& e, std::string_view base, Embed embed, bool single = false);
// {eventStreamId, eventNumber, eventType, eventId, data, metadata}: the `content` of an entry.
nlohmann::json EntryContent(const store::RecordedEvent& e);

struct StreamFeedArgs {
  std::string_view base;
  std::string_view stream;
  const store::StreamSlice* slice;
  int64_t from = 0;      // resolved: for a backward read from head, the stream's last number
  size_t count = 20;
  store::Direction direction = store::Direction::kBackward;
  bool head_of_stream = false;
  std::string etag;      // "" for none
  Embed embed = Embed::kNone;
};
nlohmann::json StreamFeed(const StreamFeedArgs& a);
// DumpJson(StreamFeed(a)), byte for byte; embed=body entries are written without a tree.
std::string StreamFeedText(const StreamFeedArgs& a);

struct AllFeedArgs {
  std::string_view base;
  const store::AllSlice* slice;
  store::Position from = 0;  // as read (backward: exclusive upper bound)
  size_t count = 20;
  store::Direction direction = store::Direction::kBackward;
  bool head = false;         // the page ends at the head of the log
  Embed embed = Embed::kNone;
};
nlohmann::json AllFeed(const AllFeedArgs& a);
// DumpJson(AllFeed(a)), byte for byte; embed=body entries are written without a tree.
std::string AllFeedText(const AllFeedArgs& a);

}  // namespace dt::store_http
