// Parsing of append requests (POST /streams/{stream}) and of the ES-/Kurrent- request
// headers. Pure functions over an http::Exchange, so the fuzz target drives them
// directly.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "common/uuid.h"
#include "http/exchange.h"
#include "store/store.h"

namespace dt::store_http {

// The value of "ES-<name>" or, when absent, "Kurrent-<name>"; nullopt when neither is set.
std::optional<std::string_view> EsHeader(const http::Exchange& ex, std::string_view name);

// ES-ExpectedVersion: absent → any (-2); -2, -1, -4 or N >= 0; anything else kInvalidArgument.
Result<int64_t> ParseExpectedVersion(const http::Exchange& ex);

// The true/false headers EventStoreDB checks on every stream request: RequireLeader
// (also ES-RequireMaster) and ResolveLinkTos, in both spellings. Their values do not
// change what a single node does, but anything other than true/false (any case) is a 400
// there, so it is here: the response to give, or nullopt.
std::optional<http::Response> CheckFlagHeaders(const http::Exchange& ex);

struct AppendRequest {
  int64_t expected_version = store::kExpectedAny;
  std::vector<store::EventData> events;
};

// The append the request asks for, or the response to give at once: 307 to
// {base}/streams/{stream}/incoming/{uuid} for a single event without an id, 400 for
// malformed input, 413 for an event over max_event_bytes, 415 for another content type.
// `id_from_path` is the {id} of /streams/{stream}/incoming/{id}.
std::variant<AppendRequest, http::Response> ParseAppendRequest(
    const http::Exchange& ex, std::string_view stream, std::optional<Uuid> id_from_path,
    size_t max_event_bytes, std::string_view base);

// The events of an application/vnd.eventstore.events+json body, read with simdjson: the
// same events the reference reading below gives (data and metadata as nlohmann dumps
// them: members sorted by key, the last of duplicates, no spaces), or nullopt whenever
// the body is not a well-formed list of valid events within max_event_bytes, or holds
// something this path leaves to the reference (floating-point numbers): the caller then
// takes the reference path, which finds the exact error. The fuzz target checks that
// both agree.
std::optional<std::vector<store::EventData>> ParseEventsFast(std::string_view body,
                                                              size_t max_event_bytes);
// The reference reading of such a body (nlohmann): the events, or the 400/413 to give.
std::variant<std::vector<store::EventData>, http::Response> ParseEventsReference(
    const std::string& body, size_t max_event_bytes);

// "http://<Host header>", or "http://<fallback>" without one.
std::string BaseUrl(const http::Exchange& ex, std::string_view fallback_host);

}  // namespace dt::store_http
