#include "store_http/append_request.h"

#include <fmt/format.h>

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <charconv>
#include <cstring>
#include <memory>
#include <span>
#include <nlohmann/json.hpp>

#include "common/text_codec.h"
#include "store_http/atom.h"

namespace dt::store_http {

using http::ErrorResponse;
using http::HttpStatus;
using nlohmann::json;

std::optional<std::string_view> EsHeader(const http::Exchange& ex, std::string_view name) {
  // "ES-<name>", then "Kurrent-<name>", built on the stack (names are short).
  char buf[64];
  auto find = [&](std::string_view prefix) {
    if (prefix.size() + name.size() > sizeof buf) return ex.request.end();
    std::memcpy(buf, prefix.data(), prefix.size());
    std::memcpy(buf + prefix.size(), name.data(), name.size());
    return ex.request.find(boost::beast::string_view(buf, prefix.size() + name.size()));
  };
  auto it = find("ES-");
  if (it == ex.request.end()) it = find("Kurrent-");
  if (it == ex.request.end()) return std::nullopt;
  return std::string_view(it->value().data(), it->value().size());
}

Result<int64_t> ParseExpectedVersion(const http::Exchange& ex) {
  auto h = EsHeader(ex, "ExpectedVersion");
  if (!h) return store::kExpectedAny;
  std::string_view v = *h;
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  bool ok = ec == std::errc() && p == v.data() + v.size() && !v.empty();
  if (!ok || (n < 0 && n != store::kExpectedAny && n != store::kExpectedNoStream &&
              n != store::kExpectedStreamExists)) {
    return Status::InvalidArgument(
        fmt::format("ES-ExpectedVersion header in wrong format: '{}' (use -2 any, -1 no stream, "
                    "-4 stream exists, or an event number >= 0)", std::string(v.substr(0, 40))));
  }
  return n;
}

std::optional<http::Response> CheckFlagHeaders(const http::Exchange& ex) {
  static constexpr const char* kFlags[] = {"ES-RequireLeader", "Kurrent-RequireLeader", "ES-RequireMaster",
                                           "ES-ResolveLinkTos", "Kurrent-ResolveLinkTos"};
  for (const char* name : kFlags) {
    auto it = ex.request.find(name);
    if (it == ex.request.end()) continue;
    auto v = it->value();
    if (boost::beast::iequals(v, "true") || boost::beast::iequals(v, "false")) continue;
    return ErrorResponse(HttpStatus::bad_request, fmt::format("{} header in wrong format.", name));
  }
  return std::nullopt;
}

std::string BaseUrl(const http::Exchange& ex, std::string_view fallback_host) {
  std::string_view host = ex.Header("Host");
  bool sane = !host.empty() && host.size() < 256;
  for (char c : host) {
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == '"' || c == '\\') sane = false;
  }
  std::string_view h = sane ? host : fallback_host;
  std::string out;
  out.reserve(7 + h.size());
  out.append("http://").append(h);
  return out;
}

namespace {

std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  std::string out(type.size(), '\0');
  size_t n = 0;
  for (char c : type) {
    if (c != ' ' && c != '\t') out[n++] = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  out.resize(n);
  return out;
}

// data/metadata of an event in a JSON array, as EventStoreDB stores them: objects and
// arrays as JSON text; a string holding a JSON object or array as that JSON (clients that
// send `JSON.stringify(x)` get the same event as those that send `x`); any other string as
// its characters, not JSON; null or absent as nothing. Numbers and booleans are kept as
// JSON text (EventStoreDB drops them).
std::string BodyOf(const json& v, bool* is_json) {
  *is_json = false;
  if (v.is_null()) return {};
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    json inner = json::parse(s, nullptr, false);
    if (!inner.is_discarded() && (inner.is_object() || inner.is_array())) {
      *is_json = true;
      return DumpJson(inner);
    }
    return s;
  }
  *is_json = true;
  return DumpJson(v);
}

http::Response Bad(std::string_view message) { return ErrorResponse(HttpStatus::bad_request, message); }

}  // namespace

std::variant<std::vector<store::EventData>, http::Response> ParseEventsReference(
    const std::string& body, size_t max_event_bytes) {
  json arr = json::parse(body, nullptr, false);
  if (arr.is_discarded()) return Bad("Write request body invalid: malformed JSON");
  if (!arr.is_array()) return Bad("Write request body invalid: expected a JSON array of events");
  if (arr.empty()) return Bad("Write request body invalid: no events");
  std::vector<store::EventData> events;
  events.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const json& e = arr[i];
    if (!e.is_object()) return Bad(fmt::format("Write request body invalid: event {} is not an object", i));
    auto id_it = e.find("eventId");
    if (id_it == e.end() || !id_it->is_string())
      return Bad(fmt::format("Write request body invalid: event {} has no eventId", i));
    auto id = Uuid::Parse(id_it->get<std::string>());
    if (!id || id->IsNil())
      return Bad(fmt::format("Write request body invalid: eventId '{}' of event {} is not a UUID",
                             id_it->get<std::string>().substr(0, 64), i));
    auto type_it = e.find("eventType");
    if (type_it == e.end() || !type_it->is_string() || type_it->get<std::string>().empty())
      return Bad(fmt::format("Write request body invalid: event {} has no eventType", i));
    store::EventData d;
    d.id = *id;
    d.type = type_it->get<std::string>();
    // One flag for both, as EventStoreDB has it: JSON when the data or the metadata is.
    bool data_json = false, meta_json = false;
    if (auto it = e.find("data"); it != e.end()) d.data = BodyOf(*it, &data_json);
    if (auto it = e.find("metadata"); it != e.end()) d.metadata = BodyOf(*it, &meta_json);
    d.is_json = data_json || meta_json;
    if (d.data.size() + d.metadata.size() > max_event_bytes) {
      return ErrorResponse(HttpStatus::payload_too_large,
                           fmt::format("Event too large: {} bytes (limit {} bytes per event)",
                                       d.data.size() + d.metadata.size(), max_event_bytes));
    }
    events.push_back(std::move(d));
  }
  return events;
}

namespace {

namespace sj = simdjson::dom;

// A UTF-8 encoded surrogate (U+D800..U+DFFF, from a \u escape): nlohmann refuses those
// that are not a proper pair; leave every such text to the reference path.
bool HasSurrogate(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  while ((p = static_cast<const char*>(std::memchr(p, 0xED, static_cast<size_t>(end - p))))) {
    if (p + 1 < end && (static_cast<unsigned char>(p[1]) & 0xE0) == 0xA0) return true;
    ++p;
  }
  return false;
}

// A string as nlohmann's dump writes it (ensure_ascii off).
bool DumpString(std::string_view s, std::string& out) {
  if (HasSurrogate(s)) return false;
  out.reserve(out.size() + s.size() + 2);
  AppendJsonString(out, s);
  return true;
}

// A value as nlohmann's dump(-1) of its parse writes it: objects as std::map holds them
// (sorted by key, the last of duplicate keys), integers exact. False for what is left
// to the reference path (doubles, surrogates).
bool DumpValue(sj::element v, std::string& out) {
  switch (v.type()) {
    case sj::element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (sj::element item : sj::array(v)) {
        if (!first) out.push_back(',');
        first = false;
        if (!DumpValue(item, out)) return false;
      }
      out.push_back(']');
      return true;
    }
    case sj::element_type::OBJECT: {
      // Members sorted by key, stable (the last of duplicates is found by position).
      // Small objects (the usual event) are sorted in place on the stack.
      using Member = std::pair<std::string_view, sj::element>;
      constexpr size_t kInline = 16;
      std::array<Member, kInline> inline_members;
      std::vector<Member> heap_members;
      sj::object obj(v);
      size_t count = 0;
      for (sj::key_value_pair kv : obj) {
        if (count < kInline) {
          inline_members[count] = {kv.key, kv.value};
        } else {
          if (count == kInline) heap_members.assign(inline_members.begin(), inline_members.end());
          heap_members.emplace_back(kv.key, kv.value);
        }
        ++count;
      }
      Member* begin = count <= kInline ? inline_members.data() : heap_members.data();
      std::span<Member> members(begin, count);
      if (count <= kInline) {  // insertion sort: stable, no allocation
        for (size_t i = 1; i < count; ++i) {
          for (size_t j = i; j > 0 && members[j].first < members[j - 1].first; --j) {
            std::swap(members[j], members[j - 1]);
          }
        }
      } else {
        std::stable_sort(members.begin(), members.end(),
                         [](const Member& a, const Member& b) { return a.first < b.first; });
      }
      out.push_back('{');
      bool first = true;
      for (size_t i = 0; i < members.size(); ++i) {
        if (i + 1 < members.size() && members[i + 1].first == members[i].first) continue;
        if (!first) out.push_back(',');
        first = false;
        if (!DumpString(members[i].first, out)) return false;
        out.push_back(':');
        if (!DumpValue(members[i].second, out)) return false;
      }
      out.push_back('}');
      return true;
    }
    case sj::element_type::STRING:
      return DumpString(std::string_view(v), out);
    case sj::element_type::INT64:
      out += std::to_string(int64_t(v));
      return true;
    case sj::element_type::UINT64:
      out += std::to_string(uint64_t(v));
      return true;
    case sj::element_type::BOOL:
      out += bool(v) ? "true" : "false";
      return true;
    case sj::element_type::NULL_VALUE:
      out += "null";
      return true;
    case sj::element_type::DOUBLE:
      return false;  // number formatting is left to nlohmann
  }
  return false;
}

// BodyOf over a simdjson value. A string that might hold a JSON object or array (it has
// a '{' or '[') is left to the reference, which parses it.
bool FastBodyOf(sj::element v, std::string& out, bool* is_json) {
  *is_json = false;
  if (v.is_null()) return true;
  if (v.is_string()) {
    std::string_view s(v);
    if (HasSurrogate(s) || s.find_first_of("{[") != std::string_view::npos) return false;
    out.assign(s);
    return true;
  }
  *is_json = true;
  return DumpValue(v, out);
}

}  // namespace

std::optional<std::vector<store::EventData>> ParseEventsFast(std::string_view body,
                                                              size_t max_event_bytes) {
  // One parser and one padded copy of the body per thread: no allocation once warm.
  thread_local sj::parser parser;
  thread_local std::unique_ptr<char[]> padded;
  thread_local size_t padded_size = 0;
  if (body.size() + simdjson::SIMDJSON_PADDING > padded_size) {
    padded_size = std::max<size_t>(4096, 2 * (body.size() + simdjson::SIMDJSON_PADDING));
    padded = std::make_unique<char[]>(padded_size);
  }
  std::memcpy(padded.get(), body.data(), body.size());
  std::memset(padded.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  sj::element root;
  if (parser.parse(padded.get(), body.size(), false).get(root) != simdjson::SUCCESS) return std::nullopt;
  sj::array arr;
  if (root.get_array().get(arr) != simdjson::SUCCESS || arr.size() == 0) return std::nullopt;
  std::vector<store::EventData> events;
  events.reserve(arr.size());
  for (sj::element e : arr) {
    sj::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
    // The last member of each name counts, as in the reference.
    sj::element id_v, type_v, data_v, meta_v;
    bool has_id = false, has_type = false, has_data = false, has_meta = false;
    for (sj::key_value_pair kv : obj) {
      if (kv.key == "eventId") {
        id_v = kv.value;
        has_id = true;
      } else if (kv.key == "eventType") {
        type_v = kv.value;
        has_type = true;
      } else if (kv.key == "data") {
        data_v = kv.value;
        has_data = true;
      } else if (kv.key == "metadata") {
        meta_v = kv.value;
        has_meta = true;
      }
    }
    std::string_view id_text, type_text;
    if (!has_id || id_v.get_string().get(id_text) != simdjson::SUCCESS) return std::nullopt;
    if (!has_type || type_v.get_string().get(type_text) != simdjson::SUCCESS || type_text.empty() ||
        HasSurrogate(type_text)) {
      return std::nullopt;
    }
    auto id = Uuid::Parse(id_text);
    if (!id || id->IsNil()) return std::nullopt;
    store::EventData d;
    d.id = *id;
    d.type.assign(type_text);
    bool data_json = false, meta_json = false;
    if (has_data && !FastBodyOf(data_v, d.data, &data_json)) return std::nullopt;
    if (has_meta && !FastBodyOf(meta_v, d.metadata, &meta_json)) return std::nullopt;
    d.is_json = data_json || meta_json;
    if (d.data.size() + d.metadata.size() > max_event_bytes) return std::nullopt;
    events.push_back(std::move(d));
  }
  return events;
}

std::variant<AppendRequest, http::Response> ParseAppendRequest(
    const http::Exchange& ex, std::string_view stream, std::optional<Uuid> id_from_path,
    size_t max_event_bytes, std::string_view base) {
  if (stream.empty()) return Bad("Stream name is empty");
  if (stream == "$all") return Bad("Cannot write to $all");
  AppendRequest req;
  // Most appends carry no ES-/Kurrent- header at all: one look at the names spares the
  // seven lookups below.
  bool es_headers = false;
  for (const auto& f : ex.request) {
    auto name = f.name_string();
    if ((name.size() > 3 && boost::beast::iequals(name.substr(0, 3), "ES-")) ||
        (name.size() > 8 && boost::beast::iequals(name.substr(0, 8), "Kurrent-"))) {
      es_headers = true;
      break;
    }
  }
  req.expected_version = store::kExpectedAny;
  if (es_headers) {
    if (auto bad = CheckFlagHeaders(ex)) return std::move(*bad);
    auto ev = ParseExpectedVersion(ex);
    if (!ev.ok()) return Bad(ev.status().message());
    req.expected_version = *ev;
  }

  const std::string media = MediaType(ex.Header("Content-Type"));
  const std::string& body = ex.request.body();
  auto too_large = [&](size_t bytes) {
    return ErrorResponse(HttpStatus::payload_too_large,
                         fmt::format("Event too large: {} bytes (limit {} bytes per event)", bytes,
                                     max_event_bytes));
  };

  // EventStoreDB reads a JSON array of events from its event, events and atom JSON types.
  if (media == "application/vnd.eventstore.events+json" || media == "application/vnd.kurrent.events+json" ||
      media == "application/vnd.eventstore.event+json" || media == "application/vnd.kurrent.event+json" ||
      media == "application/vnd.eventstore.atom+json" || media == "application/vnd.kurrent.atom+json") {
    if (auto fast = ParseEventsFast(body, max_event_bytes)) {
      req.events = std::move(*fast);
      return req;
    }
    auto events = ParseEventsReference(body, max_event_bytes);
    if (auto* r = std::get_if<http::Response>(&events)) return std::move(*r);
    req.events = std::move(std::get<std::vector<store::EventData>>(events));
    return req;
  }

  bool is_json = media == "application/json" || media == "text/json";
  if (!is_json && media != "application/octet-stream") {
    if (media.find("xml") != std::string::npos) {
      return ErrorResponse(HttpStatus::unsupported_media_type, "Unsupported Media Type: XML is not supported, use JSON");
    }
    return ErrorResponse(HttpStatus::unsupported_media_type,
                         fmt::format("Unsupported Media Type '{}': use application/vnd.eventstore.events+json, "
                                     "application/json or application/octet-stream",
                                     media.substr(0, 80)));
  }
  auto type = EsHeader(ex, "EventType");
  if (!type || type->empty()) {
    return Bad("Must include an event type with the request either in body or as ES-EventType header.");
  }
  std::optional<Uuid> id = id_from_path;
  if (!id) {
    if (auto h = EsHeader(ex, "EventId")) {
      id = Uuid::Parse(*h);
      if (!id || id->IsNil()) return Bad("ES-EventId header in wrong format: not a UUID");
    }
  }
  if (body.size() > max_event_bytes) return too_large(body.size());
  if (is_json && json::parse(body, nullptr, false).is_discarded()) {
    return Bad("Write request body invalid: malformed JSON");
  }
  if (!id) {
    http::Response r = http::MakeResponse(HttpStatus::temporary_redirect, {}, "text/plain; charset=utf-8");
    r.reason("Temporary Redirect");
    r.set(http::bhttp::field::location,
          fmt::format("{}/incoming/{}", StreamUrl(base, stream), Uuid::Random().ToString()));
    return r;
  }
  store::EventData d;
  d.id = *id;
  d.type = std::string(*type);
  d.data = body;
  d.is_json = is_json;
  req.events.push_back(std::move(d));
  return req;
}

}  // namespace dt::store_http
