#include "store_http/atom.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <ctime>

#include "common/text_codec.h"
#include "http/url.h"

namespace dt::store_http {

using nlohmann::json;

Embed ParseEmbed(const std::optional<std::string>& v) {
  if (!v) return Embed::kNone;
  std::string l;
  for (char c : *v) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (l == "content") return Embed::kContent;
  if (l == "rich") return Embed::kRich;
  if (l == "body") return Embed::kBody;
  if (l == "pretty" || l == "prettybody") return Embed::kPretty;
  if (l == "tryharder") return Embed::kTryHarder;
  return Embed::kNone;
}

std::string FormatTime(int64_t us) {
  if (us <= 0) return "0001-01-01T00:00:00Z";
  time_t secs = static_cast<time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000);
}

std::string FormatAllPosition(store::Position p) { return fmt::format("{:016X}{:016X}", p, p); }

std::optional<store::Position> ParseAllPosition(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  uint64_t halves[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    char c = text[i];
    int v = (c >= '0' && c <= '9') ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (v < 0) return std::nullopt;
    halves[i / 16] = halves[i / 16] * 16 + static_cast<uint64_t>(v);
  }
  if (halves[1] > halves[0]) return std::nullopt;  // prepare never after commit
  return halves[0];
}

std::string DumpJson(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string StreamUrl(std::string_view base, std::string_view stream) {
  return fmt::format("{}/streams/{}", base, http::PercentEncode(stream));
}

namespace {

json Link(std::string uri, std::string_view relation) {
  return json{{"uri", std::move(uri)}, {"relation", relation}};
}

// The body as EventStoreDB shows it: JSON objects optionally pretty-printed (2 spaces).
std::optional<std::string> Pretty(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return DumpJson(j, 2);
}

json ParsedOrString(const std::string& text) {
  if (text.empty()) return "";
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return text;
  return j;
}

// "updated" of a feed: the time of its newest event (entries are newest first).
std::string FeedUpdated(const std::vector<store::RecordedEvent>& events, store::Direction d) {
  if (events.empty()) return FormatTime(0);
  return FormatTime(d == store::Direction::kBackward ? events.front().created_us : events.back().created_us);
}

// EventStoreDB's forward stream feed takes "updated" from the first event it read (the
// oldest of the page).
std::string ForwardStreamFeedUpdated(const std::vector<store::RecordedEvent>& events) {
  return FormatTime(events.empty() ? 0 : events.front().created_us);
}

}  // namespace

json EntryContent(const store::RecordedEvent& e) {
  return json{{"eventStreamId", e.stream},
              {"eventNumber", e.number},
              {"eventType", e.type},
              {"eventId", e.id.ToString()},
              {"data", e.is_json ? ParsedOrString(e.data) : json(e.data)},
              {"metadata", e.is_json ? ParsedOrString(e.metadata) : json(e.metadata)}};
}

json Entry(const store::RecordedEvent& e, std::string_view base, Embed embed, bool single) {
  json entry = json::object();
  if (embed > Embed::kContent) {
    bool is_json = e.is_json;
    entry["eventId"] = e.id.ToString();
    entry["eventType"] = e.type;
    entry["eventNumber"] = e.number;
    if (embed >= Embed::kBody) {
      std::optional<std::string> data;
      if (is_json) {
        data = embed >= Embed::kPretty ? Pretty(e.data) : std::nullopt;
        if (!data) data = e.data;
      } else if (embed >= Embed::kTryHarder) {
        // The text as it is, pretty JSON (and isJson) when it turns out to be an object.
        data = Pretty(e.data);
        if (data) {
          is_json = true;
        } else {
          data = e.data;
        }
      }
      if (data) entry["data"] = *data;
    }
    entry["streamId"] = e.stream;
    entry["isJson"] = is_json;
    entry["isMetaData"] = embed >= Embed::kBody && !e.metadata.empty();
    entry["isLinkMetaData"] = false;
    entry["positionEventNumber"] = e.number;
    entry["positionStreamId"] = e.stream;
    if (embed >= Embed::kBody && !e.metadata.empty()) {
      std::optional<std::string> meta = embed >= Embed::kPretty ? Pretty(e.metadata) : std::nullopt;
      entry["metaData"] = meta ? *meta : e.metadata;
    }
  }
  std::string id = fmt::format("{}/{}", StreamUrl(base, e.stream), e.number);
  entry["title"] = fmt::format("{}@{}", e.number, e.stream);
  entry["id"] = id;
  entry["updated"] = FormatTime(e.created_us);
  entry["author"] = json{{"name", "EventStore"}};
  entry["summary"] = e.type;
  if ((single || embed == Embed::kContent) && e.is_json) {
    entry["content"] = json{{"eventStreamId", e.stream}, {"eventNumber", e.number},
                            {"eventType", e.type}, {"eventId", e.id.ToString()},
                            {"data", ParsedOrString(e.data)}, {"metadata", ParsedOrString(e.metadata)}};
  }
  entry["links"] = json::array({Link(id, "edit"), Link(id, "alternate")});
  return entry;
}

namespace {
// A page's entries, newest first whatever the direction it was read in.
json Entries(const std::vector<store::RecordedEvent>& events, store::Direction d, std::string_view base,
             Embed embed) {
  json entries = json::array();
  if (d == store::Direction::kBackward) {
    for (const auto& e : events) entries.push_back(Entry(e, base, embed));
  } else {
    for (auto it = events.rbegin(); it != events.rend(); ++it) entries.push_back(Entry(*it, base, embed));
  }
  return entries;
}
}  // namespace

namespace {

// A feed without its entries (the entries member is added by the callers).
json StreamFeedSkeleton(const StreamFeedArgs& a) {
  const auto& events = a.slice->events;
  std::string self = StreamUrl(a.base, a.stream);
  json feed;
  feed["title"] = fmt::format("Event stream '{}'", a.stream);
  feed["id"] = self;
  feed["updated"] = a.direction == store::Direction::kBackward ? FeedUpdated(events, a.direction)
                                                              : ForwardStreamFeedUpdated(events);
  feed["streamId"] = a.stream;
  feed["author"] = json{{"name", "EventStore"}};
  feed["headOfStream"] = a.head_of_stream;
  if (a.direction == store::Direction::kBackward) feed["selfUrl"] = self;
  if (!a.etag.empty()) feed["eTag"] = a.etag;
  json links = json::array();
  links.push_back(Link(self, "self"));
  links.push_back(Link(fmt::format("{}/head/backward/{}", self, a.count), "first"));
  const int64_t last = a.slice->last_number;
  const int64_t count = static_cast<int64_t>(a.count);
  if (a.direction == store::Direction::kBackward) {
    int64_t prev = std::min(a.from, last) + 1;
    if (!a.slice->end_of_stream) {
      int64_t next = a.slice->next_number >= 0 ? a.slice->next_number : a.from - count;
      links.push_back(Link(fmt::format("{}/0/forward/{}", self, a.count), "last"));
      links.push_back(Link(fmt::format("{}/{}/backward/{}", self, next, a.count), "next"));
    }
    links.push_back(Link(fmt::format("{}/{}/forward/{}", self, prev, a.count), "previous"));
  } else {
    int64_t prev = std::min(a.from + count - 1, last) + 1;
    int64_t next = a.from - 1;
    if (next >= 0) {
      links.push_back(Link(fmt::format("{}/0/forward/{}", self, a.count), "last"));
      links.push_back(Link(fmt::format("{}/{}/backward/{}", self, next, a.count), "next"));
    }
    if (!a.slice->end_of_stream || !events.empty())
      links.push_back(Link(fmt::format("{}/{}/forward/{}", self, prev, a.count), "previous"));
  }
  links.push_back(Link(self + "/metadata", "metadata"));  // EventStoreDB: for $$ streams too
  feed["links"] = std::move(links);
  return feed;
}

json AllFeedSkeleton(const AllFeedArgs& a) {
  const auto& events = a.slice->events;
  std::string self = StreamUrl(a.base, "$all");
  json feed;
  feed["title"] = "All events";
  feed["id"] = self;
  feed["updated"] = FeedUpdated(events, a.direction);
  feed["author"] = json{{"name", "EventStore"}};
  feed["headOfStream"] = a.head;
  json links = json::array();
  links.push_back(Link(self, "self"));
  links.push_back(Link(fmt::format("{}/head/backward/{}", self, a.count), "first"));
  const std::string zero = FormatAllPosition(0);
  if (a.direction == store::Direction::kBackward) {
    if (!a.slice->end_of_log) {
      links.push_back(Link(fmt::format("{}/{}/forward/{}", self, zero, a.count), "last"));
      links.push_back(Link(fmt::format("{}/{}/backward/{}", self,
                                       FormatAllPosition(a.slice->next_position), a.count), "next"));
    }
    links.push_back(Link(fmt::format("{}/{}/forward/{}", self, FormatAllPosition(a.from), a.count),
                         "previous"));
  } else {
    if (a.from != 0) {
      links.push_back(Link(fmt::format("{}/{}/forward/{}", self, zero, a.count), "last"));
      links.push_back(Link(fmt::format("{}/{}/backward/{}", self, FormatAllPosition(a.from), a.count),
                           "next"));
    }
    if (!a.slice->end_of_log || !events.empty()) {
      links.push_back(Link(fmt::format("{}/{}/forward/{}", self,
                                       FormatAllPosition(a.slice->next_position), a.count),
                           "previous"));
    }
  }
  links.push_back(Link(self + "/metadata", "metadata"));
  feed["links"] = std::move(links);
  return feed;
}

// JSON text of a string, byte for byte as DumpJson writes it: valid UTF-8 as it is, with
// '"', '\\' and control characters escaped; other text through nlohmann (U+FFFD).
void AppendString(std::string& out, std::string_view s) {
  if (!simdjson::validate_utf8(s.data(), s.size())) {
    out += DumpJson(json(std::string(s)));
    return;
  }
  AppendJsonString(out, s);
}

// An embed=body entry of a feed, as DumpJson(Entry(e, base, Embed::kBody)) writes it (keys
// in nlohmann's sorted order), without building the tree.
void AppendBodyEntry(std::string& out, const store::RecordedEvent& e, std::string_view base) {
  const std::string id = fmt::format("{}/{}", StreamUrl(base, e.stream), e.number);
  const std::string number = std::to_string(e.number);
  out += R"({"author":{"name":"EventStore"},)";
  if (e.is_json) {
    out += R"("data":)";
    AppendString(out, e.data);
    out += ',';
  }
  out += R"("eventId":")";
  out += e.id.ToString();
  out += R"(","eventNumber":)";
  out += number;
  out += R"(,"eventType":)";
  AppendString(out, e.type);
  out += R"(,"id":)";
  AppendString(out, id);
  out += e.is_json ? R"(,"isJson":true)" : R"(,"isJson":false)";
  out += R"(,"isLinkMetaData":false)";
  out += e.metadata.empty() ? R"(,"isMetaData":false)" : R"(,"isMetaData":true)";
  out += R"(,"links":[{"relation":"edit","uri":)";
  AppendString(out, id);
  out += R"(},{"relation":"alternate","uri":)";
  AppendString(out, id);
  out += "}]";
  if (!e.metadata.empty()) {
    out += R"(,"metaData":)";
    AppendString(out, e.metadata);
  }
  out += R"(,"positionEventNumber":)";
  out += number;
  out += R"(,"positionStreamId":)";
  AppendString(out, e.stream);
  out += R"(,"streamId":)";
  AppendString(out, e.stream);
  out += R"(,"summary":)";
  AppendString(out, e.type);
  out += R"(,"title":)";
  AppendString(out, number + "@" + e.stream);
  out += R"(,"updated":")";
  out += FormatTime(e.created_us);
  out += "\"}";
}

// The feed's text: the skeleton's with the entries written into its (empty) entries member.
std::string FeedText(json feed, const std::vector<store::RecordedEvent>& events,
                     store::Direction d, std::string_view base, Embed embed) {
  if (embed != Embed::kBody) {
    feed["entries"] = Entries(events, d, base, embed);
    return DumpJson(feed);
  }
  feed["entries"] = json::array();
  std::string skeleton = DumpJson(feed);
  // Inside strings every '"' is escaped, so the first match is the member itself.
  static constexpr std::string_view kEmpty = R"("entries":[])";
  size_t at = skeleton.find(kEmpty);
  std::string out;
  size_t bytes = 0;
  for (const auto& e : events) {
    bytes += e.data.size() + e.metadata.size() + 2 * e.stream.size() + 400;
  }
  out.reserve(skeleton.size() + bytes);
  out.append(skeleton, 0, at + kEmpty.size() - 1);
  bool first = true;
  auto add = [&](const store::RecordedEvent& e) {
    if (!first) out += ',';
    first = false;
    AppendBodyEntry(out, e, base);
  };
  if (d == store::Direction::kBackward) {
    for (const auto& e : events) add(e);
  } else {
    for (auto it = events.rbegin(); it != events.rend(); ++it) add(*it);
  }
  out.append(skeleton, at + kEmpty.size() - 1, std::string::npos);
  return out;
}

}  // namespace

json StreamFeed(const StreamFeedArgs& a) {
  json feed = StreamFeedSkeleton(a);
  feed["entries"] = Entries(a.slice->events, a.direction, a.base, a.embed);
  return feed;
}

json AllFeed(const AllFeedArgs& a) {
  json feed = AllFeedSkeleton(a);
  feed["entries"] = Entries(a.slice->events, a.direction, a.base, a.embed);
  return feed;
}

std::string StreamFeedText(const StreamFeedArgs& a) {
  return FeedText(StreamFeedSkeleton(a), a.slice->events, a.direction, a.base, a.embed);
}

std::string AllFeedText(const AllFeedArgs& a) {
  return FeedText(AllFeedSkeleton(a), a.slice->events, a.direction, a.base, a.embed);
}

}  // namespace dt::store_http
